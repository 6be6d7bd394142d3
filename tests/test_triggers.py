"""Triggers against real services: the S3-protocol server, PostgreSQL, the asset catalogue; exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import flowdeck
import headless_flows
from flowdeck import Asset, StoreInterface
from flowdeck.errors import NotFoundError
from flowdeck.flow.registry import origins_of
from flowdeck.triggers import (
    AssetTrigger,
    CompositeTrigger,
    PostgresTrigger,
    S3Trigger,
    ScheduleTrigger,
    check_triggers,
    get_trigger,
    pause_trigger,
    resume_trigger,
    run_scheduler,
)
from s3_server import DUMMY_AWS_ENV
from test_executors import celery_worker, needs_redis  # noqa: F401  (a real worker process on its own queue)

FLOW = "One step"


@pytest.fixture(autouse=True)
def _registered(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("deployment" if "deployment" in request.fixturenames else "embedded")
    flowdeck.register_flow(headless_flows.one_step)


def runs_of(user: str) -> list[str]:
    return [s.flow_id for s in flowdeck.list_runs(user=user) if s.flow_name == FLOW]


def save_asset(user: str, label: str) -> str:
    store = StoreInterface(flowdeck.run_headless("Sales totals", user), user=user)
    return store.save_asset(Asset({"x": 1}, label=label, type="dataset"))


@pytest.fixture
def sales_flow() -> None:
    flowdeck.register_flow(headless_flows.sales_totals)  # its runs stop awaiting input: a cheap way to own a run


def test_two_new_s3_keys_start_exactly_two_runs(deployment, s3_server, monkeypatch) -> None:
    for key, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.create_bucket()
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="in/old.csv", Body=b"a\n1\n")
    flowdeck.add_connection(
        "landing zone", "s3", owner="alice", username="testing", password="testing",
        endpoint_url=s3_server.endpoint_url, region="us-east-1",
    )  # fmt: skip
    trigger = S3Trigger("landing", bucket, prefix="in/", pattern="in/*.csv", mode="NEW", connection="landing zone")
    name = trigger.configure(app_id=FLOW, user_id="alice").start()
    assert check_triggers() == []  # the first look records what is there
    client.put_object(Bucket=bucket, Key="in/a.csv", Body=b"a\n1\n")
    client.put_object(Bucket=bucket, Key="in/b.csv", Body=b"a\n2\n")
    client.put_object(Bucket=bucket, Key="in/skip.txt", Body=b"not a csv")
    ticks = check_triggers()
    assert sorted(t.firing_key for t in ticks) == ["s3:in/a.csv", "s3:in/b.csv"]
    assert [t.outcome for t in ticks] == ["fired", "fired"]
    assert check_triggers() == []
    assert sorted(runs_of("alice")) == sorted(t.run_id for t in ticks)
    assert set(origins_of(runs_of("alice")).values()) == {f"trigger:{name}"}
    info, history = get_trigger(name, "alice")
    assert info.state["seen"].keys() == {"in/old.csv", "in/a.csv", "in/b.csv"}
    assert len(history) == 2 and all(h.duration_ms is not None for h in history)


def test_an_s3_trigger_without_a_connection_lists_with_server_credentials_for_admins_only(
    deployment, s3_server, monkeypatch
) -> None:
    # The server's own AWS credentials (here the environment's) reach a bucket only alice's keys should.
    for key, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.create_bucket()
    s3_server.client().put_object(Bucket=bucket, Key="in/a.csv", Body=b"a\n1\n")
    where = {"bucket": bucket, "prefix": "in/", "endpoint_url": s3_server.endpoint_url, "app_id": FLOW}
    flowdeck.add_user("ops", role="admin")
    S3Trigger("borrowed", user_id="alice", **where).start()
    S3Trigger("operators", user_id="ops", **where).start()
    assert check_triggers() == []
    info, history = get_trigger("borrowed", "alice")
    assert info.state == {} and history == []
    assert info.last_reason.startswith("check failed: AccessError: user 'alice' may not list bucket")
    assert "connection=NAME" in info.last_reason
    assert get_trigger("operators", "ops")[0].state["seen"].keys() == {"in/a.csv"}


@pytest.fixture
def pg_table(pg_url: str) -> Iterator[str]:
    name = f"fd_trig_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (id int)")
    yield name
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {name}")
    engine.dispose()


def test_a_postgres_count_crossing_its_threshold_once_starts_one_run(embedded, pg_url, pg_table) -> None:
    # the watched database is PostgreSQL whatever the deployment, so one deployment is enough
    url = sa.make_url(pg_url)
    flowdeck.add_connection(
        "warehouse",
        type="postgresql",
        owner="alice",
        host=url.host,
        port=url.port or 5432,
        database=url.database,
        username=url.username,
        password="unused",
    )
    table = sa.table(pg_table, sa.column("id"))
    query = sa.select(sa.func.count()).select_from(table)
    PostgresTrigger("three orders", query, mode="COUNT", threshold=3, connection="warehouse").configure(
        FLOW, user_id="alice"
    ).start()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {pg_table} VALUES (1), (2)")
    assert check_triggers() == []
    with engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {pg_table} VALUES (3)")
    fired = check_triggers()
    with engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {pg_table} VALUES (4), (5)")
    assert check_triggers() == []
    engine.dispose()
    assert [t.firing_key for t in fired] == ["pg-count:1"] and len(runs_of("alice")) == 1


def test_a_postgres_trigger_on_the_deployment_database_is_for_admins(deployment) -> None:
    query = sa.select(sa.func.count()).select_from(sa.table("users"))
    name = PostgresTrigger(query=query, threshold=1).configure(FLOW, user_id="alice").start()
    assert check_triggers() == []
    info, _ = get_trigger(name, "alice")
    assert "may not query the deployment's own database from a trigger" in info.last_reason
    assert runs_of("alice") == []


def test_a_new_asset_starts_one_run_and_only_visible_ones_count(deployment, sales_flow) -> None:
    AssetTrigger(label="scores", mode="CREATED").configure(FLOW, user_id="alice").start()
    assert check_triggers() == []
    save_asset("bob", "scores")  # bob's asset is not alice's to see
    assert check_triggers() == []
    asset_id = save_asset("alice", "scores")
    fired = check_triggers()
    assert [t.firing_key for t in fired] == [f"asset:{asset_id}"]
    assert check_triggers() == [] and len(runs_of("alice")) == 1


def test_or_and_and_compositions(deployment, sales_flow) -> None:
    either = CompositeTrigger("either", [AssetTrigger(label="a"), AssetTrigger(label="b")], "OR")
    both = CompositeTrigger("both", [AssetTrigger(label="a"), AssetTrigger(label="b")], "AND")
    either.configure(FLOW, user_id="alice").start()
    both.configure(FLOW, user_id="alice").start()
    assert check_triggers() == []
    save_asset("alice", "a")
    first = check_triggers()
    assert len(first) == 1 and first[0].firing_key.startswith("or:")
    save_asset("alice", "b")
    second = check_triggers()
    assert len(second) == 2  # OR fires for b; AND fires now that both a and b happened
    assert check_triggers() == []
    _, both_ticks = get_trigger("both", "alice")
    _, either_ticks = get_trigger("either", "alice")
    assert len(both_ticks) == 1 and len(either_ticks) == 2 and len(runs_of("alice")) == 3


def test_dry_run_records_the_tick_and_starts_nothing(deployment, sales_flow) -> None:
    name = AssetTrigger(label="scores", dry_run=True).configure(FLOW, user_id="alice").start()
    check_triggers()
    save_asset("alice", "scores")
    assert check_triggers() == []
    _, ticks = get_trigger(name, "alice")
    assert [t.outcome for t in ticks] == ["dry_run"] and ticks[0].run_id is None
    assert runs_of("alice") == []


def test_pause_resume_and_retries_with_back_off(deployment, sales_flow) -> None:
    name = AssetTrigger(label="scores", max_retries=1).configure("Not yet registered", user_id="alice").start()
    check_triggers()
    pause_trigger(name, "alice")
    save_asset("alice", "scores")
    assert check_triggers() == []  # paused: not looked at
    resume_trigger(name, "alice")
    first = check_triggers()
    assert [t.outcome for t in first] == ["retry"]
    assert "no registered flow 'Not yet registered'" in first[0].error
    flowdeck.register_flow(headless_flows.failing)  # still the wrong name: the retry fails for good
    time.sleep(1.1)  # the first back-off is one second
    second = check_triggers()
    assert [t.outcome for t in second] == ["failed"] and second[0].attempts == 2
    assert check_triggers() == []
    with pytest.raises(NotFoundError, match="no trigger 'nope' visible to user 'alice'"):
        pause_trigger("nope", "alice")
    with pytest.raises(NotFoundError, match=f"no trigger {name!r} visible to user 'bob'"):
        get_trigger(name, "bob")


def _scheduler(home: Path, duration: float, **extra_env: str) -> subprocess.Popen:
    from flowdeck.config import get_settings

    settings = get_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_") or k.startswith("FLOWDECK_TEST")}
    env.update(
        FLOWDECK_HOME=str(home),
        FLOWDECK_DATABASE_URL=settings.database_url,
        FLOWDECK_BLOB_URL=settings.blob_url,
        FLOWDECK_SECRET_KEY=settings.secret_key,
    )
    if settings.s3_endpoint_url:
        env["FLOWDECK_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    env.update(extra_env)
    return subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "scheduler", "--poll", "0.1", "--duration", str(duration)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("deployment", ["sqlite", "postgres"], indirect=True)  # the two locking strategies
def test_two_schedulers_and_a_restart_fire_each_firing_once(deployment, home, sales_flow) -> None:
    name = AssetTrigger(label="scores", interval_seconds=0.1).configure(FLOW, user_id="alice").start()
    check_triggers()
    schedulers = [_scheduler(home, 60), _scheduler(home, 60)]
    try:
        saved = []
        for _ in range(4):
            saved.append(save_asset("alice", "scores"))
            time.sleep(0.3)
        deadline = time.monotonic() + 20
        while len(runs_of("alice")) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # both keep polling: a second firing would show now
    finally:
        for proc in schedulers:
            proc.send_signal(signal.SIGINT)
        for proc in schedulers:
            proc.wait(30)
    outputs = [p.stdout.read() for p in schedulers]
    assert all(p.returncode == 0 for p in schedulers), outputs
    _, ticks = get_trigger(name, "alice")
    assert sorted(t.firing_key for t in ticks) == sorted(f"asset:{a}" for a in saved)
    assert len(runs_of("alice")) == 4
    # a restart finds nothing new to fire
    restarted = _scheduler(home, 0.5)
    restarted.wait(30)
    assert check_triggers() == [] and len(runs_of("alice")) == 4


def _kill_when_paused(proc: subprocess.Popen, point: str) -> str:
    """SIGKILL a scheduler once it says it paused at ``point``; returns what it printed."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if f"scheduler paused at {point}" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "".join(lines)
    return "".join(lines)


# the claim and the take-over are the same compare-and-set updates on every backend; PostgreSQL is
# where several schedulers share a database
@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_a_scheduler_killed_mid_firing_neither_loses_nor_repeats_it(deployment, home, sales_flow, caplog) -> None:
    name = AssetTrigger(label="scores").configure(FLOW, user_id="alice").start()
    check_triggers()
    save_asset("alice", "scores")
    lease = {"FLOWDECK_TRIGGER_LEASE_SECONDS": "0.5"}
    # killed after claiming the firing, before recording a run: the tick waits for another scheduler
    _kill_when_paused(_scheduler(home, 60, FLOWDECK_SCHEDULER_PAUSE_AT="claimed", **lease), "claimed")
    _, [tick] = get_trigger(name, "alice")
    assert (tick.outcome, tick.run_id, runs_of("alice")) == ("starting", None, [])
    # the next one takes it over and is killed after recording the run, before starting it
    time.sleep(0.5)
    _kill_when_paused(_scheduler(home, 60, FLOWDECK_SCHEDULER_PAUSE_AT="created", **lease), "created")
    _, [tick] = get_trigger(name, "alice")
    assert tick.outcome == "starting" and tick.run_id is not None and runs_of("alice") == [tick.run_id]
    assert flowdeck.open_run(tick.run_id, "alice").state == "pending"
    # a third one (this process) starts that run: one firing, one run, started once
    time.sleep(0.5)
    with caplog.at_level("WARNING", logger="flowdeck.scheduler"):
        [fired] = check_triggers(force=False)
    assert (fired.outcome, fired.run_id, fired.attempts) == ("fired", tick.run_id, 3), fired
    assert f"taking over firing {tick.firing_key}" in caplog.text
    assert get_trigger(name, "alice")[1] == [fired]
    assert runs_of("alice") == [tick.run_id]
    assert flowdeck.open_run(tick.run_id, "alice").state == "complete"
    assert origins_of([tick.run_id]) == {tick.run_id: f"trigger:{name}"}


@pytest.mark.slow
def test_a_one_minute_schedule_fires_within_70_seconds(embedded) -> None:
    name = ScheduleTrigger(cron="* * * * *").configure(FLOW, user_id="alice").start()
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(0.5, stop))
    start = time.monotonic()
    thread.start()
    try:
        while not runs_of("alice") and time.monotonic() - start < 70:
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join(30)
    assert len(runs_of("alice")) == 1, f"no run after {time.monotonic() - start:.0f}s"
    _, ticks = get_trigger(name, "alice")
    assert ticks[0].firing_key.startswith("cron:") and ticks[0].outcome == "fired"


def test_the_embedded_server_runs_the_scheduler(embedded, sales_flow) -> None:
    from fastapi.testclient import TestClient

    from flowdeck.server import create_app

    AssetTrigger(label="scores", interval_seconds=0.2).configure(FLOW, user_id="alice").start()
    check_triggers()
    with TestClient(create_app([])):
        save_asset("alice", "scores")
        deadline = time.monotonic() + 10
        while not runs_of("alice") and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(runs_of("alice")) == 1


@needs_redis
@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)  # the hand-off is the same on every backend
def test_with_celery_a_firing_runs_its_steps_on_a_worker(deployment, celery_worker, sales_flow, tmp_path) -> None:  # noqa: F811
    flowdeck.register_flow(headless_flows.where)
    name = (
        AssetTrigger(label="scores")
        .configure(
            "Where",
            user_id="alice",
            input_parameters={"steps": {"Ask mode": {"Mode": {"value": "slow"}}}},
            callback=headless_flows.note_firing,
            callback_kwargs={"tag": "on a worker"},
            step_name="Report",
        )
        .start()
    )
    check_triggers()
    save_asset("alice", "scores")
    [tick] = check_triggers(queue=celery_worker)
    assert tick.outcome == "fired" and tick.run_id, tick
    assert origins_of([tick.run_id]) == {tick.run_id: f"trigger:{name}"}
    deadline = time.monotonic() + 60
    run = flowdeck.open_run(tick.run_id, "alice")
    while run.state != "complete" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run.state == "complete", (run.status().to_dict(), (tmp_path / "worker.log").read_text())
    store = StoreInterface(tick.run_id, user="alice")
    pids = {store.get_input("ask pid", step_name="Ask mode"), store.get_input("report pid", step_name="Report")}
    assert len(pids) == 1 and os.getpid() not in pids  # both steps ran in the worker process
    assert store.get_input("mode", step_name="Report") == "slow"
    deadline = time.monotonic() + 10  # the worker calls the trigger's callback after the steps
    while "Fired on a worker" not in [c.title for c in run.page("Report").cards] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Fired on a worker" in [c.title for c in run.page("Report").cards], (tmp_path / "worker.log").read_text()
    assert check_triggers(queue=celery_worker) == []  # the firing was handed off once


@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)  # stored as JSON the same everywhere
def test_the_callback_is_called_by_reference_when_the_trigger_fires(deployment, sales_flow) -> None:
    flowdeck.register_flow(headless_flows.where)
    # without flow_id: the firing starts a run and the callback acts on that run
    name = (
        AssetTrigger(label="scores")
        .configure("Where", user_id="alice", callback=headless_flows.note_firing, callback_kwargs={"tag": "new"})
        .start()
    )
    check_triggers()
    save_asset("alice", "scores")
    [tick] = check_triggers()
    assert tick.outcome == "fired", tick.error
    page = flowdeck.open_run(tick.run_id, "alice").page()
    [card] = [c for c in page.cards if c.title == "Fired new"]
    assert f"{tick.firing_key} started {tick.run_id}" in str(card.to_json())
    # with flow_id (the SDK's form): the callback updates that run's page and no run is started
    own = flowdeck.run_headless("Where", "alice")
    AssetTrigger(label="other", name="own page").configure(
        "Where", flow_id=own, user_id="alice", callback=headless_flows.note_firing, callback_kwargs={"tag": "own"}
    ).start()
    check_triggers(["own page"])
    runs = runs_of_flow("alice", "Where")
    save_asset("alice", "other")
    [tick] = check_triggers(["own page"])
    assert (tick.outcome, tick.run_id) == ("fired", own) and runs_of_flow("alice", "Where") == runs
    titles = [c.title for c in flowdeck.open_run(own, "alice").page().cards]
    assert "Fired own" in titles
    # what cannot be stored by reference is refused when configured
    with pytest.raises(flowdeck.ValidationError, match="callbacks are kept by reference"):
        AssetTrigger(label="x").configure("Where", user_id="alice", callback=lambda s, d: None)
    assert get_trigger(name, "alice")[0].name == name


def runs_of_flow(user: str, flow: str) -> list[str]:
    return sorted(s.flow_id for s in flowdeck.list_runs(user=user) if s.flow_name == flow)
