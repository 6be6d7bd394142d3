"""Pages as clients get them: each callback is a marker of its kind and declared metadata, never the
module, qualified name or file its code lives in.

A page's callbacks are stored by reference (``CallbackRef``): module, qualified name and, for a flow
loaded from a file, the file's path on the server. Everyone who may view a run reads its pages, so
every route that sends page, card or element JSON (the page the web UI loads, element values and
uploads, callback outcomes, the run's event stream) sends markers instead. The checks run over a
real server (uvicorn on loopback) as the run's owner (alice) and as bob, whom she shares it with,
and show that the callbacks still fire and redraw, through the API and in Chromium.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from fixtures.server_support import PASSWORDS, add_people, http_login, serving, sse_events, wait_idle
from flowdeck import Button, Card, Dropdown, Page, RichText, Section, Table
from flowdeck.elements.callbacks import CallbackRef
from flowdeck.elements.outputs import RowAction
from flowdeck.server import redaction
from flowdeck.server.redaction import client_document, client_page, client_text

TESTS = Path(__file__).resolve().parent
CALLBACKS = f"{TESTS / 'callback_flows.py'}:callbacks_flow"
REACTIVE = f"{TESTS / 'fixtures' / 'callback_flows.py'}:reactive"
ORDERS_CSV = b"order,amount\n1,10\n2,20\n"


# --- what the stored references are -----------------------------------------------------------------


def _references(document: Any) -> Iterator[dict[str, Any]]:
    """Every stored function reference in decoded page JSON."""
    if isinstance(document, dict):
        if document.get("callback_type") == "function" and "qualname" in document:
            yield document
        for value in document.values():
            yield from _references(value)
    elif isinstance(document, list):
        for item in document:
            yield from _references(item)


def _stored_references(run_id: str) -> list[dict[str, Any]]:
    """The references in every stored version of the run's pages (what the server keeps)."""
    from flowdeck.storage.deployment import get_storage
    from flowdeck.storage.schema import pages

    with get_storage().db.read() as conn:
        rows = conn.execute(sa.select(pages.c.document).where(pages.c.run_id == run_id)).all()
    return [ref for row in rows for ref in _references(json.loads(row.document))]


def _secrets(references: list[dict[str, Any]]) -> set[bytes]:
    """What no client may read: each callback's module, file, the file's folder and name, and its
    qualified name as a JSON string (the flows' own texts use some of those words, "uploaded 2 rows")."""
    found: set[bytes] = set()
    for ref in references:
        found |= {ref["module"].encode(), json.dumps(ref["qualname"]).encode()}
        if ref.get("file"):
            found |= {
                part.encode() for part in (ref["file"], os.path.dirname(ref["file"]), os.path.basename(ref["file"]))
            }
    return found


def _assert_hidden(bodies: dict[str, bytes], secrets: set[bytes]) -> None:
    assert secrets, "the flow stored no callback references"
    for where, body in bodies.items():
        leaked = sorted(secret for secret in secrets if secret in body)
        assert not leaked, f"{where} sends {leaked}"
        assert not [key for key in (b'"qualname":', b'"module":', b'"file":') if key in body], where


def _markers(document: Any) -> list[dict[str, Any]]:
    """Every function callback marker in decoded client JSON."""
    if isinstance(document, dict):
        if document.get("callback_type") == "function":
            return [document]
        return [m for value in document.values() for m in _markers(value)]
    if isinstance(document, list):
        return [m for item in document for m in _markers(item)]
    return []


def _card(page: dict[str, Any], title: str) -> dict[str, Any]:
    return next(card for section in page["sections"] for card in section["content"] if card["title"] == title)


def _element(page: dict[str, Any], title: str) -> dict[str, Any]:
    for section in page["sections"]:
        for card in section["content"]:
            for element in card.get("content", []) + card.get("filters", []):
                if element.get("title") == title:
                    return element
    raise AssertionError(f"no element {title!r}")


# --- the redaction on its own ------------------------------------------------------------------------


def _callbacks_module() -> Any:
    """tests/callback_flows.py loaded by file under a name no other process imports, as a flow file is
    loaded: its references name the file."""
    spec = importlib.util.spec_from_file_location("_flowdeck_redaction_probe", TESTS / "callback_flows.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sample_page() -> Page:
    cf = _callbacks_module()
    table = Table(
        pd.DataFrame({"a": [1, 2]}),
        title="Orders",
        row_actions=[RowAction("Open", "open it", "update"), cf.details, cf.order_details],
        on_row_select=cf.rows_selected,
    )
    page = Page(
        "Sample",
        [
            Section(
                "Main",
                [
                    Card(
                        "Controls",
                        [
                            Dropdown(["a", "b"], title="Region", required=False, page_update=cf.region_changed),
                            Button(title="Notify", on_click=cf.notify),
                            Button(title="Details", on_click=cf.details),
                        ],
                        page_update=cf.summary_update,
                    ),
                    Card("Orders", [table]),
                    Card("Note", [RichText('"qualname": not a callback', title="Note")]),
                ],
            )
        ],
    )
    page.on_auto_refresh = cf.refreshed
    return page


def test_each_reference_becomes_a_marker_of_its_kind_and_declared_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _sample_page().to_json()
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    references = list(_references(document))
    secrets = _secrets(references) - {b'"details"'}  # an untitled row action is shown by its name (below)
    assert any(secret.endswith(b"callback_flows.py") for secret in secrets) and len(references) == 8
    expected = client_document(document)

    def decoded(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a page as stored is redacted in its text, without decoding it")

    monkeypatch.setattr(redaction, "_redacted", decoded)
    sent = client_text(text)
    _assert_hidden({"client_text": sent.encode()}, secrets)
    assert sent.count('"details"') == 1
    client = json.loads(sent)
    assert client == expected
    assert client["on_auto_refresh"] == {
        "callback_type": "function",
        "meta": {"callback_type": "page_update", "refresh_rate_seconds": 5, "is_async": True},
    }
    assert _element(client, "Region")["page_update"]["meta"]["callback_type"] == "page_update"
    assert _element(client, "Notify")["on_click"]["meta"] == {"callback_type": "standard", "is_async": True}
    assert _card(client, "Controls")["page_update"]["meta"]["callback_type"] == "page_update"
    # A drilldown on a button is not named; a row action is shown by its title, or by its function's
    # name when it has none (as the UI labels it, and as the server picks it when it fires).
    assert "title" not in _element(client, "Details")["on_click"]
    plain, untitled, titled = _element(client, "Orders")["row_actions"]
    assert plain == {"title": "Open", "description": "open it", "type": "update"}
    assert untitled["title"] == "details" and untitled["meta"]["drilldown_type"] == "popover"
    assert "title" not in titled and titled["meta"]["row_action_title"] == "Order details"
    # Everything else is sent as stored, byte for byte.
    assert _element(client, "Note")["content"] == '"qualname": not a callback'
    for part in (_element(document, "Note"), _element(document, "Orders")["records"], document["sections"][0]["title"]):
        assert json.dumps(part, separators=(",", ":")) in sent


@pytest.mark.parametrize("user_key", [False, True], ids=["references only", "a qualname key of the page's own"])
@pytest.mark.parametrize(
    "reference",
    [
        {"module": "pkg.flows", "qualname": "Flows.on_go", "file": None},
        {"module": "_flowdeck_flowfile_1", "qualname": "go", "file": 'C:\\flows\\my "team"\\flow.py'},
        {"module": "flöws", "qualname": "gö", "file": "/srv/flöws/flow.py"},
    ],
    ids=["module", "windows file", "not ascii"],
)
def test_references_in_any_form_are_hidden(reference: dict[str, Any], user_key: bool) -> None:
    ref = CallbackRef(reference["module"], reference["qualname"], reference["file"], callback_type="drilldown")
    stored = ref.to_json()
    document: dict[str, Any] = {
        "schema_version": 2,
        "row_actions": [{"title": "Open", "description": "", "type": "update"}, stored, stored],
        "on_click": stored,
        "text": '{"callback_type":"function","module":"x","qualname":"y"}',
        "nested": [[{"row_actions": [stored]}, {"on_close": stored}]],
    }
    if user_key:
        document["value"] = {"qualname": "a user's own key"}
    expected = client_document(document)
    short = reference["qualname"].rpartition(".")[2]
    assert [m.get("title") for m in expected["row_actions"][1:]] == [short, short]
    assert expected["nested"][0][0]["row_actions"][0]["title"] == short
    assert "title" not in expected["on_click"] and "title" not in expected["nested"][0][1]["on_close"]
    assert expected["text"] == document["text"]
    forms = {
        "compact": json.dumps(document, separators=(",", ":")),
        "compact, not ASCII": json.dumps(document, separators=(",", ":"), ensure_ascii=False),
        "spaced": json.dumps(document),
        "keys sorted": json.dumps(document, sort_keys=True, separators=(",", ":")),
    }
    file_texts = [] if reference["file"] is None else [reference["file"], json.dumps(reference["file"])[1:-1]]
    for form, text in forms.items():
        sent = client_text(text)
        assert json.loads(sent) == expected, form
        assert '"module":"' + reference["module"] not in sent and '"file":' not in sent, form
        assert not [part for part in [reference["module"], *file_texts] if part in sent], form
        if "." in reference["qualname"]:
            assert reference["qualname"] not in sent, form


def test_a_page_is_redacted_once_while_its_stored_text_stays_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps(_sample_page().to_json(), separators=(",", ":"))
    calls: list[str] = []
    real = redaction.client_text
    monkeypatch.setattr(redaction, "client_text", lambda t: calls.append(t) or real(t))
    first = client_page("run-1", "Ask", text)
    again = client_page("run-1", "Ask", "".join([text[:10], text[10:]]))  # the same text, read again
    assert again is first and len(calls) == 1
    changed = text.replace('"title":"Sample"', '"title":"Changed"', 1)
    assert '"title":"Changed"' in client_page("run-1", "Ask", changed) and len(calls) == 2
    assert client_page("run-2", "Ask", text) == first and len(calls) == 3


def test_a_page_that_is_too_big_is_redacted_every_time_and_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "KEEP_CHARS", 400)
    text = json.dumps(_sample_page().to_json(), separators=(",", ":"))
    assert client_page("run-big", "Ask", text) == client_text(text)
    assert ("run-big", "Ask") not in redaction._pages


# --- over a running server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The callback flows served by uvicorn on loopback, on a fresh embedded deployment."""
    from flowdeck import configure
    from flowdeck.server import create_app
    from flowdeck.storage.deployment import reset_storage

    home = tmp_path_factory.mktemp("page-redaction")
    configure(home=str(home), database_url=None, blob_url=None)
    add_people()
    app = create_app([CALLBACKS, REACTIVE])
    try:
        with serving(app) as url:
            yield url
    finally:
        app.state.flowdeck.executor.shutdown(wait=True)
        reset_storage()


@pytest.fixture
def people(server: str) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: http_login(server, name) for name in ("alice", "bob")}
    yield clients
    for client in clients.values():
        client.close()


def _shared_run(people: dict[str, httpx.Client], flow: str) -> str:
    """A run of alice's, its first step done, shared with bob."""
    alice = people["alice"]
    response = alice.post("/api/runs", json={"flow": flow})
    assert response.status_code == 201, response.text
    run_id = response.json()["flow_id"]
    wait_idle(alice, run_id)  # type: ignore[arg-type]
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
    return run_id


class _Stream:
    """A user's event stream of a run, read on a thread in a session of its own: its raw text."""

    def __init__(self, server: str, name: str, run_id: str) -> None:
        self.text = ""
        self.client = http_login(server, name)
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(run_id,), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "the event stream did not open"

    def _read(self, run_id: str) -> None:
        with self.client.stream("GET", f"/api/runs/{run_id}/events") as response:
            assert response.status_code == 200
            self.opened.set()
            for chunk in response.iter_text():
                self.text += chunk

    def callbacks(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        """The first ``count`` callback events (waits for them)."""
        deadline = time.monotonic() + timeout
        while True:
            events = [data for kind, data in sse_events(self.text) if kind == "callback"]
            if len(events) >= count:
                return events
            assert time.monotonic() < deadline, f"{len(events)} callback events, expected {count}"
            time.sleep(0.05)

    def close(self) -> None:
        """Log the stream's session out: the server ends the stream (with a ``logout`` event)."""
        self.client.post("/api/logout")
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "the event stream stayed open after its session ended"
        self.client.close()


def _fire(client: httpx.Client, run_id: str, event: dict[str, Any]) -> httpx.Response:
    response = client.post(f"/api/runs/{run_id}/callbacks", json=event)
    assert response.status_code == 200, response.text
    return response


def test_no_route_sends_where_callbacks_live_and_the_callbacks_still_fire(
    server: str, people: dict[str, httpx.Client]
) -> None:
    run_id = _shared_run(people, "Callbacks")
    page_url = f"/api/runs/{run_id}/steps/Ask/page"
    bodies: dict[str, bytes] = {}
    alice, bob = people["alice"], people["bob"]
    alice_stream, bob_stream = _Stream(server, "alice", run_id), _Stream(server, "bob", run_id)
    try:
        for name, client in people.items():
            page = client.get(page_url)
            assert page.status_code == 200
            bodies[f"page as {name}"] = page.content
            shell = client.get(f"/runs/{run_id}/steps/Ask")  # the web UI's page, which reads the one above
            assert shell.status_code == 200 and "text/html" in shell.headers["content-type"]
            bodies[f"ui shell as {name}"] = shell.content
            bodies[f"run as {name}"] = client.get(f"/api/runs/{run_id}").content
            bodies[f"runs as {name}"] = client.get("/api/runs").content
            bodies[f"flows as {name}"] = client.get("/api/flows").content

        # The page the UI draws: each callback is there, with its kind and what its decorator declared.
        shown = json.loads(bodies["page as bob"])["page"]
        assert shown == json.loads(bodies["page as alice"])["page"]
        assert _element(shown, "Region")["page_update"] == {
            "callback_type": "function",
            "meta": {"callback_type": "page_update", "is_async": True},
        }
        assert shown["on_auto_refresh"]["meta"]["refresh_rate_seconds"] == 5
        assert _card(shown, "Filtered")["filter_update"]["meta"]["callback_type"] == "page_update"
        (row_action,) = _element(shown, "Orders")["row_actions"]
        assert row_action["meta"]["row_action_title"] == "Order details"
        assert _element(shown, "Open more")["on_click"] == {
            "callback_type": "container_toggle",
            "visible": True,
            "container_id": "more",
        }
        assert _element(shown, "Download")["on_click"]["asset"]["label"] == "orders"
        assert len(_markers(shown)) == 16

        # Element JSON: a value set, a file uploaded.
        value = bob.put(f"/api/runs/{run_id}/steps/Ask/elements/Region/value", json={"value": "east"})
        assert value.status_code == 200, value.text
        assert value.json()["element"]["page_update"]["meta"]["callback_type"] == "page_update"
        bodies["element value"] = value.content
        uploaded = bob.post(
            f"/api/runs/{run_id}/steps/Ask/elements/Data/upload", files={"file": ("orders.csv", ORDERS_CSV)}
        )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["element"]["on_upload_completion"]["callback_type"] == "function"
        bodies["element upload"] = uploaded.content

        # The callbacks fire as the UI fires them (by element and kind), and answer with what to redraw.
        update = _fire(bob, run_id, {"kind": "set_value", "target": "Region", "value": "west"})
        assert update.json()["kind"] == "page_update"
        summary = next(c for c in update.json()["changed_cards"] if c["title"] == "Summary")
        assert summary["content"][0]["content"] == "Region: west"
        assert summary["page_update"]["callback_type"] == "function"  # the redrawn card keeps its callback
        bodies["page_update outcome"] = update.content

        click = _fire(alice, run_id, {"kind": "click", "target": "Notify"})
        assert click.json()["kind"] == "standard" and click.json()["message"] == "sent to alice"
        bodies["on_click outcome"] = click.content

        drilldown = _fire(bob, run_id, {"kind": "drilldown", "target": "Orders", "input_data": {"row": 1}})
        assert drilldown.json()["kind"] == "drilldown"
        assert drilldown.json()["drilldown"]["card"]["content"][0]["content"] == "order 102 of bob"
        titled = _fire(
            bob, run_id, {"kind": "drilldown", "target": "Orders", "input_data": {"row": 2, "action": "Order details"}}
        )
        assert titled.json()["drilldown"]["card"]["content"][0]["content"] == "order 103 of cy"
        bodies["drilldown outcome"] = drilldown.content

        filtered = _fire(alice, run_id, {"kind": "filter", "target": "Filtered", "value": {"Minimum": "2"}})
        (card,) = filtered.json()["changed_cards"]
        assert card["title"] == "Filtered" and card["content"][0]["content"] == "at least 2"
        assert card["filter_update"]["callback_type"] == "function"
        bodies["filter_update outcome"] = filtered.content

        upload = _fire(bob, run_id, {"kind": "upload", "target": "Data"})
        assert next(c for c in upload.json()["changed_cards"] if c["title"] == "Summary")["content"][0]["content"] == (
            "uploaded 2 rows"
        )
        bodies["upload outcome"] = upload.content

        # Every follower of the run sees each outcome on its event stream and redraws those cards.
        for name, stream in (("alice", alice_stream), ("bob", bob_stream)):
            seen = stream.callbacks(6)
            assert [event["kind"] for event in seen][:6] == [
                "page_update",
                "standard",
                "drilldown",
                "drilldown",
                "page_update",
                "page_update",
            ]
            assert any(c["title"] == "Filtered" for c in seen[4]["changed_cards"])
            assert "drilldown" not in seen[2]  # a drilldown's card goes only to whoever opened it
            bodies[f"event stream as {name}"] = stream.text.encode()
        redrawn = json.loads(bob.get(page_url).content)["page"]
        assert _card(redrawn, "Summary")["content"][0]["content"] == "uploaded 2 rows"
        assert _card(redrawn, "Filtered")["content"][0]["content"] == "at least 2"
        assert _element(redrawn, "Region")["value"] == "west"
        bodies["page after the callbacks"] = bob.get(page_url).content
    finally:
        alice_stream.close()
        bob_stream.close()
    _assert_hidden(bodies, _secrets(_stored_references(run_id)))


def test_comments_and_the_reactive_page_hold_no_reference(people: dict[str, httpx.Client]) -> None:
    run_id = _shared_run(people, "Reactive")
    alice, bob = people["alice"], people["bob"]
    page = alice.get(f"/api/runs/{run_id}/steps/Choose/page")
    actions = _card(page.json()["page"], "Actions")["id"]
    added = bob.post(f"/api/runs/{run_id}/cards/{actions}/comments", json={"text": "looks right"})
    assert added.status_code == 201, added.text
    listed = alice.get(f"/api/runs/{run_id}/cards/{actions}/comments")
    assert [c["text"] for c in listed.json()] == ["looks right"]
    update = _fire(bob, run_id, {"kind": "set_value", "target": "Region", "value": "west"})
    assert _card({"sections": [{"content": update.json()["changed_cards"]}]}, "Summary")["content"][0]["content"] == (
        "Region: west"
    )
    drilldown = _fire(alice, run_id, {"kind": "drilldown", "target": "Orders", "input_data": {"order": 7}})
    assert drilldown.json()["drilldown"]["size"] == "small"
    _assert_hidden(
        {
            "page": page.content,
            "comment added": added.content,
            "comments": listed.content,
            "page_update outcome": update.content,
            "drilldown outcome": drilldown.content,
            "page as bob": bob.get(f"/api/runs/{run_id}/steps/Choose/page").content,
        },
        _secrets(_stored_references(run_id)),
    )


# --- in Chromium, as the user the run is shared with ----------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1")
def test_the_web_ui_fires_and_redraws_every_kind_of_callback_from_redacted_pages(
    server: str, people: dict[str, httpx.Client]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from test_server_browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    run_id = _shared_run(people, "Callbacks")
    bodies: dict[str, bytes] = {}

    def keep(route: Any) -> None:
        """Pass a request to the server and keep its answer as the browser gets it (streams pass through)."""
        if route.request.url.split("?")[0].endswith("/events"):
            route.continue_()
            return
        response = route.fetch()
        bodies[f"{route.request.method} {route.request.url} #{len(bodies)}"] = response.body()
        route.fulfill(response=response)

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server).new_page()
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto("/login")
            tab.get_by_label("User name").fill("bob")
            tab.get_by_label("Password").fill(PASSWORDS["bob"])
            tab.get_by_role("button", name="Sign in").click()
            tab.wait_for_url(lambda url: "/login" not in url)
            tab.route("**/api/**", keep)
            tab.goto(f"/runs/{run_id}/steps/Ask")
            tab.locator("#page-body[data-live=true]").wait_for()

            def card(title: str) -> Any:
                return tab.locator("#page-body [data-card-id]").filter(
                    has=tab.locator(f'.card-title:text-is("{title}")')
                )

            tab.get_by_role("combobox", name="Region", exact=True).select_option(label="west")  # page_update
            expect(card("Summary")).to_contain_text("Region: west")
            tab.get_by_role("button", name="Notify", exact=True).click()  # on_click
            expect(tab.locator(".toast.show")).to_have_text("sent to bob")
            tab.get_by_role("button", name="Actions for row 2").click()  # a row action's drilldown
            tab.get_by_role("menuitem", name="Order details").click()
            expect(tab.get_by_role("dialog")).to_contain_text("order 102 of bob")
            tab.keyboard.press("Escape")
            expect(tab.get_by_role("dialog")).to_have_count(0)
            card("Filtered").get_by_role("combobox", name="Minimum").select_option(label="2")  # filter_update
            expect(card("Filtered")).to_contain_text("at least 2")
        finally:
            browser.close()
    assert not errors, errors
    assert any("/steps/Ask/page" in where for where in bodies) and any("/callbacks" in where for where in bodies)
    _assert_hidden(bodies, _secrets(_stored_references(run_id)))
