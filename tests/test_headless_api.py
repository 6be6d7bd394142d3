"""``POST /api/flows/{name}/runs``: other systems start registered flows with an API token."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import flowdeck
import headless_flows
from fixtures.server_support import add_people, login, make_app
from flowdeck import StoreInterface

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
    assert "step 'Load' of run" in refused.json()["detail"]
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
