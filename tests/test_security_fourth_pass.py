"""Attacks by anonymous callers and logged-in users on the less guarded surfaces, each performed for real.

A body of many megabytes sent, without logging in, to a path that merely ends in ``/upload``; an
admin's API token without the ``admin`` scope reaching other users' runs, connections and triggers
through routes that looked the caller up again by name; datastore queries carrying SQL that
SQLAlchemy writes out as given (custom operators, suffixes, hints, unquoted names, custom types);
table filters that match nothing, piling up in the server's memory; table edits with a list for a
column; a shared user flooding a card with comments; the download of a table its flow did not
offer for download; a schedule missed for a month; and, in Chromium, text typed and uploaded by one
user rendered for another, and the content security policy itself.

The server runs under uvicorn on a loopback port (or the library is called directly, for datastore
queries and schedules). alice owns things, bob is in her group ``analysts``, carol is a stranger
and root is an admin.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import quoted_name

import flowdeck
import headless_flows
from fixtures.server_support import CHURN_CSV, CHURN_FLOW, PASSWORDS, add_people, element_id, http_login, serving
from flowdeck import StoreInterface
from flowdeck.auth.users import Principal
from flowdeck.errors import AccessError
from flowdeck.server import create_app, routes_tables
from flowdeck.store import comments as comment_service
from flowdeck.store import connections as connection_service
from flowdeck.store import tables as table_service
from flowdeck.triggers import ScheduleTrigger
from flowdeck.triggers.base import CheckContext

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REACTIVE = f"{FIXTURES / 'callback_flows.py'}:reactive"
BIG_TABLE = f"{FIXTURES / 'table_flows.py'}:big_table"
ECHO = f"{FIXTURES / 'hostile_input_flows.py'}:echo"
PRIVATE_TABLE = f"{FIXTURES / 'hostile_input_flows.py'}:private_table"


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    """The server's base URL, with alice, bob, carol and root."""
    add_people()
    app = create_app([REACTIVE, BIG_TABLE, ECHO, PRIVATE_TABLE, CHURN_FLOW])
    with serving(app) as url:
        yield url
    app.state.flowdeck.executor.shutdown(wait=True)


@pytest.fixture
def people(server: str) -> Iterator[dict[str, httpx.Client]]:
    """A logged-in HTTP client per person."""
    clients = {name: http_login(server, name) for name in PASSWORDS}
    yield clients
    for client in clients.values():
        client.close()


def _wait_idle(client: httpx.Client, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/api/runs/{run_id}").json()
        if not status["busy"] and status["state"] not in ("running", "acting", "pending"):
            return status
        assert time.monotonic() < deadline, f"run {run_id} still busy: {status}"
        time.sleep(0.05)


def _start(client: httpx.Client, flow: str) -> str:
    response = client.post("/api/runs", json={"flow": flow})
    assert response.status_code == 201, response.text
    run_id = response.json()["flow_id"]
    _wait_idle(client, run_id)
    return run_id


def _page(client: httpx.Client, run_id: str, step: str) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}/steps/{quote(step)}/page")
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(server: str, session: httpx.Client, scopes: list[str]) -> httpx.Client:
    minted = session.post("/api/tokens", json={"scopes": scopes})
    assert minted.status_code == 201, minted.text
    return httpx.Client(base_url=server, timeout=60, headers={"Authorization": f"Bearer {minted.json()['token']}"})


# --- request bodies: only the upload route takes more than max_json_bytes --------------------------


def test_a_json_body_sent_to_any_other_path_ending_in_upload_is_refused_before_it_is_read(
    server: str, people: dict[str, httpx.Client]
) -> None:
    # The attack: 6 MiB of JSON (a list of millions of numbers, several times its size once parsed)
    # to the comment route with the comment id "upload", without logging in. The body limit used to
    # take the upload limit (200 MiB) for every path ending in "/upload", and FastAPI parses a JSON
    # body before the route's dependencies authenticate the caller.
    body = b'{"text": "x", "pad": [' + b"0," * (3 * 1024 * 1024) + b"0]}"
    json_type = {"content-type": "application/json"}
    with httpx.Client(base_url=server, timeout=60) as anonymous:
        for method, path in (("PATCH", "/api/runs/x/comments/upload"), ("DELETE", "/api/runs/x/comments/upload")):
            refused = anonymous.request(method, path, content=body, headers=json_type)
            assert refused.status_code == 413, (method, refused.text[:300])
            assert refused.json()["error"] == "PayloadTooLarge"
            assert "over the limit of 1,048,576" in refused.json()["detail"]
            assert "max_json_bytes" in refused.json()["detail"]
    alice = people["alice"]
    refused = alice.patch("/api/runs/x/comments/upload", content=body, headers=json_type)
    assert refused.status_code == 413

    # The upload route itself keeps the upload limit: a 2 MiB file goes through.
    run_id = _start(alice, "Customer churn")
    lines = CHURN_CSV.read_bytes().splitlines(keepends=True)
    data = lines[0] + b"".join(lines[1:] * (2 * 1024 * 1024 // len(b"".join(lines[1:])) + 1))
    assert len(data) > 2 * 1024 * 1024
    uploaded = alice.post(
        f"/api/runs/{run_id}/steps/{quote('Upload customers')}/elements/{quote('Customer data')}/upload",
        files={"file": ("customers.csv", data, "text/csv")},
    )
    assert uploaded.status_code == 200, uploaded.text[:300]


# --- an admin's token without the admin scope is a plain user everywhere --------------------------


def test_an_admin_token_without_the_admin_scope_reaches_no_other_users_runs_connections_or_triggers(
    server: str, people: dict[str, httpx.Client]
) -> None:
    alice, root = people["alice"], people["root"]
    run_id = _start(alice, "Reactive")
    flowdeck.add_connection("warehouse", type="sqlite", owner="alice", database="warehouse.db")
    ScheduleTrigger("0 6 * * *", name="alice-nightly").configure(app_id="Reactive", user_id="alice").start()
    plain = _bearer(server, root, ["read", "write"])

    # Forking copies a run's outputs, pages and uploads into a run of the caller's: it used to look
    # the caller up by name, as the admin, and fork anyone's run.
    forked = plain.post(f"/api/runs/{run_id}/fork", json={"step": "Choose"})
    unknown = plain.post(f"/api/runs/{'0' * 32}/fork", json={"step": "Choose"})
    assert forked.status_code == unknown.status_code == 404, forked.text
    assert forked.json()["detail"].replace(run_id, "X") == unknown.json()["detail"].replace("0" * 32, "X")

    # Connections: list, shares, share, test and remove acted as the admin.
    assert plain.get("/api/connections").json() == []
    owner = {"owner": "alice"}
    for response in (
        plain.get("/api/connections/warehouse/shares", params=owner),
        plain.post("/api/connections/warehouse/share", params=owner, json={"users": ["carol"]}),
        plain.post("/api/connections/warehouse/test", params=owner),
        plain.delete("/api/connections/warehouse", params=owner),
    ):
        assert response.status_code == 404, response.text
        assert response.json() == {"error": "NotFoundError", "detail": "no connection 'warehouse' of user 'alice'"}
    assert [(c.name, c.owner, c.shared_with) for c in connection_service.list_connections("root")] == [
        ("warehouse", "alice", [])
    ]
    # Params naming files on the server are an admin's: not a token's without the admin scope.
    server_file = plain.post(
        "/api/connections",
        json={"name": "mine", "type": "postgresql", "host": "db.example.com", "params": {"sslrootcert": "/etc/x"}},
    )
    assert server_file.status_code == 403 and server_file.json()["error"] == "AccessError", server_file.text
    assert "only an admin may set them" in server_file.json()["detail"]

    # Triggers: listing showed, and pause paused, every user's.
    assert plain.get("/api/triggers").json() == []
    for response in (plain.get("/api/triggers/alice-nightly"), plain.post("/api/triggers/alice-nightly/pause")):
        assert response.status_code == 404 and "no trigger 'alice-nightly'" in response.json()["detail"]
    assert alice.get("/api/triggers/alice-nightly").json()["active"] is True

    # With the admin scope the same token is the admin.
    admin = _bearer(server, root, ["read", "write", "admin"])
    assert admin.post(f"/api/runs/{run_id}/fork", json={"step": "Choose"}).status_code == 201
    assert [c["name"] for c in admin.get("/api/connections").json()] == ["warehouse"]
    assert admin.post("/api/triggers/alice-nightly/pause").status_code == 204
    plain.close()
    admin.close()


# --- datastore queries: nothing SQLAlchemy writes out as given --------------------------------------


class _Base(DeclarativeBase):
    pass


class Sales(_Base):
    __tablename__ = "sales"
    row_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    region: Mapped[str] = mapped_column(sa.Text)


STOLEN = "(SELECT password_hash FROM users LIMIT 1)"


class _SpecOfItsOwn(sa.types.UserDefinedType):
    """A type whose column spec closes the CAST and reads another table."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return f"TEXT) || {STOLEN} || CAST(1 AS TEXT"


# Each reads the users table through the datastore asset "sales"; every one of them did before.
RAW_SQL = {
    "custom operator": (dict(select_=[Sales.row_id, Sales.region.op(f"|| {STOLEN} ||")("")]), "a custom operator"),
    "boolean operator": (
        dict(where_=Sales.row_id.bool_op("= 1 OR EXISTS(SELECT 1 FROM users) OR 1 =")(2)),
        "a custom operator",
    ),
    "suffix": (
        dict(select_=sa.select(Sales.region).suffix_with("UNION SELECT password_hash FROM users")),
        "prefix_with(), suffix_with() or a hint",
    ),
    "statement hint": (
        dict(select_=sa.select(Sales.region).with_statement_hint("UNION SELECT password_hash FROM users")),
        "prefix_with(), suffix_with() or a hint",
    ),
    "prefix": (dict(select_=sa.select(Sales.region).prefix_with("ALL")), "prefix_with(), suffix_with() or a hint"),
    "custom type": (dict(select_=[sa.cast(Sales.region, _SpecOfItsOwn())]), "the custom type _SpecOfItsOwn"),
    "unquoted column": (dict(select_=[sa.column(quoted_name(STOLEN, quote=False))]), "the unquoted name"),
    "unquoted label": (
        dict(select_=[Sales.region.label(quoted_name(f"x, {STOLEN} AS y", quote=False))]),
        "the unquoted name",
    ),
    "unquoted collation": (
        dict(select_=[Sales.region.collate(quoted_name(f"binary) || {STOLEN} || (1", quote=False))]),
        "the unquoted name",
    ),
    "extract field": (
        dict(select_=[sa.extract(f"year FROM '2020-01-01') || {STOLEN} || EXTRACT(year", Sales.region)]),
        "the extract() field",
    ),
    "function of a schema": (dict(select_=[sa.func.main.count(Sales.region)]), "a function of a schema"),
}


@pytest.fixture
def store(embedded: Path) -> StoreInterface:
    """alice's store on a finished run, with her datastore asset ``sales`` and a password in the users table."""
    add_people()
    flowdeck.register_flow(headless_flows.one_step)
    flow_id = flowdeck.run_headless("One step", "alice")
    alice = StoreInterface(flow_id, user="alice")
    alice.save_datastore_asset(pd.DataFrame({"row_id": [1, 2], "region": ["north", "south"]}), "sales")
    return alice


@pytest.mark.parametrize("attack", sorted(RAW_SQL))
def test_datastore_queries_cannot_carry_sql_that_is_written_out_as_given(store: StoreInterface, attack: str) -> None:
    arguments, named = RAW_SQL[attack]
    with pytest.raises(AccessError) as refused:
        store.query_datastore_asset(Sales, **arguments)
    message = str(refused.value)
    assert named in message and "is not allowed in select_ or where_" in message, message
    assert "$argon2" not in message
    # Queries of the model's columns, values bound as parameters, keep working.
    counted = store.query_datastore_asset(Sales, select_=[sa.func.count(Sales.row_id)], where_=[Sales.region != "x"])
    assert counted.iloc[0, 0] == 2
    assert store.query_datastore_asset(Sales, where_=Sales.region == "' OR 1=1 --").empty


# --- big tables: a filter per request, kept in memory -----------------------------------------------


def test_table_filters_that_match_nothing_do_not_pile_up_in_the_servers_memory(
    people: dict[str, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A filter that matches nothing holds no row positions, so a cache bounded by bytes kept one
    # entry for every text a user tried: 3,000 filters left 3,002 entries, each a pass over the table.
    monkeypatch.setattr(table_service, "RANKING_CACHE_ENTRIES", 20)
    table_service.forget_cached()
    alice = people["alice"]
    run_id = _start(alice, "Big table")
    table_id = element_id(_page(alice, run_id, "Show"), "Everything")
    rows = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/rows"
    for i in range(60):
        response = alice.get(rows, params={"q": f"nothing-here-{i:03d}-" + "z" * 150})
        assert response.status_code == 200 and response.json()["total_rows"] == 0
    assert len(table_service._rankings) <= 20
    found = alice.get(rows, params={"q": "row 1", "sort": "id", "desc": "true"}).json()
    assert found["total_rows"] > 0 and all("row 1" in r[3] for r in found["records"] if r[3])


# --- callbacks: an edit with a list for a column ----------------------------------------------------


def test_a_table_edit_with_a_list_or_an_object_is_a_422_not_a_server_error(people: dict[str, httpx.Client]) -> None:
    alice = people["alice"]
    run_id = _start(alice, "Reactive")
    before = _page(alice, run_id, "Choose")["page"]
    callbacks = f"/api/runs/{run_id}/callbacks"
    for edit in (
        {"row": 0, "column": ["item"], "value": "x"},
        {"row": 0, "column": {"item": 1}, "value": "x"},
        {"row": 0, "column": "item", "value": {"nested": [1, 2]}},
        {"row": 0, "column": "item", "value": ["a", "b"]},
    ):
        response = alice.post(callbacks, json={"kind": "edit_cell", "target": "Orders", "value": edit})
        assert response.status_code == 422, (edit, response.text)
        assert response.json()["error"] == "ValidationError"
        assert "takes a column label and one value" in response.json()["detail"]
    assert _page(alice, run_id, "Choose")["page"] == before
    edited = alice.post(
        callbacks, json={"kind": "edit_cell", "target": "Orders", "value": {"row": 0, "column": "item", "value": "x"}}
    )
    assert edited.status_code == 200, edited.text


# --- comments: a shared user flooding a card ----------------------------------------------------------


def test_a_card_holds_at_most_max_comments_whoever_floods_it(
    people: dict[str, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comment_service, "MAX_COMMENTS_PER_CARD", 5)
    alice, bob = people["alice"], people["bob"]
    run_id = _start(alice, "Reactive")
    assert alice.post(f"/api/runs/{run_id}/share", json={"groups": ["analysts"]}).status_code == 204
    cards = [c for s in _page(alice, run_id, "Choose")["page"]["sections"] for c in s["content"]]
    card_id = next(c["id"] for c in cards if c.get("show_comments"))
    url = f"/api/runs/{run_id}/cards/{card_id}/comments"
    for i in range(5):
        assert bob.post(url, json={"text": f"spam {i} " + "x" * 9_000}).status_code == 201
    refused = bob.post(url, json={"text": "one more"})
    assert refused.status_code == 422 and refused.json()["error"] == "ValidationError"
    assert refused.json()["detail"] == (
        "card 'Actions' has 5 comments, the most a card holds; delete some before adding more"
    )
    listed = alice.get(url).json()
    assert len(listed) == 5 and {c["author"] for c in listed} == {"bob"}
    # The run's owner deletes one, and the card takes a comment again.
    assert alice.delete(f"/api/runs/{run_id}/comments/{listed[0]['id']}").status_code == 204
    assert alice.post(url, json={"text": "mine"}).status_code == 201


# --- big-table downloads: only what the flow offers ---------------------------------------------------


def test_a_table_its_flow_made_with_downloadable_false_is_not_downloaded_whole(people: dict[str, httpx.Client]) -> None:
    alice = people["alice"]
    run_id = _start(alice, "Private table")
    table_id = element_id(_page(alice, run_id, "Show"), "Private rows")
    base = f"/api/runs/{run_id}/steps/Show/tables/{table_id}"
    for fmt in ("csv", "parquet"):
        refused = alice.get(base + "/download", params={"format": fmt})
        assert refused.status_code == 403, refused.text
        assert refused.json() == {
            "error": "AccessError",
            "detail": "table 'Private rows' of step 'Show' is not offered for download: "
            "its flow shows it with downloadable=False",
        }
    # The page shows it a page of rows at a time, as the web UI does.
    assert alice.get(base + "/rows", params={"limit": 10}).json()["total_rows"] == 300
    assert routes_tables.DOWNLOADS.in_flight("alice") == 0  # each refused download was counted out


# --- schedules: a month of missed times -------------------------------------------------------------

_ALICE = Principal("alice", "user", ())


def test_a_schedule_of_every_second_missed_for_a_month_is_caught_up_at_once() -> None:
    # Catching up used to step through every missed time: 2.6 million for a month of seconds, minutes
    # of the scheduler's time before any other trigger was looked at.
    now = dt.datetime(2025, 3, 1, 12, 0, 0, 500_000, tzinfo=dt.UTC)
    trigger = ScheduleTrigger("* * * * * *", name="every-second")
    started = time.perf_counter()
    check = trigger.check({"after": (now - dt.timedelta(days=30)).isoformat()}, CheckContext(_ALICE, now))
    assert time.perf_counter() - started < 1.0
    assert [f.key for f in check.firings] == ["cron:2025-03-01T12:00:00+00:00"]
    assert check.state == {"after": "2025-03-01T12:00:00+00:00"}
    # A time due exactly now fires; one not yet due does not.
    on_time = ScheduleTrigger("0 12 * * *", name="noon").check(
        {"after": "2025-02-27T12:00:00+00:00"}, CheckContext(_ALICE, now.replace(microsecond=0))
    )
    assert [f.key for f in on_time.firings] == ["cron:2025-03-01T12:00:00+00:00"]
    later = ScheduleTrigger("0 18 * * *", name="evening").check({"after": now.isoformat()}, CheckContext(_ALICE, now))
    assert later.firings == [] and later.next_check_at == dt.datetime(2025, 3, 1, 18, tzinfo=dt.UTC)


# --- attacks that held --------------------------------------------------------------------------------


def test_callbacks_aimed_past_the_current_step_or_at_forged_ids_do_nothing(people: dict[str, httpx.Client]) -> None:
    alice, carol = people["alice"], people["carol"]
    run_id = _start(alice, "Reactive")
    callbacks = f"/api/runs/{run_id}/callbacks"
    forged = alice.post(callbacks, json={"kind": "click", "target": "0" * 32})
    assert forged.status_code == 404 and "has no element '00000000" in forged.json()["detail"]
    assert carol.post(callbacks, json={"kind": "set_value", "target": "Region", "value": "west"}).status_code == 404
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    _wait_idle(alice, run_id)
    # The Region input belongs to the step before: neither a callback nor a value reaches it now.
    earlier = alice.post(callbacks, json={"kind": "set_value", "target": "Region", "value": "west"})
    assert earlier.status_code == 404 and "step 'Done' has no element 'Region'" in earlier.json()["detail"]
    value = alice.put(f"/api/runs/{run_id}/steps/Choose/elements/Region/value", json={"value": "west"})
    assert value.status_code == 409 and "is not the current step" in value.json()["detail"]
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    assert _wait_idle(alice, run_id)["state"] == "complete"
    done = alice.post(callbacks, json={"kind": "refresh"})
    assert done.status_code == 409, done.text
    region = next(
        e
        for s in _page(alice, run_id, "Choose")["page"]["sections"]
        for c in s["content"]
        for e in c["content"]
        if e["title"] == "Region"
    )
    assert region["value"] is None


def test_a_read_only_token_and_a_stranger_cannot_comment_fork_or_fire(
    server: str, people: dict[str, httpx.Client]
) -> None:
    alice, carol = people["alice"], people["carol"]
    run_id = _start(alice, "Reactive")
    reader = _bearer(server, alice, ["read"])
    for response in (
        reader.post(f"/api/runs/{run_id}/fork", json={"step": "Choose"}),
        reader.post(f"/api/runs/{run_id}/callbacks", json={"kind": "click", "target": "Notify"}),
        reader.post(f"/api/runs/{run_id}/cards/x/comments", json={"text": "hi"}),
    ):
        assert response.status_code == 403 and "lacks the 'write' scope" in response.json()["detail"]
    reader.close()
    cards = [c for s in _page(alice, run_id, "Choose")["page"]["sections"] for c in s["content"]]
    card_id = next(c["id"] for c in cards if c.get("show_comments"))
    for response in (
        carol.post(f"/api/runs/{run_id}/fork", json={"step": "Choose"}),
        carol.post(f"/api/runs/{run_id}/cards/{card_id}/comments", json={"text": "hi"}),
        carol.get(f"/api/runs/{run_id}/cards/{card_id}/comments"),
    ):
        assert response.status_code == 404 and response.json()["error"] == "NotFoundError"


# --- the browser: what one user typed, rendered for another --------------------------------------------

#: Chromium tests run, as the other browser tests do, with FLOWDECK_TEST_BROWSER=1.
IN_A_BROWSER = pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1")

HOSTILE_FILE = "<img src=x onerror=window.__pwned=1>.csv"
HOSTILE_CSV = b"<img src=x onerror=window.__pwned=2>,<b>b</b>\n<script>window.__pwned=3</script>,1\n"
HOSTILE_NOTE = (
    "<svg onload=window.__pwned=4>note</svg> [link](javascript:window.__pwned=5) "
    '<a href="javascript:window.__pwned=6">plot link</a>'
)
HOSTILE_COMMENT = "<img src=x onerror=window.__pwned=7> <script>window.__pwned=8</script>"


@pytest.mark.browser
@IN_A_BROWSER
def test_text_one_user_typed_and_uploaded_never_runs_in_anothers_browser(
    server: str, people: dict[str, httpx.Client]
) -> None:
    from test_server_browser import CHROMIUM, CHROMIUM_ARGS, log_in

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    # bob, whom alice's run is shared with, fills it with hostile text; alice opens it.
    alice, bob = people["alice"], people["bob"]
    run_id = _start(alice, "Echo")
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
    step = f"/api/runs/{run_id}/steps/Collect/elements"
    uploaded = bob.post(f"{step}/Data/upload", files={"file": (HOSTILE_FILE, HOSTILE_CSV, "text/csv")})
    assert uploaded.status_code == 200, uploaded.text
    assert bob.put(f"{step}/Note/value", json={"value": HOSTILE_NOTE}).status_code == 200
    cards = [c for s in _page(bob, run_id, "Collect")["page"]["sections"] for c in s["content"]]
    card_id = next(c["id"] for c in cards if c.get("show_comments"))
    comment = bob.post(f"/api/runs/{run_id}/cards/{card_id}/comments", json={"text": HOSTILE_COMMENT})
    assert comment.status_code == 201
    assert bob.post(f"/api/runs/{run_id}/next").status_code == 202
    assert _wait_idle(bob, run_id)["current_step"] == "Echo"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server)
        # Anything the policy had to block would mean hostile markup reached the page: none may.
        context.add_init_script(
            "window.__violations = []; document.addEventListener('securitypolicyviolation', "
            "e => window.__violations.push(e.violatedDirective));"
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page)

        page.goto(f"/runs/{run_id}/steps/Echo")
        expect(page.locator(".card-title").filter(has_text="onerror")).to_have_text(HOSTILE_FILE)
        expect(page.locator(".element-table")).to_contain_text("<script>window.__pwned=3</script>")
        expect(page.locator(".element-table")).to_contain_text("<img src=x onerror=window.__pwned=2>")
        expect(page.locator(".plot .main-svg").first).to_be_visible()
        links = page.locator(".plot a")
        if links.count():  # plotly's own markup: a javascript: link must not run when clicked
            links.first.click(force=True)
        page.locator(".markdown").hover()
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        body = "#page-body"
        dangerous = f"{body} script, {body} img, {body} iframe, {body} [onerror], {body} [onload], {body} [onclick]"
        assert page.locator(dangerous).count() == 0
        assert page.locator(f'{body} a[href^="javascript"]').count() == 0
        assert page.evaluate("""() => Array.from(document.querySelectorAll('#page-body a')).every(
            a => !/^\\s*javascript:/i.test(a.getAttribute('href') || a.getAttribute('xlink:href') || ''))""")
        assert page.evaluate("window.__violations") == []

        page.goto(f"/runs/{run_id}/steps/Collect")
        page.locator(".comments summary").click()
        expect(page.locator(".comment-text")).to_have_text(HOSTILE_COMMENT)
        expect(page.locator(".element-datasource")).to_contain_text(HOSTILE_FILE)
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator(dangerous).count() == 0
        assert page.evaluate("window.__violations") == []
        assert errors == []
        context.close()
        browser.close()


@pytest.mark.browser
@IN_A_BROWSER
def test_the_content_security_policy_blocks_inline_script_that_reaches_the_page(server: str) -> None:
    from test_server_browser import CHROMIUM, CHROMIUM_ARGS, log_in

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server)
        page = context.new_page()
        log_in(page)
        # Suppose a bug let markup through: an inline script, an inline handler, a javascript: link
        # and a script from another origin are all refused by the policy the server sends.
        outcome = page.evaluate(
            """async () => {
                const violations = [];
                document.addEventListener('securitypolicyviolation', e => violations.push(e.violatedDirective));
                const script = document.createElement('script');
                script.textContent = 'window.__inline = 1';
                document.body.appendChild(script);
                const holder = document.createElement('div');
                holder.innerHTML = '<img src="/static/favicon.svg" onload="window.__inline = 2">' +
                                   '<a id="jslink" href="javascript:window.__inline = 3">x</a>';
                document.body.appendChild(holder);
                document.getElementById('jslink').click();
                const remote = document.createElement('script');
                remote.src = 'https://cdn.example.com/x.js';
                document.body.appendChild(remote);
                await new Promise(resolve => setTimeout(resolve, 500));
                return {inline: typeof window.__inline, violations: violations};
            }"""
        )
        assert outcome["inline"] == "undefined"
        assert len(outcome["violations"]) >= 4, outcome
        assert {v.split("-")[0] for v in outcome["violations"]} == {"script"}
        context.close()
        browser.close()


def test_the_policy_is_sent_on_every_kind_of_answer(server: str, people: dict[str, httpx.Client]) -> None:
    with httpx.Client(base_url=server) as anonymous:
        answers = [
            anonymous.get("/"),
            anonymous.get("/static/app.js"),
            anonymous.get("/api/runs"),
            anonymous.post("/api/login", json={"name": "nobody", "password": "wrong"}),
        ]
    answers.append(people["alice"].get("/api/runs/nope"))
    for answer in answers:
        policy = answer.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0], answer
        assert "frame-ancestors 'none'" in policy and answer.headers["x-content-type-options"] == "nosniff"


def test_plain_text_of_an_upload_is_never_served_as_html(people: dict[str, httpx.Client]) -> None:
    bob = people["bob"]
    flowdeck.register_flow(headless_flows.one_step)
    flow_id = flowdeck.run_headless("One step", "bob")
    store = StoreInterface(flow_id, user="bob")
    asset_id = store.save_asset(flowdeck.Asset("<script>alert(1)</script>", "<b>x</b>", flowdeck.AssetType.OTHER))
    download = bob.get(f"/api/assets/{asset_id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["content-disposition"] == 'attachment; filename="_b_x__b_-v1.txt"'
    assert download.headers["x-content-type-options"] == "nosniff"
