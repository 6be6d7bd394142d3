"""``POST /api/flows/{name}/runs``: other systems start registered flows with an API token."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import flowdeck
import headless_flows
from fixtures.server_support import add_people, login, make_app, serving
from flowdeck import StoreInterface
from flowdeck.config import reconfigure
from flowdeck.server.routes_headless import HEADLESS_RUNS

CSV = b"region,product,amount\nnorth,a,1.5\nsouth,b,2.0\nnorth,b,3.0\n"


@pytest.fixture
def app(deployment: str) -> Iterator[Any]:
    add_people()
    flowdeck.register_flow(headless_flows.sales_totals)
    server = make_app()
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


@pytest.fixture
def script(app: Any) -> TestClient:
    """A client acting for alice with an API token (no session, no CSRF header)."""
    token = login(app, "alice").post("/api/tokens", json={"label": "etl"}).json()["token"]
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def body(group_by: str | None = "region") -> dict[str, Any]:
    inputs: dict[str, Any] = {"Sales": {"base64": base64.b64encode(CSV).decode(), "filename": "sales.csv"}}
    if group_by:
        inputs["Group by"] = {"value": group_by, "card_title": "Inputs"}
    return {"steps": {"Load": inputs}}


def test_a_token_starts_a_registered_flow_by_name(app: Any, script: TestClient) -> None:
    made = script.post("/api/flows/Sales totals/runs", json=body())
    assert made.status_code == 201, made.text
    data = made.json()
    assert data["state"] == "complete" and data["user"] == "alice" and data["started_by"] == "api:alice"
    totals = StoreInterface(data["flow_id"], user="alice").get_input("totals", step_name="Totals")
    assert totals.to_dict() == {"north": 4.5, "south": 2.0}
    listed = {r["flow_id"]: r for r in script.get("/api/runs").json()}
    assert listed[data["flow_id"]]["started_by"] == "api:alice"
    # served flows are registered too, so any process finds them by name
    names = [f["name"] for f in script.get("/api/registered-flows").json()]
    assert "Customer churn" in names and "Sales totals" in names


def test_a_missing_input_leaves_the_run_waiting(script: TestClient) -> None:
    made = script.post("/api/flows/Sales totals/runs", json=body(group_by=None))
    assert made.status_code == 201, made.text
    data = made.json()
    assert data["state"] == "awaiting_input" and data["current_step"] == "Load"
    assert sales_runs(script) == [data["flow_id"]]  # not a refusal: the run is kept


def sales_runs(client: TestClient) -> list[str]:
    """The runs of "Sales totals" alice sees, in ``GET /api/runs`` and in ``flowdeck.list_runs``."""
    listed = [r["flow_id"] for r in client.get("/api/runs").json() if r["flow_name"] == "Sales totals"]
    public = [s.flow_id for s in flowdeck.list_runs(user="alice") if s.flow_name == "Sales totals"]
    assert listed == public
    return listed


def test_a_refused_element_title_is_422_and_leaves_no_run(script: TestClient) -> None:
    bad = body()
    bad["steps"]["Load"]["Colour"] = {"value": "red"}
    refused = script.post("/api/flows/Sales totals/runs", json=bad)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("step 'Load' has no input 'Colour'")
    assert "no run was started" in refused.json()["detail"] and " of run " not in refused.json()["detail"]
    assert "has no input 'Colour'" in refused.json()["detail"]
    assert sales_runs(script) == []


def test_unknown_flow_is_404_and_no_token_is_401(app: Any, script: TestClient) -> None:
    missing = script.post("/api/flows/Nope/runs", json={})
    assert missing.status_code == 404
    assert "no registered flow 'Nope'" in missing.json()["detail"]
    assert TestClient(app).post("/api/flows/Sales totals/runs", json=body()).status_code == 401


def test_an_upload_cannot_read_a_file_of_the_server(script: TestClient, tmp_path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("region,amount\nsecret,42\n")
    attack = {"steps": {"Load": {"Sales": {"value": str(secret)}, "Group by": {"value": "region"}}}}
    refused = script.post("/api/flows/Sales totals/runs", json=attack)
    assert refused.status_code == 422
    assert "takes the file's bytes here (base64 over the API), not a path" in refused.json()["detail"]
    assert sales_runs(script) == []  # refused: nothing was read, and no run is left behind


def test_triggers_over_the_api(app: Any, script: TestClient) -> None:
    from flowdeck.triggers import AssetTrigger, check_triggers

    AssetTrigger(label="scores", name="new scores", dry_run=True).configure("Sales totals", user_id="alice").start()
    check_triggers()
    store = StoreInterface(script.post("/api/flows/Sales totals/runs", json=body()).json()["flow_id"], user="alice")
    store.save_asset(flowdeck.Asset({"x": 1}, label="scores", type="dataset"))
    check_triggers()
    listed = script.get("/api/triggers").json()
    assert [(t["name"], t["active"], t["dry_run"]) for t in listed] == [("new scores", True, True)]
    shown = script.get("/api/triggers/new scores").json()
    assert [t["outcome"] for t in shown["ticks"]] == ["dry_run"]
    assert script.post("/api/triggers/new scores/pause").status_code == 204
    assert script.get("/api/triggers/new scores").json()["active"] is False
    assert script.post("/api/triggers/new scores/resume").status_code == 204
    bob = login(app, "bob")
    assert bob.get("/api/triggers").json() == []
    assert bob.get("/api/triggers/new scores").status_code == 404
    assert bob.post("/api/triggers/new scores/pause").status_code == 404


def test_long_headless_runs_are_capped_per_user_and_per_server(deployment: str) -> None:
    """The attack: one user starting many long headless runs at once to hold every request thread.

    Beyond their share a user is answered 429 at once (no thread held); another user can still start
    runs until the server's cap, and pages keep answering throughout.
    """
    reconfigure(headless_runs_per_user=2, headless_runs_at_once=3)
    add_people()
    flowdeck.register_flow(headless_flows.waits)
    headless_flows.RELEASE.clear()
    app = make_app()
    try:
        with serving(app) as url, ThreadPoolExecutor(4) as pool:
            tokens = {}
            for name in ("alice", "bob"):
                session = login(app, name)
                tokens[name] = session.post("/api/tokens", json={"label": "etl"}).json()["token"]

            def start(name: str) -> httpx.Response:
                with httpx.Client(base_url=url, timeout=60) as client:
                    headers = {"Authorization": f"Bearer {tokens[name]}"}
                    return client.post("/api/flows/Waits/runs", json={"steps": {}}, headers=headers)

            def running() -> int:
                return sum(HEADLESS_RUNS.in_flight(n) for n in ("alice", "bob"))

            held = [pool.submit(start, "alice"), pool.submit(start, "alice")]
            _wait_for(lambda: running() == 2)
            refused = start("alice")
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"] == "TooManyRequests" and refused.headers["Retry-After"] == "5"
            assert "'alice' may run 2 at once" in refused.json()["detail"]
            held.append(pool.submit(start, "bob"))
            _wait_for(lambda: running() == 3)
            full = start("bob")  # bob is within his share, but the server's cap is reached
            assert full.status_code == 429 and "the server 3" in full.json()["detail"]
            with httpx.Client(base_url=url, timeout=10) as client:
                flows = client.get("/api/flows", headers={"Authorization": f"Bearer {tokens['alice']}"})
                assert flows.status_code == 200  # other requests are served meanwhile
            headless_flows.RELEASE.set()
            assert [f.result().status_code for f in held] == [201, 201, 201]
            assert running() == 0
            again = start("alice")  # the slots were given back
            assert again.status_code == 201 and again.json()["state"] == "complete"
    finally:
        headless_flows.RELEASE.set()
        app.state.flowdeck.executor.shutdown(wait=True)


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
