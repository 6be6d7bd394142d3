"""Access rules over HTTP: owner, shared user, admin and stranger, for runs, assets and connections.

alice owns things, bob (her group "analysts") is given them, carol is a stranger, root is an admin.
A stranger gets 404 exactly as for something that does not exist; a shared user who may not
manage gets 403.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from fixtures.server_support import add_people, element_id, login, make_app, start_run, wait_idle
from flowdeck.auth.users import resolve_principal
from flowdeck.config import get_settings, reconfigure
from flowdeck.server.routes_connections import GENERIC_FAILURE


@pytest.fixture
def app(deployment: str) -> Iterator[Any]:
    """A server with alice, bob, carol and root."""
    add_people()
    server = make_app()
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)  # no step may outlive the test's deployment


@pytest.fixture
def people(app: Any) -> dict[str, TestClient]:
    """A logged-in client per person."""
    return {name: login(app, name) for name in ("alice", "bob", "carol", "root")}


# --- runs -----------------------------------------------------------------------------------------


def _alice_run(people: dict[str, TestClient]) -> str:
    return start_run(people["alice"], "Fragile")


def test_a_stranger_cannot_see_or_touch_a_run(people: dict[str, TestClient]) -> None:
    run_id = _alice_run(people)
    carol = people["carol"]
    base = f"/api/runs/{run_id}"
    unknown = carol.get("/api/runs/ffffffffffffffffffffffffffffffff")
    for response in (
        carol.get(base),
        carol.get(f"{base}/steps/Ask/page"),
        carol.get(f"{base}/events", params={"until_idle": True}),
        carol.put(f"{base}/steps/Ask/elements/Word/value", json={"value": "hi"}),
        carol.post(f"{base}/steps/Ask/elements/Word/upload", files={"file": ("a.csv", b"a\n1\n")}),
        carol.post(f"{base}/next"),
        carol.post(f"{base}/back"),
        carol.post(f"{base}/rerun"),
        carol.post(f"{base}/share", json={"users": ["carol"]}),
        carol.delete(base),
    ):
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.json()["error"] == unknown.json()["error"] == "NotFoundError"
    assert carol.get("/api/runs").json() == []
    assert people["alice"].get(base).status_code == 200


def test_a_shared_user_continues_the_run_but_may_not_manage_it(people: dict[str, TestClient]) -> None:
    run_id = _alice_run(people)
    alice, bob = people["alice"], people["bob"]
    assert bob.get(f"/api/runs/{run_id}").status_code == 404
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204

    assert [r["flow_id"] for r in bob.get("/api/runs").json()] == [run_id]
    page = bob.get(f"/api/runs/{run_id}/steps/Ask/page").json()
    assert (
        bob.put(
            f"/api/runs/{run_id}/steps/Ask/elements/{element_id(page, 'Word')}/value", json={"value": "from bob"}
        ).status_code
        == 200
    )
    assert bob.post(f"/api/runs/{run_id}/next").status_code == 202
    assert wait_idle(bob, run_id)["current_step"] == "Answer"

    share = bob.post(f"/api/runs/{run_id}/share", json={"users": ["carol"]})
    assert share.status_code == 403 and "only its owner" in share.json()["detail"]
    assert bob.delete(f"/api/runs/{run_id}").status_code == 403
    assert alice.get(f"/api/runs/{run_id}").json()["user"] == "alice"


def test_sharing_with_a_group_reaches_its_members(people: dict[str, TestClient]) -> None:
    run_id = _alice_run(people)
    assert people["alice"].post(f"/api/runs/{run_id}/share", json={"groups": ["analysts"]}).status_code == 204
    assert people["bob"].get(f"/api/runs/{run_id}").status_code == 200
    assert people["carol"].get(f"/api/runs/{run_id}").status_code == 404


def test_an_admin_sees_and_manages_every_run(people: dict[str, TestClient]) -> None:
    run_id = _alice_run(people)
    root = people["root"]
    assert run_id in [r["flow_id"] for r in root.get("/api/runs").json()]
    status = root.get(f"/api/runs/{run_id}").json()
    assert status["can_manage"] is True and status["user"] == "alice"
    assert root.get(f"/api/runs/{run_id}/steps/Ask/page").status_code == 200
    assert root.post(f"/api/runs/{run_id}/share", json={"users": ["carol"]}).status_code == 204
    assert people["carol"].get(f"/api/runs/{run_id}").status_code == 200
    assert root.delete(f"/api/runs/{run_id}").status_code == 204
    assert people["alice"].get(f"/api/runs/{run_id}").status_code == 404


def test_unauthenticated_requests_get_401_everywhere(app: Any) -> None:
    anonymous = TestClient(app)
    for method, path in (
        ("GET", "/api/flows"),
        ("GET", "/api/runs"),
        ("POST", "/api/runs"),
        ("GET", "/api/runs/x"),
        ("GET", "/api/runs/x/events"),
        ("GET", "/api/assets"),
        ("GET", "/api/connections"),
        ("GET", "/api/users"),
        ("GET", "/api/tokens"),
        ("POST", "/api/logout"),
    ):
        assert anonymous.request(method, path).status_code == 401, (method, path)


# --- assets ---------------------------------------------------------------------------------------


@pytest.fixture
def asset_ids(people: dict[str, TestClient]) -> list[str]:
    """Two versions of alice's dataset 'customers' (newest last)."""
    from flowdeck.assets import Dataset
    from flowdeck.store import assets

    alice = resolve_principal("alice")
    first = assets.save_asset(
        alice,
        Dataset(pd.DataFrame({"id": [1, 2]}), "customers", metadata={"source": "crm"}, description="all customers"),
    )
    second = assets.save_asset(
        alice, Dataset(pd.DataFrame({"id": [1, 2, 3]}), "customers", metadata={"source": "crm", "rows": 3})
    )
    return [first, second]


def test_assets_list_filter_show_versions_and_download(people: dict[str, TestClient], asset_ids: list[str]) -> None:
    alice = people["alice"]
    listed = alice.get("/api/assets").json()
    assert [a["id"] for a in listed] == asset_ids[::-1]
    assert listed[0]["version"] == 2 and listed[0]["type"] == "dataset" and listed[0]["owner"] == "alice"
    assert alice.get("/api/assets", params={"label": "nothing"}).json() == []
    assert len(alice.get("/api/assets", params={"type": "dataset", "label": "customers"}).json()) == 2
    assert alice.get("/api/assets", params={"type": "model"}).json() == []

    shown = alice.get(f"/api/assets/{asset_ids[0]}").json()
    assert shown["metadata"]["source"] == "crm" and shown["description"] == "all customers"
    versions = alice.get(f"/api/assets/{asset_ids[0]}/versions").json()
    assert [v["version"] for v in versions] == [2, 1]

    download = alice.get(f"/api/assets/{asset_ids[1]}/download")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.text.splitlines() == ["id", "1", "2", "3"]
    assert "attachment" in download.headers["content-disposition"]
    parquet = alice.get(f"/api/assets/{asset_ids[1]}/download", params={"format": "parquet"})
    assert parquet.content[:4] == b"PAR1"
    assert alice.get(f"/api/assets/{asset_ids[1]}/download", params={"format": "exe"}).status_code == 422


def test_an_asset_labelled_in_any_script_downloads_under_an_ascii_file_name(people: dict[str, TestClient]) -> None:
    from flowdeck.assets import Dataset
    from flowdeck.store import assets

    asset_id = assets.save_asset(resolve_principal("alice"), Dataset(pd.DataFrame({"id": [1]}), "日本の売上\r\nX: y"))
    download = people["alice"].get(f"/api/assets/{asset_id}/download")
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"] == 'attachment; filename="_______X__y-v1.csv"'
    assert download.text.splitlines() == ["id", "1"]


def test_asset_access_for_stranger_shared_user_and_admin(people: dict[str, TestClient], asset_ids: list[str]) -> None:
    alice, bob, carol, root = (people[n] for n in ("alice", "bob", "carol", "root"))
    newest = asset_ids[1]
    for client in (bob, carol):
        assert client.get("/api/assets").json() == []
        assert client.get(f"/api/assets/{newest}").status_code == 404
        assert client.get(f"/api/assets/{newest}/download").status_code == 404
        assert client.post(f"/api/assets/{newest}/share", json={"users": ["carol"]}).status_code == 404
        assert client.delete(f"/api/assets/{newest}").status_code == 404

    assert alice.post(f"/api/assets/{newest}/share", json={"users": ["bob"]}).status_code == 204
    assert len(bob.get("/api/assets").json()) == 2  # sharing covers the lineage
    assert bob.get(f"/api/assets/{newest}/download").status_code == 200
    assert bob.post(f"/api/assets/{newest}/share", json={"users": ["carol"]}).status_code == 403
    assert bob.delete(f"/api/assets/{newest}").status_code == 403
    assert carol.get(f"/api/assets/{newest}").status_code == 404

    assert len(root.get("/api/assets").json()) == 2
    assert root.delete(f"/api/assets/{asset_ids[0]}").status_code == 204
    assert [a["id"] for a in alice.get("/api/assets").json()] == [newest]
    assert alice.delete(f"/api/assets/{newest}").status_code == 204
    assert alice.get(f"/api/assets/{newest}").status_code == 404


# --- connections ----------------------------------------------------------------------------------


def _sqlite_connection(alice: TestClient, tmp_path: Path) -> str:
    directory = get_settings().sqlite_dir
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sales.db"
    with sqlite3.connect(path) as db:
        db.execute("create table t (x integer)")
    body = {"name": "sales", "type": "sqlite", "database": "sales.db", "password": "s3cret-value"}
    assert alice.post("/api/connections", json=body).status_code == 201
    return str(path)


def test_connections_add_list_test_without_secrets(people: dict[str, TestClient], tmp_path: Path) -> None:
    alice = people["alice"]
    _sqlite_connection(alice, tmp_path)
    listed = alice.get("/api/connections")
    assert "s3cret-value" not in listed.text
    (conn,) = listed.json()
    assert conn["name"] == "sales" and conn["type"] == "sqlite" and conn["owner"] == "alice"
    assert not any("password" in key or "secret" in key for key in conn)

    tested = alice.post("/api/connections/sales/test").json()
    assert tested["ok"] is True and "SQLite" in tested["message"]
    again = alice.post("/api/connections", json={"name": "sales", "type": "sqlite", "database": "x.db"})
    assert again.status_code == 409
    bad_type = alice.post("/api/connections", json={"name": "n", "type": "oracle-ish"})
    assert bad_type.status_code == 422
    loopback = alice.post(
        "/api/connections",
        json={
            "name": "broken",
            "type": "postgresql",
            "host": "127.0.0.1",
            "port": 1,
            "database": "none",
            "username": "u",
        },
    )
    assert loopback.status_code == 403 and "FLOWDECK_ALLOW_PRIVATE_TARGETS" in loopback.json()["detail"]
    reconfigure(allow_private_targets=True, connect_timeout=0.2)
    broken = alice.post(
        "/api/connections",
        json={
            "name": "broken",
            "type": "postgresql",
            "host": "127.0.0.1",
            "port": 1,
            "database": "none",
            "username": "u",
        },
    )
    assert broken.status_code == 201
    failed = alice.post("/api/connections/broken/test")
    assert failed.status_code == 200 and failed.json() == {"name": "broken", "ok": False, "message": GENERIC_FAILURE}
    assert alice.delete("/api/connections/broken").status_code == 204
    assert [c["name"] for c in alice.get("/api/connections").json()] == ["sales"]


def test_connection_access_for_stranger_shared_user_and_admin(people: dict[str, TestClient], tmp_path: Path) -> None:
    alice, bob, carol, root = (people[n] for n in ("alice", "bob", "carol", "root"))
    _sqlite_connection(alice, tmp_path)
    for client in (bob, carol):
        assert client.get("/api/connections").json() == []
        assert client.post("/api/connections/sales/test", params={"owner": "alice"}).status_code == 404
        assert (
            client.post(
                "/api/connections/sales/share", params={"owner": "alice"}, json={"users": ["carol"]}
            ).status_code
            == 404
        )
        assert client.delete("/api/connections/sales", params={"owner": "alice"}).status_code == 404

    assert alice.post("/api/connections/sales/share", json={"users": ["bob"]}).status_code == 204
    assert [c["name"] for c in bob.get("/api/connections").json()] == ["sales"]
    assert bob.post("/api/connections/sales/test", params={"owner": "alice"}).json()["ok"] is True
    assert (
        bob.post("/api/connections/sales/share", params={"owner": "alice"}, json={"users": ["carol"]}).status_code
        == 403
    )
    assert bob.delete("/api/connections/sales", params={"owner": "alice"}).status_code == 403
    assert carol.get("/api/connections").json() == []

    assert [c["name"] for c in root.get("/api/connections").json()] == ["sales"]
    assert root.delete("/api/connections/sales", params={"owner": "alice"}).status_code == 204
    assert alice.get("/api/connections").json() == []
