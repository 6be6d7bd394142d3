"""The request layer and accounts under attack: body caps, login throttling, hash slots, token scopes,
log out everywhere, event ids, tracebacks, CSV formulas, the API docs page and the step workers' fair share.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import flowdeck
from fixtures.server_support import PASSWORDS, add_people, login, make_app, start_run, wait_idle
from flowdeck.auth import accounts
from flowdeck.auth.accounts import AuthError
from flowdeck.auth.users import resolve_principal
from flowdeck.config import reconfigure
from flowdeck.flow.loader import load_flow_file
from flowdeck.flow.runner import create_run
from flowdeck.server import events as live
from flowdeck.server.downloads import csv_text
from flowdeck.server.executor import FairShareExecutor
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.storage.schema import login_throttle

STATIC = Path(__file__).resolve().parents[1] / "src" / "flowdeck" / "server" / "static"


@pytest.fixture
def app(deployment: str) -> Iterator[Any]:
    """A server on a fresh deployment with alice, bob, carol and the admin root."""
    add_people()
    server = make_app()
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


@pytest.fixture
def sqlite_app(embedded: Path) -> Iterator[Any]:
    """The same server on the embedded default only (for tests whose subject is not the database)."""
    add_people()
    server = make_app()
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


def _client(app: Any, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def _login(client: TestClient, name: str, password: str) -> Any:
    return client.post("/api/login", json={"name": name, "password": password})


# --- request bodies -------------------------------------------------------------------------------


def test_a_json_body_over_the_cap_is_refused_with_413_before_it_is_parsed(sqlite_app: Any) -> None:
    reconfigure(max_json_bytes=4096)
    app = make_app()  # the cap is read when the app is made
    client = TestClient(app)
    big = {"name": "alice", "password": "x" * 10_000}
    response = client.post("/api/login", json=big)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    assert "over the limit of 4,096" in response.json()["detail"] and "max_json_bytes" in response.json()["detail"]
    # A chunked body (no Content-Length) is counted as it arrives.
    chunks = (b'{"name": "alice", "password": "' + b"x" * 2000 + b'"' if i == 0 else b" " * 2000 for i in range(5))
    streamed = client.post("/api/login", content=chunks, headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"] == "PayloadTooLarge"
    # Under the cap the request goes through as before.
    assert client.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]}).status_code == 200


# --- password checks and throttling ---------------------------------------------------------------


def test_password_checks_beyond_the_slots_wait_and_then_get_503(sqlite_app: Any, monkeypatch: Any) -> None:
    reconfigure(max_concurrent_hashes=1)
    monkeypatch.setattr(accounts, "HASH_WAIT_SECONDS", 0.2)
    slots = accounts._slots()
    assert slots.acquire(timeout=1)  # another login holds the only slot
    try:
        response = TestClient(sqlite_app).post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert "checking too many passwords at once" in response.json()["detail"]
    finally:
        slots.release()
    assert _login(TestClient(sqlite_app), "alice", PASSWORDS["alice"]).status_code == 200


@pytest.mark.slow
@pytest.mark.backends("sqlite", "postgres", "mariadb")  # the throttle lives in the database, not the blob store
def test_wrong_passwords_lock_the_account_with_a_doubling_back_off_that_ends(app: Any, deployment: str) -> None:
    reconfigure(login_free_failures=3, login_max_lock_seconds=2)
    # Another server process sharing the database (a second app stands in for it), made first: the
    # first lock lasts one second, and making an app can take that long on a busy machine.
    other_process = make_app()
    try:
        attacker = _client(app, "203.0.113.9")
        for _ in range(3):
            wrong = _login(attacker, "alice", "guess")
            assert wrong.status_code == 401 and wrong.json()["error"] == "AuthError"
        locked = _login(attacker, "alice", "guess")
        assert locked.status_code == 429
        assert locked.json()["detail"].startswith("too many failed logins; try again in")
        assert locked.headers["retry-after"] == "1"
        # The lock holds even for the right password, from a new address, and in the other process.
        newcomer = _client(other_process, "198.51.100.7")
        assert _login(newcomer, "alice", PASSWORDS["alice"]).status_code == 429
    finally:
        other_process.state.flowdeck.executor.shutdown(wait=True)
    with get_storage().db.read() as conn:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == "u:alice")).one()
    assert row.failures == 3 and row.locked_until is not None
    # It is a back-off, not a lockout: once it runs out the real user gets in and the count resets.
    time.sleep(1.2)
    assert _login(_client(app, "198.51.100.7"), "alice", PASSWORDS["alice"]).status_code == 200
    with get_storage().db.read() as conn:
        assert conn.execute(sa.select(login_throttle.c.key).where(login_throttle.c.key == "u:alice")).first() is None
    # Each further failure past the free ones doubles the lock, up to login_max_lock_seconds.
    for _ in range(3):
        _login(attacker, "alice", "guess")
    time.sleep(1.1)
    before = utcnow()
    assert _login(attacker, "alice", "guess").status_code == 401  # failure 4: locked 2 s (the cap)
    after = utcnow()
    with get_storage().db.read() as conn:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == "u:alice")).one()
    assert row.failures == 4
    # Measured on the stored lock, not on Retry-After: that counts down while a busy machine answers.
    until = as_utc(row.locked_until)
    assert until - before >= dt.timedelta(seconds=2) >= until - after
    blocked = _login(attacker, "alice", "guess")
    assert blocked.status_code == 429 and blocked.headers["retry-after"] in ("1", "2")


@pytest.mark.backends("sqlite", "postgres", "mariadb")  # the throttle lives in the database, not the blob store
def test_an_attacker_cannot_keep_the_real_user_out_from_an_address_they_used_before(app: Any, deployment: str) -> None:
    reconfigure(login_free_failures=2, login_max_lock_seconds=600)
    home = _client(app, "192.0.2.10")
    assert _login(home, "alice", PASSWORDS["alice"]).status_code == 200
    attacker = _client(app, "203.0.113.9")
    for _ in range(4):
        _login(attacker, "alice", "guess")
    assert _login(attacker, "alice", PASSWORDS["alice"]).status_code == 429  # locked for 10 minutes
    assert _login(_client(app, "198.51.100.7"), "alice", PASSWORDS["alice"]).status_code == 429
    # alice's usual address is not held by the account lock.
    assert _login(_client(app, "192.0.2.10"), "alice", PASSWORDS["alice"]).status_code == 200


def test_one_address_spraying_many_accounts_is_throttled(sqlite_app: Any) -> None:
    reconfigure(login_free_failures=100, login_address_free_failures=3, login_max_lock_seconds=60)
    sprayer = _client(sqlite_app, "203.0.113.50")
    for name in ("alice", "bob", "carol"):
        assert _login(sprayer, name, "Winter2026!").status_code == 401
    refused = _login(sprayer, "root", PASSWORDS["root"])
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # Others are not affected by that address's lock.
    assert _login(_client(sqlite_app, "192.0.2.20"), "root", PASSWORDS["root"]).status_code == 200


# --- sessions, tokens and scopes -------------------------------------------------------------------


def _token(client: TestClient, **body: Any) -> str:
    response = client.post("/api/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.json()["token"]


def _bearer(app: Any, token: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.slow
def test_changing_the_password_ends_old_sessions_and_tokens(sqlite_app: Any) -> None:
    laptop = login(sqlite_app, "alice")
    phone = login(sqlite_app, "alice")
    script = _bearer(sqlite_app, _token(laptop, label="nightly"))
    assert script.get("/api/me").status_code == 200 and laptop.get("/api/me").status_code == 200
    wrong = phone.post("/api/password", json={"current_password": "nope", "new_password": "a-new-password"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "AuthError"
    assert wrong.json()["detail"] == "the current password is wrong; the password was not changed"
    assert phone.get("/api/me").status_code == 200  # a wrong confirmation does not log anyone out
    changed = phone.post(
        "/api/password", json={"current_password": PASSWORDS["alice"], "new_password": "a-new-password"}
    )
    assert changed.status_code == 200, changed.text
    phone.headers["X-CSRF-Token"] = changed.json()["csrf_token"]
    for stale in (laptop, script):
        gone = stale.get("/api/me")
        assert gone.status_code == 401 and gone.json()["error"] == "AuthError"
    assert phone.get("/api/me").json()["name"] == "alice"  # the browser that changed it has a new session
    assert _login(TestClient(sqlite_app), "alice", "a-new-password").status_code == 200
    # An admin setting a password (library or CLI) ends the sessions the same way.
    again = login(sqlite_app, "bob")
    flowdeck.update_user("bob", password="bobs-new-password")
    assert again.get("/api/me").status_code == 401


def test_an_api_token_cannot_mint_tokens_or_change_the_password(sqlite_app: Any) -> None:
    alice = login(sqlite_app, "alice")
    script = _bearer(sqlite_app, _token(alice))
    minted = script.post("/api/tokens", json={"label": "more"})
    assert minted.status_code == 403
    assert minted.json() == {
        "error": "AuthError",
        "detail": "API tokens cannot create API tokens; create one from a browser session",
    }
    changed = script.post("/api/password", json={"current_password": PASSWORDS["alice"], "new_password": "x" * 12})
    assert changed.status_code == 403 and "not with an API token" in changed.json()["detail"]
    assert len(alice.get("/api/tokens").json()) == 1


def test_token_scopes_are_enforced_on_every_route(sqlite_app: Any) -> None:
    alice = login(sqlite_app, "alice")
    reader = _bearer(sqlite_app, _token(alice, scopes=["read"]))
    assert reader.get("/api/runs").status_code == 200
    assert reader.get("/api/flows").status_code == 200
    refused = reader.post("/api/runs", json={"flow": "Fragile"})
    assert refused.status_code == 403 and refused.json()["error"] == "AuthError"
    assert "lacks the 'write' scope" in refused.json()["detail"]
    # Every state-changing API route refuses a read-only token before doing anything.
    checked = 0
    for path, operations in sqlite_app.openapi()["paths"].items():
        if not path.startswith("/api/") or path == "/api/login":
            continue
        for method in set(operations) - {"get", "head", "options"}:
            url = path.replace("{", "").replace("}", "")
            answer = reader.request(method.upper(), url, json={})
            assert answer.status_code == 403, (method, path, answer.text)
            assert "lacks the 'write' scope" in answer.json()["detail"], (method, path)
            checked += 1
    assert checked >= 15
    assert reader.get("/api/me").status_code == 200  # still valid after all that
    assert alice.get("/api/tokens").json()[0]["scopes"] == ["read"]


def test_an_admin_token_acts_as_admin_only_with_the_admin_scope(sqlite_app: Any) -> None:
    root = login(sqlite_app, "root")
    plain = _bearer(sqlite_app, _token(root))
    denied = plain.get("/api/users")
    assert denied.status_code == 403 and denied.json()["error"] == "AccessError"
    assert _bearer(sqlite_app, _token(root, scopes=["read", "admin"])).get("/api/users").status_code == 200
    alice = login(sqlite_app, "alice")
    escalate = alice.post("/api/tokens", json={"scopes": ["read", "write", "admin"]})
    assert escalate.status_code == 422 and escalate.json()["error"] == "ValidationError"
    assert "cannot have the admin scope" in escalate.json()["detail"]
    unknown = alice.post("/api/tokens", json={"scopes": ["root"]})
    assert unknown.status_code == 422


def test_log_out_everywhere_ends_every_session_and_token(sqlite_app: Any) -> None:
    laptop = login(sqlite_app, "alice")
    phone = login(sqlite_app, "alice")
    script = _bearer(sqlite_app, _token(laptop))
    bob = login(sqlite_app, "bob")
    response = phone.post("/api/logout-everywhere")
    assert response.status_code == 204
    for client in (laptop, phone, script):
        assert client.get("/api/me").status_code == 401
    assert bob.get("/api/me").status_code == 200  # nobody else is logged out
    # The library call (and `flowdeck users logout NAME`) does the same.
    again = login(sqlite_app, "alice")
    accounts.end_all_sessions("alice")
    from flowdeck.server.auth import _forget

    _forget()  # other server processes notice within CACHE_SECONDS; here at once
    assert again.get("/api/me").status_code == 401


def test_the_cli_logs_a_user_out_everywhere(sqlite_app: Any) -> None:
    from typer.testing import CliRunner

    from flowdeck.cli import app as cli_app

    alice = login(sqlite_app, "alice")
    result = CliRunner().invoke(cli_app, ["users", "logout", "alice"])
    assert result.exit_code == 0, result.output
    assert "ended every session and API token of alice" in result.output
    from flowdeck.server.auth import _forget

    _forget()
    assert alice.get("/api/me").status_code == 401


# --- live events ----------------------------------------------------------------------------------


def test_a_huge_last_event_id_is_a_400_and_other_streams_keep_going(sqlite_app: Any) -> None:
    alice = login(sqlite_app, "alice")
    run_id = start_run(alice, "Fragile")
    bad = alice.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(10**30)})
    assert bad.status_code == 400
    assert bad.json()["error"] == "InvalidEventId"
    assert "Last-Event-ID must be a progress event id from 0 to" in bad.json()["detail"]
    for junk in ("-1", "1e5", "12345678901234567890123"):
        assert alice.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": junk}).status_code == 400
    good = alice.get(f"/api/runs/{run_id}/events", params={"until_idle": "true"}, headers={"Last-Event-ID": "0"})
    assert good.status_code == 200 and "event: status" in good.text


def test_one_failing_poll_does_not_end_other_followers_streams(sqlite_app: Any) -> None:
    alice = login(sqlite_app, "alice")
    run_id = start_run(alice, "Fragile")
    with pytest.raises(live.InvalidEventId, match="an event id runs from 0 to"):
        asyncio.run(_subscribe(run_id, 10**30))

    async def follow() -> tuple[Any, Any]:
        good = live.subscribe(run_id, 0)
        # A follower whose cursor slipped past the check (what a bad Last-Event-ID used to make).
        bad = live.Subscription(run_id + "-other", 10**30, good._poller)
        good._poller.add(bad)
        try:
            outcome_bad: Any
            try:
                outcome_bad = await asyncio.wait_for(bad.next(), 5)
            except Exception as exc:
                outcome_bad = exc
            outcome_good = await asyncio.wait_for(good.next(), 5)
            return outcome_good, outcome_bad
        finally:
            good.close()
            bad.close()

    snapshot, failure = asyncio.run(follow())
    assert isinstance(snapshot, live.RunSnapshot) and snapshot.view is not None and snapshot.view.id == run_id
    assert isinstance(failure, OverflowError)  # only the bad follower's stream ends


async def _subscribe(run_id: str, after: int) -> None:
    live.subscribe(run_id, after).close()


# --- tracebacks -----------------------------------------------------------------------------------


def test_tracebacks_are_shown_to_the_owner_and_admins_only(sqlite_app: Any) -> None:
    alice = login(sqlite_app, "alice")
    run_id = start_run(alice, "Fragile")
    page = alice.get(f"/api/runs/{run_id}/steps/Ask/page").json()
    word = next(e["id"] for s in page["page"]["sections"] for c in s["content"] for e in c["content"])
    assert alice.put(f"/api/runs/{run_id}/steps/Ask/elements/{word}/value", json={"value": "fail"}).status_code == 200
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    status = wait_idle(alice, run_id)
    failed = next(s for s in status["steps"] if s["state"] == "failed")
    assert failed["traceback"] and "server_flows.py" in failed["traceback"]
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
    shared = login(sqlite_app, "bob").get(f"/api/runs/{run_id}").json()
    shared_step = next(s for s in shared["steps"] if s["state"] == "failed")
    assert shared_step["traceback"] is None
    assert shared_step["error"] == failed["error"]  # the error itself still shows
    events = login(sqlite_app, "bob").get(f"/api/runs/{run_id}/events", params={"after": 0, "until_idle": "true"})
    assert "server_flows.py" not in events.text
    admin = login(sqlite_app, "root").get(f"/api/runs/{run_id}").json()
    assert next(s for s in admin["steps"] if s["state"] == "failed")["traceback"] == failed["traceback"]


# --- downloads ------------------------------------------------------------------------------------


def test_csv_downloads_escape_formula_cells(sqlite_app: Any) -> None:
    from flowdeck.assets import Dataset
    from flowdeck.store import assets

    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://evil.example","x")', "+1+2", "-3+4", "@SUM(A1)", "\t=1", "\r=1", "ok"],
            "amount": [-5, 1, 2, 3, 4, 5, 6],
            "=cmd": ["a", "b", "c", "d", "e", "f", "g"],
        }
    )
    asset_id = assets.save_asset(resolve_principal("alice"), Dataset(frame, "hostile"))
    download = login(sqlite_app, "alice").get(f"/api/assets/{asset_id}/download")
    assert download.status_code == 200
    parsed = pd.read_csv(__import__("io").StringIO(download.text))
    assert list(parsed.columns) == ["name", "amount", "'=cmd"]
    assert parsed["name"].tolist() == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'+1+2",
        "'-3+4",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
        "ok",
    ]
    assert parsed["amount"].tolist() == [-5, 1, 2, 3, 4, 5, 6]  # numbers are not formulas
    assert csv_text(pd.DataFrame({"c": pd.Categorical(["=1", "b"])})).splitlines() == ["c", "'=1", "b"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_browser_csv_download_escapes_formula_cells() -> None:
    source = (STATIC / "app.js").read_text()
    start = source.index("  function downloadCsv(element) {")
    body = source[start : source.index("    const lines", start)]
    script = body.replace("  function downloadCsv(element) {", "") + (
        'console.log(JSON.stringify(["=1+1", "+x", "-y", "@z", "\\t=1", "ok", -5, "a,b"].map(cell)));'
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.strip() == '["\'=1+1","\'+x","\'-y","\'@z","\'\\t=1","ok","-5","\\"a,b\\""]'


# --- rich text links ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_markdown_links_to_other_sites_disguised_as_relative_are_refused() -> None:
    script = (
        "global.window = {};"
        f"require({str(STATIC / 'markdown.js')!r});"
        "const f = window.FlowdeckMarkdown.safeHref;"
        'const urls = ["\\\\\\\\evil.example", "/\\\\evil.example", "\\\\/evil.example", "//evil.example",'
        ' "/\\t/evil.example", " //evil.example", "javascript:alert(1)", "java\\tscript:alert(1)",'
        ' "/runs/1", "#results", "page?x=1", "https://example.org/a"];'
        "console.log(JSON.stringify(urls.map(f)));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.strip() == (
        '[null,null,null,null,null,null,null,null,"/runs/1","#results","page?x=1","https://example.org/a"]'
    )


# --- the API docs page ----------------------------------------------------------------------------


def test_the_docs_page_loads_its_scripts_from_this_server_only(sqlite_app: Any) -> None:
    client = TestClient(sqlite_app)
    for path, assets in (("/docs", ["/vendor/api-docs/swagger-ui-bundle.js", "/vendor/api-docs/swagger-ui.css"]),):
        page = client.get(path)
        assert page.status_code == 200
        for asset in assets:
            assert asset in page.text
            assert client.get(asset).status_code == 200
        assert "cdn" not in page.text.lower() and "https://" not in page.text and "http://" not in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self' 'unsafe-inline'" in csp and "http" not in csp
    assert "SwaggerUIBundle" in client.get("/vendor/api-docs/swagger-ui-bundle.js").text[:400_000]
    assert client.get("/redoc").status_code == 404  # ReDoc fetches its logo from its vendor: not offered


# --- fair share of the step workers ---------------------------------------------------------------

GATE_FLOW = '''
import time
from pathlib import Path

from flowdeck import Card, Flow, Page, Section, Step, StoreInterface, TextInput


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Input", [TextInput(title="Gate", required=True)]), "Main")
        store.update_page(page)


class Hold(Step):
    """Holds its worker until the gate file exists."""

    def run(self, flow_metadata):
        gate = Path(StoreInterface(**flow_metadata).get_element_value("Ask", "Gate"))
        deadline = time.monotonic() + 20
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)


gated = Flow(name="Gated", description="A step that waits for a file.")
gated.chain([Ask(title="Ask", page=Page("Ask", [Section("Main", [])])), Hold(title="Hold")])
'''


def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_one_users_slow_runs_do_not_starve_the_others(embedded: Path, tmp_path: Path) -> None:
    path = tmp_path / f"gated_{uuid.uuid4().hex[:8]}.py"
    path.write_text(GATE_FLOW)
    flow, _ = load_flow_file(f"{path}:gated")
    executor = FairShareExecutor(max_workers=4, per_user=2)
    try:
        gates = {}
        runs = {}
        for owner, count in (("alice", 8), ("bob", 1)):
            for i in range(count):
                run = create_run(flow, user=owner)
                executor.submit(run.flow_id, owner, "start")
                assert executor.wait(run.flow_id, timeout=20)
                gates[run.flow_id] = tmp_path / f"gate-{owner}-{i}"
                run.set_value("Gate", str(gates[run.flow_id]))
                runs.setdefault(owner, []).append(run.flow_id)
        for run_id in runs["alice"]:  # eight slow runs first...
            executor.submit(run_id, "alice", "next")
        _until(lambda: executor.running("alice") == 2)
        assert executor.queued("alice") == 6  # ...hold only their share of the four workers
        executor.submit(runs["bob"][0], "bob", "next")
        _until(lambda: executor.running("bob") == 1)  # bob starts at once, on a free worker
        gates[runs["bob"][0]].touch()
        assert executor.wait(runs["bob"][0], timeout=10)
        assert executor.running("alice") == 2 and executor.queued("alice") == 6
    finally:
        for gate in gates.values():
            gate.touch()
        executor.shutdown(wait=True)
    assert executor.running("alice") == 0 and executor.queued("alice") == 0


def test_the_fair_share_default_is_half_the_pool() -> None:
    assert FairShareExecutor(4).per_user == 2
    assert FairShareExecutor(1).per_user == 1
    assert FairShareExecutor(12, per_user=20).per_user == 12


def test_throttle_rows_are_not_kept_for_successful_logins_from_fresh_addresses(sqlite_app: Any) -> None:
    # Guard against AuthError types drifting: a bad name is an AuthError like a bad password.
    with pytest.raises(AuthError, match="wrong user name or password"):
        accounts.authenticate("", "x")
    assert _login(_client(sqlite_app, "192.0.2.77"), "carol", PASSWORDS["carol"]).status_code == 200
    with get_storage().db.read() as conn:
        keys = set(conn.scalars(sa.select(login_throttle.c.key)))
    assert keys == {"k:192.0.2.77 carol"}
