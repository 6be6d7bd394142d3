"""Per-user quotas, each performed as an attack: a user creating runs, connections, asset versions,
API tokens or shares past the limit, through the library and over HTTP.

Each refusal is checked for its type (``QuotaExceededError``, a ``ValidationError``; 422 over HTTP),
its message (the limit, the count and the fix) and for leaving nothing behind (the counts of rows
and blobs are unchanged); creations started at the same moment by one owner end exactly at the
limit on every backend. alice and bob are users (group ``analysts``), carol a stranger and root
an admin; the limits are set small with ``reconfigure`` or the environment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import flowdeck
import headless_flows
from conftest import DATABASES_ONLY
from fixtures.server_support import add_people, login, make_app, start_run, wait_idle
from flowdeck import Asset, QuotaExceededError, ValidationError
from flowdeck.auth import accounts, quotas
from flowdeck.auth.users import Principal
from flowdeck.config import configure, get_settings, reconfigure
from flowdeck.errors import ConfigurationError
from flowdeck.storage import datastore as datastore_tables
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import quotas as quota_records
from flowdeck.storage.schema import api_tokens, asset_lineages, assets, connections, runs, shares, steps
from flowdeck.store import assets as asset_service
from flowdeck.store import connections as connection_service
from flowdeck.triggers import AssetTrigger, check_triggers, get_trigger

SALES = headless_flows.sales_totals  # its runs stop awaiting input at their first step: a cheap run to own
ALICE = Principal("alice", "user", ("analysts",))


def _count(table: sa.Table, *where: Any) -> int:
    with get_storage().db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def _runs(owner: str) -> int:
    return _count(runs, runs.c.owner == owner)


def _blob_files() -> int:
    return sum(1 for p in (get_settings().home / "blobs").rglob("*") if p.is_file())


def _refused(excinfo: pytest.ExceptionInfo[QuotaExceededError], setting: str, limit: int, count: int) -> str:
    """The refusal's message, after checking what it carries."""
    err = excinfo.value
    assert isinstance(err, ValidationError) and isinstance(err, ValueError)
    assert (err.setting, err.limit, err.count) == (setting, limit, count)
    message = str(err)
    assert f"({setting} = {limit:,})" in message, message
    assert f"raise FLOWDECK_{setting.upper()}" in message, message
    return message


def _refused_over_http(response: Any, setting: str) -> str:
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["error"] == "QuotaExceededError", data
    assert setting in data["detail"] and f"FLOWDECK_{setting.upper()}" in data["detail"], data
    return data["detail"]


@pytest.fixture
def people(embedded: Path) -> None:
    add_people()
    flowdeck.register_flow(SALES)


@pytest.fixture
def app(people: None) -> Iterator[Any]:
    server = make_app()
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


# --- the error and the settings -------------------------------------------------------------------


def test_the_error_is_a_validation_error_exported_like_the_others() -> None:
    assert issubclass(QuotaExceededError, ValidationError)
    assert flowdeck.errors.QuotaExceededError is QuotaExceededError
    assert "QuotaExceededError" in flowdeck.__all__ and "QuotaExceededError" in flowdeck.errors.__all__


def test_defaults_are_generous(embedded: Path) -> None:
    settings = get_settings()
    assert settings.max_runs_per_user == 100_000
    assert settings.max_connections_per_user == 1_000
    assert settings.max_asset_versions_per_user == 100_000
    assert settings.max_tokens_per_user == 100
    assert settings.max_shares_per_resource == 1_000


def test_a_quota_is_read_from_the_environment_and_flowdeck_toml(
    people: None, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWDECK_MAX_RUNS_PER_USER", "2")
    (home / "flowdeck.toml").write_text("max_tokens_per_user = 1\nmax_runs_per_user = 50\n")
    settings = configure(home=str(home))
    assert settings.max_runs_per_user == 2  # the environment wins over flowdeck.toml
    assert settings.max_tokens_per_user == 1
    assert configure(home=str(home), max_runs_per_user=3).max_runs_per_user == 3  # arguments win over both
    configure(home=str(home))
    flowdeck.start(SALES, user="alice")
    flowdeck.start(SALES, user="alice")
    with pytest.raises(QuotaExceededError) as excinfo:
        flowdeck.start(SALES, user="alice")
    _refused(excinfo, "max_runs_per_user", 2, 2)
    accounts.create_token(ALICE)
    with pytest.raises(QuotaExceededError, match=r"has 1 API tokens.*max_tokens_per_user = 1"):
        accounts.create_token(ALICE)


@pytest.mark.parametrize("bad", ["-1", "lots", "2.5", " ", "1e3"])
def test_invalid_quota_values_from_the_environment_are_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("FLOWDECK_MAX_CONNECTIONS_PER_USER", bad)
    with pytest.raises(ConfigurationError, match=r"FLOWDECK_MAX_CONNECTIONS_PER_USER must be a whole number from 0"):
        configure(home=str(home))


@pytest.mark.parametrize("bad", [-5, 1.5, True, "ten", [3]])
def test_invalid_quota_values_given_to_configure_are_refused(home: Path, bad: Any) -> None:
    for setting in ("max_runs_per_user", "max_asset_versions_per_user", "max_shares_per_resource"):
        with pytest.raises(ConfigurationError, match=f"FLOWDECK_{setting.upper()} must be a whole number"):
            configure(home=str(home), **{setting: bad})


def test_an_empty_environment_variable_leaves_the_default(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWDECK_MAX_CONNECTIONS_PER_USER", "")
    assert configure(home=str(home)).max_connections_per_user == 1_000


def test_zero_means_no_limit(people: None) -> None:
    settings = reconfigure(max_runs_per_user=0, max_tokens_per_user=0)
    assert settings.max_runs_per_user == 0
    for _ in range(3):
        flowdeck.start(SALES, user="alice")
        accounts.create_token(ALICE)
    assert _runs("alice") == 3 and _count(api_tokens, api_tokens.c.user_name == "alice") == 3


# --- runs: start, fork, headless, triggers, the REST routes -----------------------------------------


def test_runs_past_the_quota_are_refused_on_every_library_path(people: None) -> None:
    reconfigure(max_runs_per_user=2)
    first = flowdeck.start(SALES, user="alice")
    flowdeck.start(SALES, user="alice")
    steps_before = _count(steps)
    with pytest.raises(QuotaExceededError) as excinfo:
        flowdeck.start(SALES, user="alice")
    message = _refused(excinfo, "max_runs_per_user", 2, 2)
    assert message.startswith("user 'alice' has 2 runs, the most their quota allows")
    assert "flowdeck.delete_run" in message and "DELETE /api/runs/{id}" in message
    with pytest.raises(QuotaExceededError, match="max_runs_per_user"):
        flowdeck.fork_run(first.flow_id, "Load", user="alice")
    with pytest.raises(QuotaExceededError, match="max_runs_per_user"):
        flowdeck.run_headless(SALES.name, "alice", {})
    assert _runs("alice") == 2 and _count(steps) == steps_before  # nothing half-written
    # The quota is alice's own: bob still starts runs; deleting one of hers makes room again.
    flowdeck.start(SALES, user="bob")
    flowdeck.delete_run(first.flow_id, user="alice")
    forked = flowdeck.fork_run(flowdeck.list_runs(user="alice")[0].flow_id, "Load", user="alice")
    assert forked.flow_id and _runs("alice") == 2


def test_a_trigger_firing_over_the_quota_is_recorded_as_failed_and_the_scheduler_goes_on(people: None) -> None:
    reconfigure(max_runs_per_user=1)
    flowdeck.start(SALES, user="alice")
    name = AssetTrigger(label="scores", max_retries=0).configure(SALES.name, user_id="alice").start()
    check_triggers()
    asset_service.save_asset(ALICE, Asset({"x": 1}, label="scores", type="dataset"))
    ticks = check_triggers()  # does not raise
    assert [t.outcome for t in ticks] == ["failed"]
    assert ticks[0].run_id is None
    assert ticks[0].error.startswith("QuotaExceededError: user 'alice' has 1 runs")
    assert "max_runs_per_user = 1" in ticks[0].error
    _, history = get_trigger(name, "alice")
    assert [t.outcome for t in history] == ["failed"]
    assert _runs("alice") == 1


def test_runs_past_the_quota_are_refused_over_http(app: Any) -> None:
    reconfigure(max_runs_per_user=1)
    alice = login(app, "alice")
    run_id = start_run(alice, "Customer churn")
    steps_before = _count(steps)
    _refused_over_http(alice.post("/api/runs", json={"flow": "Customer churn"}), "max_runs_per_user")
    status = wait_idle(alice, run_id)
    fork_step = status["steps"][0]["name"]
    _refused_over_http(alice.post(f"/api/runs/{run_id}/fork", json={"step": fork_step}), "max_runs_per_user")
    token = alice.post("/api/tokens", json={"label": "etl"}).json()["token"]
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    _refused_over_http(script.post(f"/api/flows/{SALES.name}/runs", json={"steps": {}}), "max_runs_per_user")
    assert _runs("alice") == 1 and _count(steps) == steps_before
    assert len(alice.get("/api/runs").json()) == 1


def test_an_admin_owns_runs_past_the_quota_but_acting_for_a_user_counts_against_the_user(app: Any) -> None:
    reconfigure(max_runs_per_user=1)
    for _ in range(3):
        flowdeck.start(SALES, user="root")
    assert _runs("root") == 3
    root = login(app, "root")
    start_run(root, "Customer churn")
    assert _runs("root") == 4
    run = flowdeck.start(SALES, user="alice")
    # root forks alice's run: the fork is root's, so it is not limited ...
    root_fork = root.post(f"/api/runs/{run.flow_id}/fork", json={"step": "Load"})
    assert root_fork.status_code == 201, root_fork.text
    # ... while what root creates for alice uses alice's quota.
    reconfigure(max_connections_per_user=1)
    connection_service.add_connection("c1", "postgresql", owner="alice", host="db.example.com", user="root")
    with pytest.raises(QuotaExceededError, match="user 'alice' has 1 connections"):
        connection_service.add_connection("c2", "postgresql", owner="alice", host="db.example.com", user="root")
    for index in range(3):
        connection_service.add_connection(f"r{index}", "postgresql", owner="root", host="db.example.com")


# --- connections ------------------------------------------------------------------------------------


def test_connections_past_the_quota_are_refused(app: Any) -> None:
    reconfigure(max_connections_per_user=2, allow_private_targets=True)
    connection_service.add_connection("one", "postgresql", owner="alice", host="db.example.com")
    alice = login(app, "alice")
    body = {"name": "two", "type": "postgresql", "host": "127.0.0.1", "port": 5432, "username": "u", "password": "p"}
    assert alice.post("/api/connections", json=body).status_code == 201
    with pytest.raises(QuotaExceededError) as excinfo:
        connection_service.add_connection("three", "postgresql", owner="alice", host="db.example.com")
    message = _refused(excinfo, "max_connections_per_user", 2, 2)
    assert "flowdeck connections remove NAME" in message
    detail = _refused_over_http(
        alice.post("/api/connections", json={**body, "name": "three"}), "max_connections_per_user"
    )
    assert "user 'alice' has 2 connections" in detail
    # A name she has already is still the error it was: the quota does not hide it.
    assert alice.post("/api/connections", json=body).status_code == 409
    assert _count(connections, connections.c.owner == "alice") == 2
    connection_service.remove_connection("one", owner="alice")
    assert alice.post("/api/connections", json={**body, "name": "three"}).status_code == 201


# --- asset versions ---------------------------------------------------------------------------------


def test_asset_versions_past_the_quota_are_refused_before_any_bytes_are_written(people: None) -> None:
    reconfigure(max_asset_versions_per_user=3)
    for index in range(3):
        asset_service.save_asset(ALICE, Asset({"v": index}, label="model", type="dataset"))
    versions_before, blobs_before = _count(assets), _blob_files()
    for label in ("model", "another"):  # a new version of a lineage, or a new lineage
        big = Asset({"padding": "x" * 200_000}, label=label, type="dataset")
        with pytest.raises(QuotaExceededError) as excinfo:
            asset_service.save_asset(ALICE, big)
        message = _refused(excinfo, "max_asset_versions_per_user", 3, 3)
        assert "user 'alice' has 3 asset versions" in message and "flowdeck assets delete ID" in message
        assert big.id is None
    assert _count(assets) == versions_before and _blob_files() == blobs_before
    assert _count(asset_lineages, asset_lineages.c.label == "another") == 0
    # The same through a run's store (as flow code saves them).
    run = flowdeck.start(SALES, user="alice")
    with pytest.raises(QuotaExceededError, match="max_asset_versions_per_user"):
        flowdeck.StoreInterface(run.flow_id, user="alice").save_asset(Asset({"v": 9}, label="model", type="dataset"))
    # A datastore asset over the quota is refused before its table is written.
    store = flowdeck.StoreInterface(run.flow_id, user="alice")
    with pytest.raises(QuotaExceededError, match="max_asset_versions_per_user"):
        store.save_datastore_asset(pd.DataFrame({"a": [1, 2]}), "quota_sales")
    assert not datastore_tables.table_exists(datastore_tables.datastore_engine(), "quota_sales")
    assert _count(assets) == versions_before
    # Overwriting in place adds no version, so it is allowed at the quota.
    replaced = Asset({"v": "new"}, label="model", type="dataset")
    asset_service.save_asset(ALICE, replaced, overwrite=True)
    assert replaced.version == 3 and _count(assets) == versions_before
    # Deleting a version makes room.
    asset_service.delete_asset(replaced.id, user="alice")
    asset_service.save_asset(ALICE, Asset({"v": 4}, label="model", type="dataset"))
    # Admins' assets are not limited.
    root = Principal("root", "admin")
    for index in range(4):
        asset_service.save_asset(root, Asset({"v": index}, label="model", type="dataset"))


# --- API tokens -------------------------------------------------------------------------------------


def test_tokens_past_the_quota_are_refused(app: Any) -> None:
    reconfigure(max_tokens_per_user=2)
    alice = login(app, "alice")
    minted = [alice.post("/api/tokens", json={"label": f"t{i}"}) for i in range(2)]
    assert [m.status_code for m in minted] == [201, 201]
    detail = _refused_over_http(alice.post("/api/tokens", json={"label": "t3"}), "max_tokens_per_user")
    assert detail.startswith("user 'alice' has 2 API tokens") and "DELETE /api/tokens/{id}" in detail
    with pytest.raises(QuotaExceededError) as excinfo:
        accounts.create_token(ALICE, "from a script")
    _refused(excinfo, "max_tokens_per_user", 2, 2)
    assert _count(api_tokens, api_tokens.c.user_name == "alice") == 2
    # Revoking one makes room; the refused token never worked.
    assert alice.delete(f"/api/tokens/{minted[0].json()['id']}").status_code == 204
    assert alice.post("/api/tokens", json={"label": "t3"}).status_code == 201
    # An admin has as many as they like.
    root = login(app, "root")
    assert all(root.post("/api/tokens", json={}).status_code == 201 for _ in range(4))


# --- shares -----------------------------------------------------------------------------------------


def test_sharing_with_more_groups_than_the_quota_is_refused(app: Any) -> None:
    reconfigure(max_shares_per_resource=3)
    alice = login(app, "alice")
    run_id = start_run(alice, "Customer churn")
    share = f"/api/runs/{run_id}/share"
    assert alice.post(share, json={"users": ["bob"], "groups": ["g1", "g2"]}).status_code == 204

    def run_shares() -> int:
        return _count(shares, shares.c.resource_kind == "run", shares.c.resource_id == run_id)

    # The attack: a stream of made-up group names (a group needs no members to be shared with).
    detail = _refused_over_http(alice.post(share, json={"groups": ["g3"]}), "max_shares_per_resource")
    assert detail.startswith(f"run {run_id!r} is shared with 3 users and groups; sharing it with 1 more")
    assert "flowdeck unshare" in detail
    many = [f"flood-{i}" for i in range(50)]
    _refused_over_http(alice.post(share, json={"groups": many}), "max_shares_per_resource")
    assert run_shares() == 3  # the whole request was refused: none of the 50 was written
    # Sharing again with whom it is shared with already adds nothing and is fine at the limit.
    assert alice.post(share, json={"users": ["bob"], "groups": ["g1", "g1"]}).status_code == 204
    with pytest.raises(QuotaExceededError) as excinfo:
        flowdeck.share_run(run_id, owner="alice", groups=["g4"])
    _refused(excinfo, "max_shares_per_resource", 3, 3)
    # An admin sharing alice's run is held to the same limit: it is alice's run.
    root = login(app, "root")
    _refused_over_http(root.post(share, json={"groups": ["g5"]}), "max_shares_per_resource")
    assert run_shares() == 3
    # Unsharing makes room.
    assert alice.delete(f"/api/runs/{run_id}/shares/group/g2").status_code == 204
    assert alice.post(share, json={"groups": ["g3"]}).status_code == 204
    assert run_shares() == 3


def test_asset_and_connection_shares_are_limited_too(people: None) -> None:
    reconfigure(max_shares_per_resource=2)
    asset_id = asset_service.save_asset(ALICE, Asset({"x": 1}, label="scores", type="dataset"))
    asset_service.share_asset(asset_id, owner="alice", groups=["a", "b"])
    with pytest.raises(QuotaExceededError) as excinfo:
        asset_service.share_asset(asset_id, owner="alice", groups=["c"])
    message = _refused(excinfo, "max_shares_per_resource", 2, 2)
    assert message.startswith(f"asset {asset_id!r} ('scores', version 1) is shared with 2 users and groups")
    assert "the most one asset may be shared with (max_shares_per_resource = 2)" in message
    connection_service.add_connection("db", "postgresql", owner="alice", host="db.example.com")
    with pytest.raises(QuotaExceededError, match=r"connection 'db' is shared with 0 users and groups; .* 3 more"):
        connection_service.share_connection("db", owner="alice", groups=["x", "y", "z"])
    assert _count(shares, shares.c.resource_kind == "connection") == 0
    # Resources owned by an admin are not limited.
    root = Principal("root", "admin")
    root_asset = asset_service.save_asset(root, Asset({"x": 1}, label="scores", type="dataset"))
    asset_service.share_asset(root_asset, owner="root", groups=["a", "b", "c", "d"])


# --- creations at the same moment -----------------------------------------------------------------
# Each quota check takes a lock of its quota and owner (of its resource, for shares) until its
# transaction ends: RACERS creations of one owner started together by a barrier end exactly at the
# limit on every backend. Without the lock PostgreSQL and MariaDB let several of them count the
# same rows and pass. Each round is a new owner (registered first: a user's first creation would
# register them, and that insert alone would make the others wait) or a new resource.

RACERS = 8
ROUNDS = 4
LIMIT = 3


def _at_once(create: Callable[[int], object]) -> list[BaseException | None]:
    """Run ``create(0)`` ... ``create(RACERS - 1)`` in threads released together; each one's error or None."""
    barrier = threading.Barrier(RACERS)
    outcomes: list[BaseException | None] = [None] * RACERS

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            create(index)
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _new_owner(round_: int) -> Principal:
    name = f"racer{round_}"
    flowdeck.add_user(name)
    return Principal(name, "user")


def _race_runs(round_: int) -> tuple[Callable[[int], object], Callable[[], int]]:
    owner = _new_owner(round_)
    return (lambda _: flowdeck.start(SALES, user=owner.name)), (lambda: _runs(owner.name))


def _race_connections(round_: int) -> tuple[Callable[[int], object], Callable[[], int]]:
    owner = _new_owner(round_)

    def create(index: int) -> object:
        return connection_service.add_connection(f"c{index}", "postgresql", owner=owner.name, host="db.example.com")

    return create, lambda: _count(connections, connections.c.owner == owner.name)


def _race_asset_versions(round_: int) -> tuple[Callable[[int], object], Callable[[], int]]:
    owner = _new_owner(round_)

    def create(index: int) -> object:  # a lineage each: no lineage's row lock puts them in turn
        return asset_service.save_asset(owner, Asset({"v": index}, label=f"m{index}", type="dataset"))

    versions = sa.select(assets.c.id).join(asset_lineages, asset_lineages.c.id == assets.c.lineage_id)
    return create, lambda: _count(assets, assets.c.id.in_(versions.where(asset_lineages.c.owner == owner.name)))


def _race_tokens(round_: int) -> tuple[Callable[[int], object], Callable[[], int]]:
    owner = _new_owner(round_)
    return (lambda _: accounts.create_token(owner)), lambda: _count(api_tokens, api_tokens.c.user_name == owner.name)


def _race_shares(round_: int) -> tuple[Callable[[int], object], Callable[[], int]]:
    asset_id = asset_service.save_asset(ALICE, Asset({"round": round_}, label=f"shared{round_}", type="dataset"))

    def create(index: int) -> object:
        return asset_service.share_asset(asset_id, owner="alice", groups=[f"g{round_}-{index}"])

    return create, lambda: _count(shares, shares.c.principal.like(f"g{round_}-%"))


RACES = {
    "max_runs_per_user": _race_runs,
    "max_connections_per_user": _race_connections,
    "max_asset_versions_per_user": _race_asset_versions,
    "max_tokens_per_user": _race_tokens,
    "max_shares_per_resource": _race_shares,
}


@DATABASES_ONLY
@pytest.mark.parametrize("setting", list(RACES))
def test_creations_at_the_same_moment_end_exactly_at_the_limit(deployment: str, setting: str) -> None:
    add_people()
    flowdeck.register_flow(SALES)
    reconfigure(**{setting: LIMIT})
    for round_ in range(ROUNDS):
        create, count = RACES[setting](round_)
        outcomes = _at_once(create)
        refused = [o for o in outcomes if o is not None]
        assert all(isinstance(o, QuotaExceededError) and o.setting == setting for o in refused), refused
        assert (RACERS - len(refused), count()) == (LIMIT, LIMIT), f"round {round_}: {refused}"


def _lock_is_free(quota: str, subject: str) -> bool:
    """Whether a connection of its own, outside the deployment's pool, takes the quota's lock at once."""
    engine = sa.create_engine(get_settings().database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return quota_records.lock_quota(conn, quota, subject, 0.2)
    finally:
        engine.dispose()


@pytest.mark.backends("postgres", "mariadb")
def test_a_creation_waits_for_the_lock_a_bounded_time_and_the_lock_ends_with_the_transaction(
    deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_people()
    reconfigure(max_tokens_per_user=5)
    monkeypatch.setattr(quotas, "LOCK_TIMEOUT", 0.5)
    db = get_storage().db
    with db.write() as conn:
        quotas.require_room_for_token(conn, "alice")  # holds alice's token quota until the commit
        started = time.monotonic()
        with pytest.raises(flowdeck.QuotaBusyError) as excinfo:
            accounts.create_token(ALICE)
        assert 0.4 < time.monotonic() - started < 3
        assert isinstance(excinfo.value, flowdeck.errors.FlowdeckError) and isinstance(excinfo.value, TimeoutError)
        message = str(excinfo.value)
        assert message.startswith("user 'alice' is creating other API tokens at this moment"), message
        assert "max_tokens_per_user waited 0.5 s" in message and "try again" in message, message
        accounts.create_token(Principal("bob", "user"))  # another owner's quota is not held
        assert not _lock_is_free("max_tokens_per_user", "alice")
    assert _lock_is_free("max_tokens_per_user", "alice")
    accounts.create_token(ALICE)
    assert _count(api_tokens, api_tokens.c.user_name == "alice") == 1
    # A transaction that fails gives the lock back too, and so does a refused creation.
    with pytest.raises(RuntimeError, match="half-way"), db.write() as conn:
        quotas.require_room_for_token(conn, "alice")
        raise RuntimeError("half-way")
    assert _lock_is_free("max_tokens_per_user", "alice")
    reconfigure(max_tokens_per_user=1)
    with pytest.raises(QuotaExceededError):
        accounts.create_token(ALICE)
    assert _lock_is_free("max_tokens_per_user", "alice")
    # The quota of shares is held per resource.
    with db.write() as conn:
        quotas.require_share_quota(conn, "run", "r1", "alice", "run 'r1'", 1)
        assert not _lock_is_free("max_shares_per_resource", "run:r1")
        assert _lock_is_free("max_shares_per_resource", "run:r2")
    assert _lock_is_free("max_shares_per_resource", "run:r1")


@pytest.mark.backends("postgres", "mariadb")
def test_a_quota_busy_past_its_wait_answers_503_with_retry_after(
    deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_people()
    app = make_app()
    alice = login(app, "alice")
    reconfigure(max_tokens_per_user=5)
    monkeypatch.setattr(quotas, "LOCK_TIMEOUT", 0.5)
    with get_storage().db.write() as conn:
        quotas.require_room_for_token(conn, "alice")  # another creation of alice's holds the quota
        answer = alice.post("/api/tokens", json={"label": "etl"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.json()["error"] == "QuotaBusyError" and "try again" in answer.json()["detail"]
    assert _count(api_tokens, api_tokens.c.user_name == "alice") == 0
    assert alice.post("/api/tokens", json={"label": "etl"}).status_code == 201
    app.state.flowdeck.executor.shutdown(wait=True)
