"""Sharing can be revoked everywhere (library, API, CLI), and sharing creates no users."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import flowdeck
import sample_flows
from fixtures.server_support import add_people, login, make_app, start_run
from flowdeck import AccessError, Dataset, NotFoundError, StoreInterface, ValidationError
from flowdeck.auth.users import resolve_principal
from flowdeck.cli import app as cli_app
from flowdeck.store import runs as run_service
from flowdeck.store.assets import list_assets
from flowdeck.store.connections import list_connections, unshare_connection


def _sqlite_file(tmp_path: Path) -> str:
    # sqlite connections must live in the deployment's sqlite directory (FLOWDECK_SQLITE_DIR)
    from flowdeck.config import get_settings

    folder = get_settings().sqlite_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sales.db"
    with sqlite3.connect(path) as db:
        db.execute("create table t (x integer)")
        db.execute("insert into t values (7)")
    return str(path)


def _names() -> list[str]:
    return [p.name for p in flowdeck.list_users()]


# --- library -------------------------------------------------------------------------------------


def test_unsharing_revokes_runs_assets_and_connections(deployment: str, tmp_path: Path) -> None:
    flowdeck.add_user("alice")
    flowdeck.add_user("bob")
    flowdeck.add_user("carol", groups=["analysts"])
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    flow_id = run.flow_id

    flowdeck.share_run(flow_id, owner="alice", users=["bob"], groups=["analysts"])
    assert flowdeck.open_run(flow_id, user="bob").flow_id == flow_id
    with pytest.raises(AccessError, match=rf"^user 'bob' may not unshare run '{flow_id}': only its owner 'alice'"):
        flowdeck.unshare_run(flow_id, owner="bob", users=["carol"])
    flowdeck.unshare_run(flow_id, owner="alice", users=["bob"])
    flowdeck.unshare_run(flow_id, owner="alice", users=["bob"])  # again: nothing to revoke, no error
    with pytest.raises(NotFoundError, match=rf"^no run '{flow_id}' visible to user 'bob'$"):
        flowdeck.open_run(flow_id, user="bob")
    assert flowdeck.list_runs(user="bob") == []
    assert flowdeck.open_run(flow_id, user="carol").flow_id == flow_id  # through the group
    flowdeck.unshare_run(flow_id, owner="alice", groups=["analysts"])
    with pytest.raises(NotFoundError, match=rf"^no run '{flow_id}' visible to user 'carol'$"):
        StoreInterface(flow_id, user="carol")

    store = StoreInterface(flow_id, user="alice", step_name="Produce")
    asset_id = store.save_asset(Dataset(pd.DataFrame({"x": [1, 2]}), "churn"))
    flowdeck.share_asset(asset_id, owner="alice", users=["bob"])
    assert StoreInterface(flow_id, user="alice").get_asset_by_id(asset_id).label == "churn"
    assert [a.id for a in list_assets(user="bob")] == [asset_id]
    flowdeck.unshare_asset(asset_id, owner="alice", users="bob")
    assert list_assets(user="bob") == []

    flowdeck.add_connection("sales", "sqlite", "alice", database=_sqlite_file(tmp_path))
    flowdeck.share_connection("sales", owner="alice", users=["bob"], groups=["analysts"])
    assert [c.shared_with for c in list_connections("alice")] == [["group:analysts", "user:bob"]]
    assert [c.name for c in list_connections("bob")] == ["sales"]
    with pytest.raises(AccessError, match=r"^user 'bob' may not unshare connection 'sales': only its owner"):
        unshare_connection("sales", owner="alice", users=["carol"], user="bob")
    info = flowdeck.unshare_connection("sales", owner="alice", users=["bob"])
    assert info.shared_with == ["group:analysts"]
    assert list_connections("bob") == []
    flowdeck.share_run(flow_id, owner="alice", users=["bob"])
    with pytest.raises(NotFoundError, match=r"^no connection 'sales' of user 'alice'$"):
        StoreInterface(flow_id, user="bob").db_to_pandas("select x from t", "sales", connection_owner="alice")


def test_sharing_creates_nobody_and_checks_names(deployment: str) -> None:
    flowdeck.add_user("alice")
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    alice = resolve_principal("alice")
    before = _names()
    with pytest.raises(NotFoundError, match=r"^no user 'ghost': a resource can be shared only with an existing user"):
        run_service.share_run(run.flow_id, alice, ["ghost"])
    too_long = "g" * 201
    with pytest.raises(ValidationError, match=r"^user name 'g{40}'\.\.\. is longer than 200 characters$"):
        flowdeck.share_run(run.flow_id, owner="alice", users=[too_long])
    with pytest.raises(ValidationError, match=r"^group name 'g{40}'\.\.\. is longer than 200 characters$"):
        flowdeck.share_run(run.flow_id, owner="alice", groups=[too_long])
    assert _names() == before
    assert run_service.run_shares(run.flow_id, alice) == []


# --- API -----------------------------------------------------------------------------------------


@pytest.fixture
def server(embedded: Path) -> Iterator[Any]:
    add_people()
    app = make_app()
    yield app
    app.state.flowdeck.executor.shutdown(wait=True)


def test_api_lists_and_revokes_shares_owner_or_admin_only(server: Any, tmp_path: Path) -> None:
    alice, bob, carol, root = (login(server, n) for n in ("alice", "bob", "carol", "root"))
    run_id = start_run(alice, "Fragile")
    run = f"/api/runs/{run_id}"
    assert alice.post(f"{run}/share", json={"users": ["bob"], "groups": ["ops"]}).status_code == 204
    assert alice.get(f"{run}/shares").json() == [{"kind": "group", "name": "ops"}, {"kind": "user", "name": "bob"}]
    assert bob.get(run).status_code == 200
    assert bob.get(f"{run}/shares").status_code == 403
    denied = bob.delete(f"{run}/shares/user/bob")
    assert denied.status_code == 403 and "may not unshare run" in denied.json()["detail"]
    assert carol.delete(f"{run}/shares/user/bob").status_code == 404
    assert alice.delete(f"{run}/shares/someone/bob").status_code == 422
    assert alice.delete(f"{run}/shares/user/bob").status_code == 204
    assert bob.get(run).status_code == 404
    assert bob.get("/api/runs").json() == []
    assert root.delete(f"{run}/shares/group/ops").status_code == 204
    assert alice.get(f"{run}/shares").json() == []

    store = StoreInterface(run_id, user="alice")
    asset_id = store.save_asset(Dataset(pd.DataFrame({"x": [1]}), "churn"))
    assets = f"/api/assets/{asset_id}"
    assert alice.post(f"{assets}/share", json={"users": ["bob"]}).status_code == 204
    assert bob.get(assets).status_code == 200
    assert bob.delete(f"{assets}/shares/user/bob").status_code == 403
    assert alice.get(f"{assets}/shares").json() == [{"kind": "user", "name": "bob"}]
    assert alice.delete(f"{assets}/shares/user/bob").status_code == 204
    assert bob.get(assets).status_code == 404

    body = {"name": "sales", "type": "sqlite", "database": _sqlite_file(tmp_path)}
    assert alice.post("/api/connections", json=body).status_code == 201
    assert alice.post("/api/connections/sales/share", json={"users": ["bob"]}).status_code == 204
    assert [c["name"] for c in bob.get("/api/connections").json()] == ["sales"]
    as_owner = {"owner": "alice"}
    assert bob.delete("/api/connections/sales/shares/user/bob", params=as_owner).status_code == 403
    assert root.get("/api/connections/sales/shares", params=as_owner).json() == [{"kind": "user", "name": "bob"}]
    assert root.delete("/api/connections/sales/shares/user/bob", params=as_owner).status_code == 204
    assert bob.get("/api/connections").json() == []


def test_api_shares_only_with_existing_users(server: Any) -> None:
    alice = login(server, "alice")
    run_id = start_run(alice, "Fragile")
    before = _names()
    for users in (["ghost"], ["g" * 201]):
        answer = alice.post(f"/api/runs/{run_id}/share", json={"users": users})
        assert answer.status_code in (404, 422), answer.text
        assert answer.json()["error"] in ("NotFoundError", "ValidationError")
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["ghost"]}).json() == {
        "error": "NotFoundError",
        "detail": "no user 'ghost': a resource can be shared only with an existing user; "
        "check the name, or create the user first (flowdeck users add ghost)",
    }
    asset_id = StoreInterface(run_id, user="alice").save_asset(Dataset(pd.DataFrame({"x": [1]}), "churn"))
    assert alice.post(f"/api/assets/{asset_id}/share", json={"users": ["ghost"]}).status_code == 404
    assert _names() == before


# --- CLI -----------------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


def test_cli_shares_and_unshares_runs_assets_and_connections(embedded: Path, tmp_path: Path) -> None:
    flowdeck.add_user("alice")
    flowdeck.add_user("bob")
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    shared = _cli("share", run.flow_id, "--user", "bob", "--as", "alice")
    assert shared.exit_code == 0, shared.output
    assert f"shared run {run.flow_id} with user bob" in shared.output
    assert flowdeck.open_run(run.flow_id, user="bob").flow_id == run.flow_id
    revoked = _cli("unshare", run.flow_id, "--user", "bob", "--as", "alice")
    assert revoked.exit_code == 0 and f"stopped sharing run {run.flow_id} with user bob" in revoked.output
    with pytest.raises(NotFoundError):
        flowdeck.open_run(run.flow_id, user="bob")
    ghost = _cli("share", run.flow_id, "--user", "ghost", "--as", "alice")
    assert ghost.exit_code != 0 and isinstance(ghost.exception, NotFoundError)
    assert "ghost" not in _names()

    asset_id = StoreInterface(run.flow_id, user="alice").save_asset(Dataset(pd.DataFrame({"x": [1]}), "churn"))
    assert _cli("assets", "share", asset_id, "--user", "bob", "--as", "alice").exit_code == 0
    assert [a.id for a in list_assets(user="bob")] == [asset_id]
    assert _cli("assets", "unshare", asset_id, "--user", "bob", "--as", "alice").exit_code == 0
    assert list_assets(user="bob") == []

    flowdeck.add_connection("sales", "sqlite", "alice", database=_sqlite_file(tmp_path))
    assert _cli("connections", "share", "sales", "-u", "alice", "--with-user", "bob").exit_code == 0
    assert [c.name for c in list_connections("bob")] == ["sales"]
    out = _cli("connections", "unshare", "sales", "-u", "alice", "--with-user", "bob")
    assert out.exit_code == 0 and "is shared with nobody" in out.output
    assert list_connections("bob") == []
