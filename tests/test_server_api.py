"""The server's REST API: accounts, the catalogue, running the churn example, uploads, events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import flowdeck
from fixtures.server_support import (
    CHURN_CSV,
    PASSWORDS,
    add_people,
    element_id,
    login,
    make_app,
    sse_events,
    start_run,
    wait_idle,
)


@pytest.fixture
def app(deployment: str) -> Iterator[Any]:
    """A server on a fresh deployment with alice, bob, carol and the admin root."""
    add_people()
    server = make_app()
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)  # no step may outlive the test's deployment


@pytest.fixture
def alice(app: Any) -> TestClient:
    """alice, logged in."""
    return login(app, "alice")


def _start_churn(client: TestClient) -> tuple[str, dict[str, Any]]:
    run_id = start_run(client, "Customer churn")
    page = client.get(f"/api/runs/{run_id}/steps/Upload customers/page").json()
    return run_id, page


def _upload_csv(client: TestClient, run_id: str, page: dict[str, Any]) -> Any:
    target = element_id(page, "Customer data")
    return client.post(
        f"/api/runs/{run_id}/steps/Upload customers/elements/{target}/upload",
        files={"file": ("customers.csv", CHURN_CSV.read_bytes(), "text/csv")},
    )


# --- accounts -------------------------------------------------------------------------------------


def test_login_sets_a_protected_session_cookie_and_me_answers(app: Any) -> None:
    client = TestClient(app)
    response = client.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    body = response.json()
    assert body["name"] == "alice" and body["groups"] == ["analysts"] and body["csrf_token"]
    me = client.get("/api/me").json()
    assert me == {
        "name": "alice",
        "role": "user",
        "groups": ["analysts"],
        "via": "session",
        "csrf_token": body["csrf_token"],
    }


def test_wrong_password_and_unknown_user_are_refused_alike(app: Any) -> None:
    client = TestClient(app)
    wrong = client.post("/api/login", json={"name": "alice", "password": "not-her-password"})
    unknown = client.post("/api/login", json={"name": "nobody", "password": "whatever-it-is"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert "set-cookie" not in wrong.headers
    assert client.get("/api/me").status_code == 401


def test_user_without_password_cannot_log_in(app: Any) -> None:
    flowdeck.add_user("dave")
    assert TestClient(app).post("/api/login", json={"name": "dave", "password": "anything-8"}).status_code == 401


def test_logout_ends_the_session(alice: TestClient) -> None:
    assert alice.post("/api/logout").status_code == 204
    assert alice.get("/api/me").status_code == 401


def test_state_changing_requests_need_the_csrf_header(alice: TestClient) -> None:
    csrf = alice.headers.pop("X-CSRF-Token")
    refused = alice.post("/api/runs", json={"flow": "Fragile"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = alice.post("/api/runs", json={"flow": "Fragile"}, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    assert alice.get("/api/runs").status_code == 200  # reading needs no token
    assert alice.post("/api/runs", json={"flow": "Fragile"}, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_api_tokens_work_without_csrf_and_can_be_revoked(app: Any, alice: TestClient) -> None:
    made = alice.post("/api/tokens", json={"label": "nightly script"})
    assert made.status_code == 201
    token = made.json()["token"]
    listed = alice.get("/api/tokens").json()
    assert [t["label"] for t in listed] == ["nightly script"]
    assert "token" not in listed[0] and token not in json.dumps(listed)

    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/me").json()["via"] == "token"
    assert script.post("/api/runs", json={"flow": "Fragile"}).status_code == 201
    assert alice.get("/api/tokens").json()[0]["last_used_at"] is not None

    assert alice.delete(f"/api/tokens/{made.json()['id']}").status_code == 204
    assert script.get("/api/me").status_code == 401
    assert alice.delete(f"/api/tokens/{made.json()['id']}").status_code == 404
    bad = TestClient(app, headers={"Authorization": "Basic abc"}).get("/api/me")
    assert bad.status_code == 401 and "Bearer" in bad.json()["detail"]


def test_admins_add_and_list_users_others_may_not(app: Any, alice: TestClient) -> None:
    root = login(app, "root")
    names = [u["name"] for u in root.get("/api/users").json()]
    assert names == ["alice", "bob", "carol", "root"]
    made = root.post("/api/users", json={"name": "erin", "groups": ["ops"], "password": "erin-password"})
    assert made.status_code == 201 and made.json() == {"name": "erin", "role": "user", "groups": ["ops"]}
    assert root.post("/api/users", json={"name": "erin"}).status_code == 409
    assert root.post("/api/users", json={"name": "x", "password": "short"}).status_code == 422
    assert login(app, "root").post("/api/users", json={"name": "", "role": "user"}).status_code == 422
    assert alice.get("/api/users").status_code == 403
    assert alice.post("/api/users", json={"name": "mallory", "role": "admin"}).status_code == 403
    assert TestClient(app).get("/api/users").status_code == 401
    erin = TestClient(app).post("/api/login", json={"name": "erin", "password": "erin-password"})
    assert erin.status_code == 200


# --- catalogue and runs ---------------------------------------------------------------------------


def test_catalogue_lists_the_offered_flows_with_their_steps(alice: TestClient) -> None:
    flows = alice.get("/api/flows").json()
    assert [f["name"] for f in flows] == ["Customer churn", "Fragile", "Hostile"]
    assert [s["name"] for s in flows[0]["steps"]] == ["Upload customers", "Choose analysis", "Analyse churn", "Summary"]
    assert alice.post("/api/runs", json={"flow": "No such flow"}).status_code == 404


def test_churn_example_runs_end_to_end_over_the_api(alice: TestClient) -> None:
    run_id, page = _start_churn(alice)
    assert page["editable"] is True and page["state"] == "awaiting_input"

    missing = alice.post(f"/api/runs/{run_id}/next")
    assert missing.status_code == 422
    assert missing.json()["missing"] == ["Customer data"]

    uploaded = _upload_csv(alice, run_id, page)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["element"]["value"]["filename"] == "customers.csv"

    accepted = alice.post(f"/api/runs/{run_id}/next")
    assert accepted.status_code == 202
    assert accepted.json()["busy"] is True
    status = wait_idle(alice, run_id)
    assert status["current_step"] == "Choose analysis" and status["state"] == "awaiting_input"

    choose = alice.get(f"/api/runs/{run_id}/steps/Choose analysis/page").json()
    segment = element_id(choose, "Segment by")
    bad = alice.put(
        f"/api/runs/{run_id}/steps/Choose analysis/elements/{segment}/value", json={"value": "not a column"}
    )
    assert bad.status_code == 422 and "not among the options" in bad.json()["detail"]
    good = alice.put(f"/api/runs/{run_id}/steps/Choose analysis/elements/{segment}/value", json={"value": "region"})
    assert good.status_code == 200 and good.json()["element"]["value"] == "region"
    tenure = next(
        e
        for s in choose["page"]["sections"]
        for c in s["content"]
        for e in c["content"]
        if e["title"] == "Tenure range"
    )
    low, high = tenure["min_range"], tenure["max_range"]
    by_title = alice.put(
        f"/api/runs/{run_id}/steps/Choose analysis/elements/Tenure range/value", json={"value": [low, high - 1]}
    )
    assert by_title.status_code == 200 and by_title.json()["element"]["value"] == [low, high - 1]
    outside = alice.put(
        f"/api/runs/{run_id}/steps/Choose analysis/elements/Tenure range/value", json={"value": [low - 1, high]}
    )
    assert outside.status_code == 422 and "outside the range" in outside.json()["detail"]
    stale_edit = alice.put(f"/api/runs/{run_id}/steps/Upload customers/elements/x/value", json={"value": 1})
    assert stale_edit.status_code == 409

    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    with alice.stream("GET", f"/api/runs/{run_id}/events", params={"after": 0, "until_idle": True}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse_events(stream.read().decode())
    completions = [data["completion"] for kind, data in events if kind == "progress"]
    assert completions == [10.0, 40.0, 70.0, 100.0]
    statuses = [data for kind, data in events if kind == "status"]
    assert statuses[-1]["current_step"] == "Analyse churn" and statuses[-1]["busy"] is False

    results = alice.get(f"/api/runs/{run_id}/steps/Analyse churn/page").json()
    kinds = {e["kind"] for s in results["page"]["sections"] for c in s["content"] for e in c["content"]}
    assert {"Table", "PlotlyPlot", "Infographic"} <= kinds
    assert results["editable"] is True
    table = next(
        e for s in results["page"]["sections"] for c in s["content"] for e in c["content"] if e["kind"] == "Table"
    )
    assert table["columns"][0] == "region"
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    assert wait_idle(alice, run_id)["current_step"] == "Summary"
    assert alice.get(f"/api/runs/{run_id}/steps/Analyse churn/page").json()["editable"] is False
    summary = alice.get(f"/api/runs/{run_id}/steps/Summary/page").json()
    text = json.dumps(summary)
    assert f"/runs/{run_id}/steps/Analyse%20churn#element-" in text

    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    assert wait_idle(alice, run_id)["state"] == "complete"
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 409
    assert alice.post(f"/api/runs/{run_id}/rerun").status_code == 409

    assert alice.post(f"/api/runs/{run_id}/back").status_code == 202
    back = wait_idle(alice, run_id)
    assert back["current_step"] == "Summary" and back["state"] == "awaiting_input"
    assert [r["flow_id"] for r in alice.get("/api/runs").json()] == [run_id]


def test_events_start_from_the_newest_progress_without_after(alice: TestClient) -> None:
    run_id, _ = _start_churn(alice)
    with alice.stream("GET", f"/api/runs/{run_id}/events", params={"until_idle": True}) as stream:
        events = sse_events(stream.read().decode())
    assert [kind for kind, _ in events] == ["status"]
    assert events[0][1]["flow_id"] == run_id


def test_a_failing_step_is_reported_and_can_be_rerun(alice: TestClient) -> None:
    run_id = start_run(alice, "Fragile")
    assert alice.post(f"/api/runs/{run_id}/back").status_code == 409  # the first step
    page = alice.get(f"/api/runs/{run_id}/steps/Ask/page").json()
    word = element_id(page, "Word")
    alice.put(f"/api/runs/{run_id}/steps/Ask/elements/{word}/value", json={"value": "fail"})
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    status = wait_idle(alice, run_id)
    assert status["state"] == "failed" and status["current_step"] == "Answer"
    failed = status["steps"][1]
    assert failed["state"] == "failed" and "the word was 'fail'" in failed["error"]
    assert "RuntimeError" in failed["traceback"]

    refused = alice.post(f"/api/runs/{run_id}/next")
    assert refused.status_code == 409 and "rerun" in refused.json()["detail"]
    assert alice.post(f"/api/runs/{run_id}/back").status_code == 202
    wait_idle(alice, run_id)
    alice.put(f"/api/runs/{run_id}/steps/Ask/elements/Word/value", json={"value": "fine"})
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    assert wait_idle(alice, run_id)["steps"][1]["state"] == "awaiting_input"
    assert alice.post(f"/api/runs/{run_id}/rerun").status_code == 202
    assert wait_idle(alice, run_id)["steps"][1]["attempt"] == 3


def test_a_second_action_while_one_runs_is_a_conflict(alice: TestClient) -> None:
    run_id = start_run(alice, "Fragile")
    alice.put(f"/api/runs/{run_id}/steps/Ask/elements/Word/value", json={"value": "slow"})
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    again = alice.post(f"/api/runs/{run_id}/next")
    assert again.status_code == 409 and "busy" in again.json()["detail"]
    assert alice.put(f"/api/runs/{run_id}/steps/Ask/elements/Word/value", json={"value": "x"}).status_code == 409
    assert alice.delete(f"/api/runs/{run_id}").status_code == 409
    with alice.stream("GET", f"/api/runs/{run_id}/events", params={"after": 0, "until_idle": True}) as stream:
        events = sse_events(stream.read().decode())
    messages = [data["message"] for kind, data in events if kind == "progress"]
    assert messages == [f"thinking {n}%" for n in range(0, 101, 20)]
    assert wait_idle(alice, run_id)["current_step"] == "Answer"


# --- uploads --------------------------------------------------------------------------------------


def test_a_bad_upload_is_refused_with_the_reason(alice: TestClient) -> None:
    run_id, page = _start_churn(alice)
    target = element_id(page, "Customer data")
    url = f"/api/runs/{run_id}/steps/Upload customers/elements/{target}/upload"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    refused = alice.post(url, files={"file": ("customers.csv", png, "text/csv")})
    assert refused.status_code == 422
    assert "customers.csv" in refused.json()["detail"]
    assert alice.post(url, files={"file": ("empty.csv", b"", "text/csv")}).status_code == 422
    assert alice.post(url, data={"other": "x"}).status_code == 422
    assert alice.post(url, content=b"plain", headers={"content-type": "text/plain"}).status_code == 422
    assert (
        alice.post(
            f"/api/runs/{run_id}/steps/Upload customers/elements/nope/upload", files={"file": ("a.csv", b"a\n1\n")}
        ).status_code
        == 404
    )
    again = alice.get(f"/api/runs/{run_id}/steps/Upload customers/page").json()
    assert again["page"]["sections"][0]["content"][1]["content"][0]["value"] is None


def test_an_upload_over_the_limit_is_413(app: Any, alice: TestClient) -> None:
    app.state.flowdeck.max_upload_bytes = 10_000
    run_id, page = _start_churn(alice)
    target = element_id(page, "Customer data")
    url = f"/api/runs/{run_id}/steps/Upload customers/elements/{target}/upload"
    big = b"a,b\n" + b"1,2\n" * 5_000
    refused = alice.post(url, files={"file": ("big.csv", big, "text/csv")})
    assert refused.status_code == 413 and "10,000" in refused.json()["detail"]
    assert alice.post(url, files={"file": ("small.csv", b"a,b\n1,0\n", "text/csv")}).status_code == 200


def test_unknown_runs_and_steps_are_404_and_bad_bodies_422(alice: TestClient) -> None:
    assert alice.get("/api/runs/0123456789abcdef").status_code == 404
    assert alice.get("/api/runs/0123456789abcdef/events").status_code == 404
    run_id, _ = _start_churn(alice)
    assert alice.get(f"/api/runs/{run_id}/steps/Nope/page").status_code == 404
    assert alice.get(f"/api/runs/{run_id}/steps/Summary/page").status_code == 404  # has not run
    assert alice.post("/api/runs", json={}).status_code == 422
    assert (
        alice.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    )


def test_delete_and_share_runs(app: Any, alice: TestClient) -> None:
    run_id, _ = _start_churn(alice)
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
    bob = login(app, "bob")
    assert bob.get(f"/api/runs/{run_id}").json()["can_manage"] is False
    assert alice.delete(f"/api/runs/{run_id}").status_code == 204
    assert alice.get(f"/api/runs/{run_id}").status_code == 404
    assert bob.get(f"/api/runs/{run_id}").status_code == 404


# --- the UI shell and its files -------------------------------------------------------------------


def test_ui_pages_and_static_files_are_served_with_a_strict_policy(app: Any) -> None:
    client = TestClient(app)
    for path in ("/", "/login", "/assets", "/connections", "/runs/abc", "/runs/abc/steps/Upload%20customers"):
        page = client.get(path)
        assert page.status_code == 200 and "<main" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000
    assert client.get("/docs").status_code == 200
    assert "/api/runs/{run_id}/next" in client.get("/openapi.json").json()["paths"]
