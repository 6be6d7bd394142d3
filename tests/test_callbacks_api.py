"""The callback API: firing a page's callbacks over REST, the live ``callback``/``comment`` events,
comments on cards, and ``flowdeck click``."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import flowdeck
from conftest import BACKENDS, _truncate_all
from fixtures.server_support import FLOW_SPECS, PASSWORDS, login, sse_events, start_run, wait_idle
from flowdeck.auth.users import resolve_principal
from flowdeck.config import configure
from flowdeck.server import auth, create_app, routes_runs
from flowdeck.storage.deployment import reset_storage

CALLBACK_FLOWS = Path(__file__).resolve().parent / "fixtures" / "callback_flows.py"


@pytest.fixture(scope="module", params=[p for p in BACKENDS if p.values[0] in ("sqlite", "postgres")])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One deployment per backend for the whole module (its users' password hashes are slow to make)."""
    backend = request.param
    settings: dict[str, str | None] = {"home": str(tmp_path_factory.mktemp("home")), "database_url": None}
    if backend == "postgres":
        url = request.getfixturevalue("pg_deployment_url")
        _truncate_all(url)
        settings["database_url"] = url
    configure(blob_url=None, **settings)
    yield backend
    reset_storage()


@pytest.fixture(scope="module")
def server(deployment: str) -> Iterator[tuple[Any, dict[str, TestClient]]]:
    """A server offering the reactive flow, with clients for alice, bob (her group), carol and the admin root."""
    # alice logs in (a session with its CSRF token); the others use API tokens: password hashes are slow.
    flowdeck.add_user("alice", groups=["analysts"], password=PASSWORDS["alice"])
    flowdeck.add_user("bob", groups=["analysts"])
    flowdeck.add_user("carol")
    flowdeck.add_user("root", role="admin")
    app = create_app([*FLOW_SPECS, f"{CALLBACK_FLOWS}:reactive"])
    people = {"alice": login(app, "alice")}
    for name in ("bob", "carol", "root"):
        scopes = ["read", "write", "admin"] if name == "root" else ["read", "write"]
        token = auth.create_token(resolve_principal(name), "tests", scopes)[1]
        people[name] = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    yield app, people
    app.state.flowdeck.executor.shutdown(wait=True)
    app.state.flowdeck.callbacks.shutdown(wait=True)


@pytest.fixture
def app(server: tuple[Any, dict[str, TestClient]]) -> Any:
    """The server app."""
    return server[0]


@pytest.fixture
def people(server: tuple[Any, dict[str, TestClient]]) -> dict[str, TestClient]:
    """Logged-in clients by user name."""
    return server[1]


@pytest.fixture
def alice(people: dict[str, TestClient]) -> TestClient:
    """alice, logged in."""
    return people["alice"]


@pytest.fixture
def run_id(alice: TestClient) -> str:
    """A new run of alice's on the reactive page, shared with bob."""
    run_id = start_run(alice, "Reactive")
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
    return run_id


def _fire(client: TestClient, run_id: str, kind: str, target: str | None, **extra: Any) -> Any:
    return client.post(f"/api/runs/{run_id}/callbacks", json={"kind": kind, "target": target, **extra})


def _page(client: TestClient, run_id: str) -> dict[str, Any]:
    return client.get(f"/api/runs/{run_id}/steps/Choose/page").json()["page"]


def _card(page: dict[str, Any], title: str) -> dict[str, Any]:
    return next(card for section in page["sections"] for card in section["content"] if card["title"] == title)


# --- firing callbacks ------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgres")
def test_a_page_update_answers_with_only_the_card_it_changed(alice: TestClient, run_id: str) -> None:
    before = _page(alice, run_id)
    response = _fire(alice, run_id, "set_value", "Region", value="west")
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["kind"] == "page_update"
    # the card of the dropdown (its value) and the one its page update rewrote, in page order
    assert [card["title"] for card in outcome["changed_cards"]] == ["Filters", "Summary"]
    assert "Region: west" in json.dumps(outcome["changed_cards"][1])
    assert outcome["removed_cards"] == [] and outcome["message"] is None and outcome["drilldown"] is None
    after = _page(alice, run_id)
    assert "Region: west" in json.dumps(_card(after, "Summary"))
    assert _card(after, "Orders") == _card(before, "Orders")  # nothing else changed


@pytest.mark.backends("sqlite")
def test_a_standard_event_answers_with_its_message_and_a_drilldown_with_its_card(
    alice: TestClient, run_id: str
) -> None:
    clicked = _fire(alice, run_id, "click", "Notify")
    assert clicked.status_code == 200, clicked.text
    assert clicked.json()["kind"] == "standard" and clicked.json()["message"] == "Notified the team"
    assert clicked.json()["changed_cards"] == []

    before = alice.get(f"/api/runs/{run_id}/steps/Choose/page").content
    drilled = _fire(alice, run_id, "drilldown", "Orders", input_data={"order": 2, "item": "ink"})
    assert drilled.status_code == 200, drilled.text
    outcome = drilled.json()
    assert outcome["kind"] == "drilldown" and outcome["changed_cards"] == []
    assert outcome["drilldown"]["type"] == "modal" and outcome["drilldown"]["size"] == "small"
    assert "Order 2: ink" in json.dumps(outcome["drilldown"]["card"])
    assert alice.get(f"/api/runs/{run_id}/steps/Choose/page").content == before  # never saved on the page


@pytest.mark.backends("sqlite")
def test_a_failing_callback_is_422_and_only_the_owner_and_admins_see_the_traceback(
    people: dict[str, TestClient], alice: TestClient, run_id: str
) -> None:
    before = alice.get(f"/api/runs/{run_id}/steps/Choose/page").content
    failed = _fire(alice, run_id, "click", "Explode")
    assert failed.status_code == 422, failed.text
    body = failed.json()
    assert body["error"] == "CallbackError" and "the notify service is down" in body["detail"]
    assert "RuntimeError" in body["traceback"] and "explode" in body["traceback"]
    assert alice.get(f"/api/runs/{run_id}/steps/Choose/page").content == before

    shared = _fire(people["bob"], run_id, "click", "Explode").json()
    assert shared["error"] == "CallbackError" and "the notify service is down" in shared["detail"]
    assert shared["traceback"] is None
    assert "RuntimeError" in _fire(people["root"], run_id, "click", "Explode").json()["traceback"]


@pytest.mark.backends("sqlite")
def test_strangers_get_404_viewers_who_may_not_act_403_and_bad_events_400(
    people: dict[str, TestClient], alice: TestClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = _fire(people["carol"], run_id, "click", "Notify")
    unknown = _fire(people["carol"], "0" * 32, "click", "Notify")
    assert stranger.status_code == unknown.status_code == 404
    assert stranger.json()["detail"].replace(run_id, "X") == unknown.json()["detail"].replace("0" * 32, "X")

    bob = people["bob"]
    assert _fire(bob, run_id, "click", "Notify").status_code == 200  # shared: may act
    from flowdeck.auth import access

    viewing_only = access.can_act
    monkeypatch.setattr(access, "can_act", lambda conn, who, res: who.name != "bob" and viewing_only(conn, who, res))
    refused = _fire(bob, run_id, "click", "Notify")
    assert refused.status_code == 403 and "may view run" in refused.json()["detail"]
    assert bob.get(f"/api/runs/{run_id}").status_code == 200  # still sees it

    for body in ({"kind": "bogus", "target": "Notify"}, {"kind": "click"}, {"kind": "click", "target": 3}, [1]):
        response = alice.post(f"/api/runs/{run_id}/callbacks", json=body)
        assert response.status_code == 400, (body, response.text)
        assert "callback event" in response.json()["detail"] or "needs a target" in response.json()["detail"]
    not_json = alice.post(
        f"/api/runs/{run_id}/callbacks", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert _fire(alice, run_id, "click", "No such button").status_code == 404


@pytest.mark.backends("sqlite")
def test_callbacks_need_the_csrf_header(alice: TestClient, run_id: str) -> None:
    csrf = alice.headers.pop("X-CSRF-Token")
    refused = _fire(alice, run_id, "click", "Notify")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    alice.headers["X-CSRF-Token"] = csrf
    assert _fire(alice, run_id, "click", "Notify").status_code == 200


@pytest.mark.backends("sqlite")
def test_a_busy_run_or_a_step_not_awaiting_input_is_409(alice: TestClient, run_id: str) -> None:
    from flowdeck.flow.runner import claim_action, release_claim

    claim = claim_action(run_id, "alice", "next", handoff=True)
    try:
        busy = _fire(alice, run_id, "click", "Notify")
        assert busy.status_code == 409, busy.text
    finally:
        release_claim(claim)
    for _ in range(2):  # the results step, then the end of the run
        assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
        wait_idle(alice, run_id)
    assert alice.get(f"/api/runs/{run_id}").json()["state"] == "complete"
    done = _fire(alice, run_id, "click", "Notify")
    assert done.status_code == 409, done.text


# --- live events ---------------------------------------------------------------------------------


def _follow(client: TestClient, run_id: str, seconds: float, into: list[tuple[str, Any]]) -> threading.Thread:
    """Read the run's event stream for ``seconds`` in a thread (the stream ends after that long)."""

    def read() -> None:
        with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
            into.extend(sse_events(stream.read().decode()))

    thread = threading.Thread(target=read)
    thread.start()
    return thread


@pytest.mark.backends("sqlite", "postgres")
def test_other_followers_see_callback_and_comment_events(
    people: dict[str, TestClient], alice: TestClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test client hands over a stream once it has ended: it lasts long enough for the actions
    # below on a busy machine, and they start once the stream has subscribed to the run.
    monkeypatch.setattr(routes_runs, "STREAM_SECONDS", 4.0)
    subscribed = threading.Event()
    subscribe = routes_runs.live.subscribe

    def subscribe_and_tell(*args: Any, **kwargs: Any) -> Any:
        subscription = subscribe(*args, **kwargs)
        subscribed.set()
        return subscription

    monkeypatch.setattr(routes_runs.live, "subscribe", subscribe_and_tell)
    _fire(alice, run_id, "click", "Notify")  # before the stream opened: not sent to it
    seen: list[tuple[str, Any]] = []
    follower = _follow(people["bob"], run_id, 4.0, seen)
    assert subscribed.wait(10)
    assert _fire(alice, run_id, "set_value", "Region", value="east").status_code == 200
    drilled = _fire(alice, run_id, "drilldown", "Orders", input_data={"order": 1, "item": "pen"})
    assert drilled.status_code == 200
    actions = _card(_page(alice, run_id), "Actions")["id"]
    added = alice.post(f"/api/runs/{run_id}/cards/{actions}/comments", json={"text": "looks right"})
    assert added.status_code == 201
    follower.join(10)

    callbacks = [data for kind, data in seen if kind == "callback"]
    assert [c["kind"] for c in callbacks] == ["page_update", "drilldown"]
    assert callbacks[0]["by"] == "alice"
    assert [c["title"] for c in callbacks[0]["changed_cards"]] == ["Filters", "Summary"]
    assert all("drilldown" not in c and "download" not in c for c in callbacks)  # private to the caller
    comments = [data for kind, data in seen if kind == "comment"]
    assert comments == [{"action": "added", "comment": added.json(), "by": "alice"}]
    assert [kind for kind, _ in seen].count("status") >= 1


# --- comments ------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgres")
def test_comments_on_cards_follow_the_run_access_rules(
    people: dict[str, TestClient], alice: TestClient, run_id: str
) -> None:
    page = _page(alice, run_id)
    actions, plain = _card(page, "Actions")["id"], _card(page, "Plain")["id"]
    url = f"/api/runs/{run_id}/cards/{actions}/comments"
    bob, carol, root = people["bob"], people["carol"], people["root"]

    first = alice.post(url, json={"text": "Check the west numbers"})
    assert first.status_code == 201, first.text
    comment = first.json()
    assert (
        comment["author"] == "alice" and comment["card_id"] == actions and comment["text"] == "Check the west numbers"
    )
    assert set(comment) == {"id", "card_id", "author", "text", "created_at", "updated_at"}
    reply = bob.post(url, json={"text": "Done"}).json()
    assert [c["text"] for c in bob.get(url).json()] == ["Check the west numbers", "Done"]

    # a stranger sees neither the run nor its comments
    assert carol.get(url).status_code == 404
    assert carol.post(url, json={"text": "hi"}).status_code == 404
    assert carol.patch(f"/api/runs/{run_id}/comments/{comment['id']}", json={"text": "x"}).status_code == 404
    assert carol.delete(f"/api/runs/{run_id}/comments/{comment['id']}").status_code == 404

    # only cards shown with comments take them; empty text is refused
    no_comments = alice.post(f"/api/runs/{run_id}/cards/{plain}/comments", json={"text": "hi"})
    assert no_comments.status_code == 422 and "show_comments=True" in no_comments.json()["detail"]
    assert alice.post(f"/api/runs/{run_id}/cards/nope/comments", json={"text": "hi"}).status_code == 404
    assert alice.post(url, json={"text": "   "}).status_code == 422

    # the author edits; others may not
    edited = alice.patch(f"/api/runs/{run_id}/comments/{comment['id']}", json={"text": "Check east too"})
    assert edited.status_code == 200 and edited.json()["text"] == "Check east too"
    assert edited.json()["updated_at"] >= comment["updated_at"] and edited.json()["created_at"] == comment["created_at"]
    refused = bob.patch(f"/api/runs/{run_id}/comments/{comment['id']}", json={"text": "mine now"})
    assert refused.status_code == 403 and "only 'alice'" in refused.json()["detail"]

    # the author, the run's owner or an admin deletes
    assert bob.delete(f"/api/runs/{run_id}/comments/{comment['id']}").status_code == 403
    assert alice.delete(f"/api/runs/{run_id}/comments/{reply['id']}").status_code == 204  # the owner
    assert root.delete(f"/api/runs/{run_id}/comments/{comment['id']}").status_code == 204
    assert alice.get(url).json() == []
    assert alice.delete(f"/api/runs/{run_id}/comments/{comment['id']}").status_code == 404


@pytest.mark.backends("sqlite")
def test_the_library_functions_keep_the_same_comments(alice: TestClient, run_id: str) -> None:
    actions = _card(_page(alice, run_id), "Actions")["id"]
    made = flowdeck.add_comment(run_id, actions, "from a script", user="alice")
    assert [c.to_json() for c in flowdeck.list_comments(run_id, actions, user="bob")] == [made.to_json()]
    assert alice.get(f"/api/runs/{run_id}/cards/{actions}/comments").json() == [made.to_json()]
    assert flowdeck.edit_comment(run_id, made.id, "edited", user="alice").text == "edited"
    with pytest.raises(flowdeck.AccessError, match="only 'alice' may edit"):
        flowdeck.edit_comment(run_id, made.id, "hijacked", user="bob")
    with pytest.raises(flowdeck.NotFoundError, match=f"no run '{run_id}' visible to user 'carol'"):
        flowdeck.list_comments(run_id, actions, user="carol")
    flowdeck.delete_comment(run_id, made.id, user="alice")
    assert flowdeck.list_comments(run_id, actions, user="alice") == []
    flowdeck.add_comment(run_id, actions, "stays until the run goes", user="alice")
    assert alice.delete(f"/api/runs/{run_id}").status_code == 204  # comments go with the run


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.backends("sqlite")
def test_flowdeck_click_prints_the_message_and_set_shows_what_changed(
    people: dict[str, TestClient], alice: TestClient, run_id: str
) -> None:
    from flowdeck.cli import app as cli_app
    from flowdeck.cli.common import console

    width = console._width
    console.width = 200
    try:
        clicked = CliRunner().invoke(cli_app, ["click", run_id, "Notify", "--user", "alice"])
        assert clicked.exit_code == 0, clicked.output
        assert "Notified the team" in clicked.output

        failed = CliRunner().invoke(cli_app, ["click", run_id, "Explode", "--user", "alice"])
        assert failed.exit_code == 1
        stranger = CliRunner().invoke(cli_app, ["click", run_id, "Notify", "--user", "carol"])
        assert stranger.exit_code == 1 and isinstance(stranger.exception, flowdeck.NotFoundError)
        bad = CliRunner().invoke(cli_app, ["click", run_id, "Notify", "--data", "[1]", "--user", "alice"])
        assert bad.exit_code == 2

        moved = CliRunner().invoke(
            cli_app, ["next", run_id, "--user", "alice", "--set", "Region=west", "--no-interactive"]
        )
        assert moved.exit_code == 0, moved.output
        assert "page updated; changed cards: Filters, Summary" in moved.output and "Region: west" in moved.output
    finally:
        console._width = width


# --- the callback threads ------------------------------------------------------------------------


def test_a_users_callbacks_wait_for_their_share_while_others_run() -> None:
    from flowdeck.server.executor import CallbackPool

    pool = CallbackPool(max_workers=2, per_user=1)
    release = threading.Event()
    order: list[tuple[str, str]] = []

    def slow(name: str) -> str:
        order.append(("start", name))
        release.wait(10)
        order.append(("end", name))
        return name

    def quick(name: str) -> str:
        order.append(("start", name))
        return name

    async def scenario() -> None:
        first = asyncio.create_task(pool.run("alice", slow, "a1"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(pool.run("alice", quick, "a2"))
        assert await asyncio.wait_for(pool.run("bob", quick, "b1"), 10) == "b1"  # bob is not held up
        assert not second.done() and pool.running("alice") == 1  # alice's second waits without a thread
        release.set()
        assert await first == "a1" and await second == "a2"

    asyncio.run(scenario())
    pool.shutdown()
    assert order.index(("start", "a2")) > order.index(("end", "a1"))
    assert pool.running("alice") == pool.running("bob") == 0
