"""The run lifecycle: one atomic owner of every transition, leases, cancel, fork and step hooks."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal

import flowdeck
from conftest import DATABASES_ONLY
from fixtures.celery_support import REDIS_URL, needs_redis, new_queue, stop, worker_env
from flowdeck import StoreInterface
from flowdeck.config import get_settings, reconfigure
from flowdeck.errors import NotFoundError, StepCancelledError, StepFailedError, StepStateError
from flowdeck.flow.executors import InlineExecutor
from flowdeck.flow.loader import load_flow_file
from flowdeck.flow.runner import claim_action, create_run, release_claim
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.schema import outputs
from flowdeck.store.lifecycle import LEASE_EXPIRED_ERROR

CTX = mp.get_context("fork")

FLOW_SOURCE = """
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from flowdeck import Card, Dropdown, Flow, Page, Section, Step, StoreInterface

COUNTERS = Path({counters!r})


def count(name):
    with open(COUNTERS / name, "a") as fh:
        fh.write(f"{{os.getpid()}}\\n")


def gate(mode):
    return COUNTERS / f"gate-{{mode}}"


class Ask(Step):
    def run(self, flow_metadata):
        count("Ask")
        store = StoreInterface(**flow_metadata)
        rng = np.random.default_rng(3)
        store.save_output(pd.DataFrame({{"x": rng.normal(size=20000)}}), "big")
        page = store.get_page()
        modes = ["quick", "slow", "hang", "loop", "fail"]
        page.add_card_to_section(Card("Input", [Dropdown(options=modes, selected="quick", title="Mode")]), "Main")
        store.update_page(page)


class Work(Step):
    overrides_action = True

    def run(self, flow_metadata):
        count("Work")
        store = StoreInterface(**flow_metadata)
        mode = store.get_element_value("Ask", "Mode")
        if mode == "slow":
            time.sleep(1.5)
        if mode == "fail":
            raise RuntimeError("work was told to fail")
        deadline = time.monotonic() + 20
        if mode == "hang":
            while not gate("hang").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        if mode == "loop":
            i = 0
            while not gate("loop").exists() and time.monotonic() < deadline:
                store.update_progress(i % 100, f"round {{i}}")
                count("Work.loop")
                i += 1
                time.sleep(0.05)
        page = store.get_page()
        level = Dropdown(options=["low", "high"], selected="low", title="Level")
        page.add_card_to_section(Card("Level", [level]), "Main")
        store.update_page(page)

    def action_override(self, flow_metadata):
        count("Work.action")
        store = StoreInterface(**flow_metadata)
        store.save_output(store.get_element_value("Work", "Level"), "level")

    def on_run_success(self, store_interface):
        count("Work.on_run_success")

    def on_action_success(self, store_interface):
        count("Work.on_action_success")

    def on_failure(self, store_interface):
        count("Work.on_failure")

    def on_cancel(self, store_interface):
        count("Work.on_cancel")
        store_interface.save_output("cleaned up", "cancel note")


class Report(Step):
    def run(self, flow_metadata):
        count("Report")
        store = StoreInterface(**flow_metadata)
        if store.get_element_value("Ask", "Mode") == "slow":
            time.sleep(1.5)
        store.save_output("level " + store.get_input("level"), "report")


life = Flow(name="Life", description="Three steps with counters.")
life.chain([
    Ask(title="Ask", page=Page("Ask", [Section("Main", [])])),
    Work(title="Work", page=Page("Work", [Section("Main", [])])),
    Report(title="Report", page=Page("Report", [Section("Main", [])])),
])
"""


@pytest.fixture
def counters(tmp_path: Path) -> Path:
    path = tmp_path / "counters"
    path.mkdir()
    return path


@pytest.fixture
def flow_file(deployment: str, tmp_path: Path, counters: Path) -> str:
    """The flow, written to a file so that other processes load it by reference."""
    path = tmp_path / f"life_{uuid.uuid4().hex[:8]}.py"
    path.write_text(FLOW_SOURCE.format(counters=str(counters)))
    return f"{path}:life"


@pytest.fixture
def life(flow_file: str) -> flowdeck.Flow:
    return load_flow_file(flow_file)[0]


@pytest.fixture
def short_lease() -> Iterator[float]:
    reconfigure(step_lease_seconds=1.0)
    yield 1.0
    reconfigure(step_lease_seconds=30.0)


def count(counters: Path, name: str) -> int:
    path = counters / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def _settings() -> dict[str, Any]:
    s = get_settings()
    return {
        "home": str(s.home),
        "database_url": s.database_url,
        "blob_url": s.blob_url,
        "s3_endpoint_url": s.s3_endpoint_url,
        "step_lease_seconds": s.step_lease_seconds,
    }


def _at_work(life: flowdeck.Flow, mode: str) -> flowdeck.FlowRun:
    """A run whose step Work awaits input (run with ``mode``)."""
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", mode)
    run.next()
    assert run.current_step == "Work" and run.state == "awaiting_input"
    return run


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _stacks() -> str:
    """Every thread's stack (for a test that times out)."""
    import traceback

    return "\n".join(f"--- {tid}\n" + "".join(traceback.format_stack(f)) for tid, f in sys._current_frames().items())


def _step(run: flowdeck.FlowRun, name: str) -> Any:
    return run.status().step(name)


# --- 1. two processes, one action ------------------------------------------------------------------


def _race_action(settings: dict, flow_id: str, method: str, barrier: Any, results: Any) -> None:
    flowdeck.configure(**settings)
    run = flowdeck.open_run(flow_id, user="alice")
    barrier.wait(10)
    try:
        getattr(run, method)()
        results.put(("ok", ""))
    except Exception as exc:
        results.put((type(exc).__name__, str(exc)))


def _race(settings: dict, flow_id: str, methods: tuple[str, str]) -> list[tuple[str, str]]:
    barrier, results = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=_race_action, args=(settings, flow_id, m, barrier, results)) for m in methods]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return sorted(outcomes)


@DATABASES_ONLY
@pytest.mark.slow
def test_two_processes_pressing_next_run_the_step_once(life: flowdeck.Flow, counters: Path) -> None:
    run = _at_work(life, "slow")  # Work's action is quick, Report sleeps 1.5 s: the first next() stays in flight
    outcomes = _race(_settings(), run.flow_id, ("next", "next"))
    assert outcomes[0] == ("StepStateError", outcomes[0][1]) and "busy" in outcomes[0][1], outcomes
    assert outcomes[1] == ("ok", "")
    assert count(counters, "Work.action") == 1 and count(counters, "Report") == 1
    assert run.state == "awaiting_input" and run.current_step == "Report"


@DATABASES_ONLY
@pytest.mark.slow
def test_two_processes_rerunning_run_the_step_once(life: flowdeck.Flow, counters: Path) -> None:
    run = _at_work(life, "slow")  # Work's run() sleeps 1.5 s
    assert count(counters, "Work") == 1
    outcomes = _race(_settings(), run.flow_id, ("rerun", "rerun"))
    assert [o[0] for o in outcomes] == ["StepStateError", "ok"], outcomes
    assert "busy with step 'Work' (running)" in outcomes[0][1]
    assert count(counters, "Work") == 2
    assert _step(run, "Work").attempt == 2


def _claim_in_process(settings: dict, flow_id: str, action: str, barrier: Any, results: Any) -> None:
    flowdeck.configure(**settings)
    barrier.wait(10)
    try:
        claim = claim_action(flow_id, "alice", action)
        results.put(("ok", claim.action))
    except Exception as exc:
        results.put((type(exc).__name__, str(exc)))


@DATABASES_ONLY
@pytest.mark.parametrize("actions", [("next", "back"), ("rerun", "rerun"), ("next", "next")])
def test_claims_from_two_processes_are_atomic(life: flowdeck.Flow, actions: tuple[str, str]) -> None:
    """The check-and-set itself, many times over: exactly one of two simultaneous claims wins."""
    run = _at_work(life, "quick")
    settings = _settings()
    for _ in range(5):
        barrier, results = CTX.Barrier(2), CTX.Queue()
        procs = [
            CTX.Process(target=_claim_in_process, args=(settings, run.flow_id, a, barrier, results)) for a in actions
        ]
        for p in procs:
            p.start()
        outcomes = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(30)
        assert [o[0] for o in outcomes] == ["StepStateError", "ok"], outcomes
        assert "is busy with step" in outcomes[0][1]
        assert run.status().state in ("acting", "running")  # still claimed by the winner
        release_claim_from_db(run.flow_id, outcomes[1][1])
        assert run.state == "awaiting_input" and run.current_step == "Work"


def release_claim_from_db(flow_id: str, action: str) -> None:
    """Undo the claim in flight the way an executor does when it cannot hand it over."""
    from flowdeck.store.lifecycle import Claim, claim_of

    claim = claim_of(flow_id, None)
    assert claim is not None and claim.action == action
    # The claim made in the other process recorded what it changed; here the step was awaiting input.
    release_claim(
        Claim(
            flow_id, claim.action, claim.step_name, claim.token, claim.user, "awaiting_input", "awaiting_input", "Work"
        )
    )
    if claim.action == "back":  # back marked Ask acting: put it back to complete
        with get_storage().db.write() as conn:
            from flowdeck.storage.records import runs as run_records

            run_records.update_step(conn, flow_id, "Ask", state="complete")


@DATABASES_ONLY
@pytest.mark.slow
def test_two_servers_pressing_next_and_rerun(flow_file: str, counters: Path) -> None:
    from fixtures.server_support import add_people, element_id, login, wait_idle
    from flowdeck.server import create_app

    add_people()
    apps = [create_app([flow_file]), create_app([flow_file])]  # two server processes' worth of state
    alice, alice_too = login(apps[0], "alice"), login(apps[1], "alice")
    started = alice.post("/api/runs", json={"flow": "Life"})
    assert started.status_code == 201, started.text
    run_id = started.json()["flow_id"]
    wait_idle(alice, run_id)
    page = alice.get(f"/api/runs/{run_id}/steps/Ask/page").json()
    mode = element_id(page, "Mode")
    assert alice.put(f"/api/runs/{run_id}/steps/Ask/elements/{mode}/value", json={"value": "slow"}).status_code == 200

    def race(action: str) -> Any:
        answers: list[Any] = []
        barrier = threading.Barrier(2)

        def press(client: Any) -> None:
            barrier.wait(10)
            answers.append(client.post(f"/api/runs/{run_id}/{action}"))

        threads = [threading.Thread(target=press, args=(c,)) for c in (alice, alice_too)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(a.status_code for a in answers)
        assert codes == [202, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert "is busy with step" in refused.json()["detail"]
        return wait_idle(alice, run_id, timeout=60)

    status = race("next")  # Work's run() sleeps 1.5 s
    assert status["current_step"] == "Work" and count(counters, "Work") == 1
    status = race("rerun")  # again
    assert status["current_step"] == "Work" and count(counters, "Work") == 2
    assert status["steps"][1]["attempt"] == 2
    status = race("next")  # Work's action, then Report sleeps 1.5 s
    assert status["current_step"] == "Report" and count(counters, "Work.action") == 1
    assert count(counters, "Report") == 1
    for app in apps:
        app.state.flowdeck.executor.shutdown(wait=True)


# --- 2. crashes and leases -------------------------------------------------------------------------


def _run_next_then_block(settings: dict, flow_id: str) -> None:
    flowdeck.configure(**settings)
    flowdeck.open_run(flow_id, user="alice").next()


@pytest.mark.slow
def test_a_killed_process_leaves_the_step_failed_within_the_lease(
    life: flowdeck.Flow, counters: Path, short_lease: float
) -> None:
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", "hang")
    proc = CTX.Process(target=_run_next_then_block, args=(_settings(), run.flow_id))
    proc.start()
    _wait_for(lambda: count(counters, "Work") == 1, what="Work to start in the child")
    time.sleep(short_lease * 1.5)  # renewed meanwhile: still running
    assert _step(run, "Work").state == "running" and run.status().to_dict()["state"] == "running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    killed_at = time.monotonic()
    _wait_for(lambda: _step(run, "Work").state == "failed", timeout=short_lease * 3, what="the lease to run out")
    assert time.monotonic() - killed_at <= short_lease * 2
    work = _step(run, "Work")
    assert work.error == LEASE_EXPIRED_ERROR and run.state == "failed"
    (counters / "gate-hang").touch()
    run.rerun()
    assert run.state == "awaiting_input" and _step(run, "Work").attempt == 2


def _serve_and_press_next(settings: dict, flow_file: str, run_id: str, ready: Any) -> None:
    flowdeck.configure(**settings)
    from fixtures.server_support import login
    from flowdeck.server import create_app

    client = login(create_app([flow_file]), "alice")
    assert client.post(f"/api/runs/{run_id}/next").status_code == 202
    ready.set()
    time.sleep(60)


@pytest.mark.slow
def test_a_killed_server_leaves_the_step_failed_within_the_lease(
    flow_file: str, life: flowdeck.Flow, counters: Path, short_lease: float
) -> None:
    from fixtures.server_support import add_people

    add_people()
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", "hang")
    ready = CTX.Event()
    proc = CTX.Process(target=_serve_and_press_next, args=(_settings(), flow_file, run.flow_id, ready))
    proc.start()
    assert ready.wait(30)
    _wait_for(lambda: count(counters, "Work") == 1, what="Work to start on the server's pool")
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    _wait_for(lambda: _step(run, "Work").state == "failed", timeout=short_lease * 3, what="the lease to run out")
    assert _step(run, "Work").error == LEASE_EXPIRED_ERROR
    (counters / "gate-hang").touch()
    run.rerun()
    assert run.state == "awaiting_input" and count(counters, "Work") == 2


@pytest.mark.slow
@pytest.mark.backends("postgres", "postgres-s3")  # pg_terminate_backend is PostgreSQL's
def test_postgres_backends_terminated_leave_no_run_without_a_live_lease(
    deployment: str, life: flowdeck.Flow, counters: Path, short_lease: float
) -> None:
    url = get_settings().database_url
    database = sa.make_url(url).database
    runs = []
    for _ in range(4):
        run = flowdeck.start(life, user="alice")
        run.set_value("Mode", "loop")
        runs.append(run)
    executor = InlineExecutor(max_workers=4)
    killer = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    stop = threading.Event()

    def terminate() -> None:
        while not stop.is_set():
            with killer.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                )
            time.sleep(0.15)

    try:
        for run in runs:
            executor.submit(run.flow_id, "alice", "next")
        thread = threading.Thread(target=terminate)
        thread.start()
        time.sleep(2.0)
        stop.set()
        thread.join(10)
        (counters / "gate-loop").touch()
        for run in runs:
            assert executor.wait(run.flow_id, timeout=short_lease * 10 + 20), (run.status().to_dict(), _stacks())
    finally:
        stop.set()
        executor.shutdown(wait=True)
        killer.dispose()
    with get_storage().db.read() as conn:
        rows = conn.execute(sa.text("SELECT id, state, action, lease_until FROM runs")).all()
    assert len(rows) == 4
    for row in rows:
        assert row.action is None, row  # idle: finished, failed, or failed by its expired lease
        assert row.state in ("awaiting_input", "failed"), row
    for run in runs:  # each either went on to Work or failed (the outage's error) and can be re-run at once
        if run.state == "failed":
            failed = run.status().step(run.current_step)
            assert "OperationalError" in failed.error or failed.error == LEASE_EXPIRED_ERROR, failed
            run.rerun()
        assert run.state == "awaiting_input" and run.current_step in ("Ask", "Work")


# --- Celery workers --------------------------------------------------------------------------------


@pytest.fixture
def workers(deployment: str, tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """Two real ``flowdeck worker`` processes on one queue of their own; yields the queue and the processes."""
    reconfigure(executor="celery", broker_url=REDIS_URL)
    queue = new_queue("flowdeck-life")
    env = worker_env(FLOWDECK_STEP_LEASE_SECONDS=str(get_settings().step_lease_seconds))
    procs = []
    for i in range(2):
        log = (tmp_path / f"worker{i}.log").open("wb")
        # Celery's own command line, for a node name per worker (two workers on one host).
        boot = "import sys, flowdeck.store.store_interface; from flowdeck.flow.celery_app import app; "
        boot += "app.worker_main(sys.argv[1:])"
        command = [sys.executable, "-c", boot, "worker", "--pool=solo", f"--queues={queue}", "--loglevel=warning"]
        command += [f"--hostname=w{i}-{queue}@%h"]
        procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        yield queue, procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            stop(proc)
        reconfigure(executor="inline")


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("worker*.log")))


@DATABASES_ONLY
@needs_redis
@pytest.mark.slow
def test_two_celery_submissions_run_the_step_once(
    life: flowdeck.Flow, counters: Path, workers: tuple[str, list], tmp_path: Path
) -> None:
    from flowdeck.flow.celery_app import perform_task
    from flowdeck.flow.executors import CeleryExecutor

    queue, _ = workers
    executor = CeleryExecutor(queue=queue)
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", "slow")
    answers: list[str] = []
    barrier = threading.Barrier(2)

    def submit() -> None:
        barrier.wait(10)
        try:
            executor.submit(run.flow_id, "alice", "next")
            answers.append("ok")
        except StepStateError as exc:
            answers.append(f"refused: {exc}")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers)[0] == "ok" and sorted(answers)[1].startswith("refused: run"), answers
    assert executor.wait(run.flow_id, timeout=60), _logs(tmp_path)
    assert run.current_step == "Work" and count(counters, "Work") == 1, _logs(tmp_path)

    # A task delivered twice (both workers get it) is carried out once.
    claim = claim_action(run.flow_id, "alice", "next", handoff=True)
    for _ in range(2):
        perform_task.apply_async(args=(run.flow_id, "alice", "next", claim.token), queue=queue)
    assert executor.wait(run.flow_id, timeout=60), _logs(tmp_path)
    time.sleep(1.0)  # the second delivery has had time to run, had it been allowed to
    assert count(counters, "Work.action") == 1 and count(counters, "Report") == 1, _logs(tmp_path)
    assert run.current_step == "Report" and run.state == "awaiting_input"


@DATABASES_ONLY
@needs_redis
@pytest.mark.slow
def test_a_killed_celery_worker_leaves_the_step_failed_within_the_lease(
    life: flowdeck.Flow, counters: Path, short_lease: float, workers: tuple[str, list], tmp_path: Path
) -> None:
    from flowdeck.flow.executors import CeleryExecutor

    queue, procs = workers
    executor = CeleryExecutor(queue=queue)
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", "hang")
    executor.submit(run.flow_id, "alice", "next")
    _wait_for(lambda: count(counters, "Work") == 1, timeout=60, what="a worker to start Work")
    pid = int((counters / "Work").read_text().split()[0])
    victim = next(p for p in procs if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    _wait_for(lambda: _step(run, "Work").state == "failed", timeout=short_lease * 3, what="the lease to run out")
    assert _step(run, "Work").error == LEASE_EXPIRED_ERROR
    (counters / "gate-hang").touch()
    executor.submit(run.flow_id, "alice", "rerun")  # the surviving worker takes it
    assert executor.wait(run.flow_id, timeout=60), _logs(tmp_path)
    assert run.state == "awaiting_input" and _step(run, "Work").attempt == 2, _logs(tmp_path)


@DATABASES_ONLY
@needs_redis
@pytest.mark.slow
def test_cancel_stops_a_step_in_a_celery_worker(
    life: flowdeck.Flow, counters: Path, workers: tuple[str, list], tmp_path: Path
) -> None:
    from flowdeck.flow.executors import CeleryExecutor

    queue, _ = workers
    executor = CeleryExecutor(queue=queue)
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", "loop")
    executor.submit(run.flow_id, "alice", "next")
    _wait_for(lambda: count(counters, "Work.loop") >= 3, timeout=60, what="the loop in a worker")
    cancelled_at = time.monotonic()
    run.cancel()
    loops = count(counters, "Work.loop")
    time.sleep(2.0)
    assert count(counters, "Work.loop") <= loops + 1  # stopped at its next progress update
    assert run.state == "cancelled" and count(counters, "Work.on_cancel") == 1
    assert time.monotonic() - cancelled_at < 2.5
    (counters / "gate-loop").touch()
    executor.submit(run.flow_id, "alice", "rerun")
    assert executor.wait(run.flow_id, timeout=60), _logs(tmp_path)
    assert run.state == "awaiting_input" and _step(run, "Work").attempt == 2, _logs(tmp_path)


# --- 3. cancel -------------------------------------------------------------------------------------


def test_cancel_stops_a_looping_step_within_two_seconds(life: flowdeck.Flow, counters: Path) -> None:
    run = flowdeck.start(life, user="alice")
    run.set_value("Mode", "loop")
    raised: list[BaseException] = []

    def press_next() -> None:
        try:
            run.next()
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=press_next)
    worker.start()
    _wait_for(lambda: count(counters, "Work.loop") >= 3, what="the loop to report progress")
    cancelled_at = time.monotonic()
    flowdeck.open_run(run.flow_id, user="alice").cancel()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - cancelled_at < 2.0
    assert len(raised) == 1 and isinstance(raised[0], StepCancelledError)
    assert "was cancelled" in str(raised[0]) or "no longer in flight" in str(raised[0])
    # It names the step whose code was running, not the one next() left.
    assert raised[0].step_name == "Work" and "'Work'" in str(raised[0]) and raised[0].flow_id == run.flow_id
    loops = count(counters, "Work.loop")
    time.sleep(0.3)
    assert count(counters, "Work.loop") == loops  # it really stopped
    work = _step(run, "Work")
    assert work.state == "cancelled" and run.state == "cancelled" and work.error == "cancelled by alice"
    assert count(counters, "Work.on_cancel") == 1
    assert StoreInterface(run.flow_id, user="alice").get_input("cancel note", step_name="Work") == "cleaned up"
    with pytest.raises(StepStateError, match="nothing to cancel"):
        run.cancel()
    assert count(counters, "Work.on_cancel") == 1
    with pytest.raises(StepStateError, match=r"was cancelled; fix the cause and call run\.rerun"):
        run.next()
    (counters / "gate-loop").touch()
    run.rerun()
    assert run.state == "awaiting_input" and _step(run, "Work").attempt == 2
    run.next()
    assert StoreInterface(run.flow_id, user="alice").get_input("report", step_name="Report") == "level low"


@pytest.mark.slow
def test_cancel_through_the_api_and_the_cli(flow_file: str, counters: Path) -> None:
    from typer.testing import CliRunner

    from fixtures.server_support import add_people, element_id, login, wait_idle
    from flowdeck.cli import app as cli_app
    from flowdeck.server import create_app

    add_people()
    app = create_app([flow_file])
    alice, carol = login(app, "alice"), login(app, "carol")
    run_id = alice.post("/api/runs", json={"flow": "Life"}).json()["flow_id"]
    wait_idle(alice, run_id)
    assert alice.post(f"/api/runs/{run_id}/cancel").status_code == 409  # nothing running
    page = alice.get(f"/api/runs/{run_id}/steps/Ask/page").json()
    alice.put(f"/api/runs/{run_id}/steps/Ask/elements/{element_id(page, 'Mode')}/value", json={"value": "loop"})
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 202
    _wait_for(lambda: count(counters, "Work.loop") >= 2, what="the loop")
    assert carol.post(f"/api/runs/{run_id}/cancel").status_code == 404  # a stranger
    answer = alice.post(f"/api/runs/{run_id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "cancelled" and answer.json()["busy"] is False
    status = wait_idle(alice, run_id, timeout=5)
    assert status["steps"][1]["state"] == "cancelled" and count(counters, "Work.on_cancel") == 1
    app.state.flowdeck.executor.shutdown(wait=True)

    result = CliRunner().invoke(cli_app, ["cancel", run_id, "--user", "alice"])
    assert isinstance(result.exception, StepStateError) and "nothing to cancel" in str(result.exception)
    forked = CliRunner().invoke(cli_app, ["fork", run_id, "Ask", "--user", "alice"])
    assert forked.exit_code == 0, forked.output
    assert "opened at step Ask" in forked.output


# --- 4. fork ---------------------------------------------------------------------------------------


def _blob_keys() -> set[str]:
    with get_storage().db.read() as conn:
        return {k for k in conn.scalars(sa.select(outputs.c.blob_key)) if k}


def test_fork_reuses_earlier_steps_and_leaves_the_original_untouched(life: flowdeck.Flow, counters: Path) -> None:
    original = _at_work(life, "quick")
    original.next()  # Work (level low) → Report
    original.next()
    assert original.state == "complete"
    before = {name: original.page(name).to_json() for name in ("Ask", "Work", "Report")}
    store = StoreInterface(original.flow_id, user="alice")
    big = store.get_input("big", step_name="Ask")
    keys_before = _blob_keys()
    assert keys_before  # the big frame is a blob
    counts_before = {n: count(counters, n) for n in ("Ask", "Work", "Work.action", "Report")}

    forked = flowdeck.fork_run(original.flow_id, "Work", user="alice")
    assert forked.flow_id != original.flow_id
    assert forked.current_step == "Work" and forked.state == "awaiting_input"
    assert [s.state for s in forked.status().steps] == ["complete", "awaiting_input", "pending"]
    assert forked.page("Work").to_json() == before["Work"]
    forked.set_value("Level", "high")
    forked.next()

    assert count(counters, "Ask") == counts_before["Ask"]  # step 1 not executed again
    assert count(counters, "Work") == counts_before["Work"]  # its page was reused, not rebuilt
    assert count(counters, "Work.action") == counts_before["Work.action"] + 1
    assert count(counters, "Report") == counts_before["Report"] + 1
    forked_store = StoreInterface(forked.flow_id, user="alice")
    assert forked_store.get_input("report", step_name="Report") == "level high"
    assert_frame_equal(forked_store.get_input("big", step_name="Ask"), big)
    assert _blob_keys() == keys_before  # no new blob for step 1's outputs (nor any other)

    assert store.get_input("report", step_name="Report") == "level low"
    assert {name: original.page(name).to_json() for name in ("Ask", "Work", "Report")} == before
    assert original.state == "complete"


def test_fork_refuses_steps_that_have_not_run(life: flowdeck.Flow) -> None:
    run = _at_work(life, "quick")
    with pytest.raises(StepStateError, match=r"step 'Report' of run .* is pending; fork at a step that has run"):
        flowdeck.fork_run(run.flow_id, "Report", user="alice")
    with pytest.raises(NotFoundError, match="no run"):
        flowdeck.fork_run(run.flow_id, "Work", user="mallory")


def test_fork_through_the_api(flow_file: str) -> None:
    from fixtures.server_support import add_people, login, wait_idle
    from flowdeck.server import create_app

    add_people()
    app = create_app([flow_file])
    alice = login(app, "alice")
    run_id = alice.post("/api/runs", json={"flow": "Life"}).json()["flow_id"]
    wait_idle(alice, run_id)
    answer = alice.post(f"/api/runs/{run_id}/fork", json={"step": "Ask"})
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new["flow_id"] != run_id and new["current_step"] == "Ask" and new["state"] == "awaiting_input"
    assert alice.get(f"/api/runs/{new['flow_id']}/steps/Ask/page").json()["editable"] is True
    app.state.flowdeck.executor.shutdown(wait=True)


# --- hooks -----------------------------------------------------------------------------------------


def test_step_hooks_run_at_their_moments(life: flowdeck.Flow, counters: Path) -> None:
    run = _at_work(life, "quick")
    assert count(counters, "Work.on_run_success") == 1 and count(counters, "Work.on_action_success") == 0
    run.next()
    assert count(counters, "Work.on_action_success") == 1 and count(counters, "Work.on_failure") == 0
    run.back()
    run.back()
    run.set_value("Mode", "fail")
    with pytest.raises(StepFailedError, match="work was told to fail"):
        run.next()
    assert count(counters, "Work.on_failure") == 1 and count(counters, "Work.on_run_success") == 1
    assert count(counters, "Work.on_cancel") == 0


def test_the_action_in_flight_is_recorded_with_who_started_it(life: flowdeck.Flow) -> None:
    run = create_run(life, user="alice")
    claim = claim_action(run.flow_id, "alice", "start")
    view = flowdeck.open_run(run.flow_id, user="alice")._view()
    assert (view.run.action, view.run.action_by, view.busy_action) == ("start", "alice", "start")
    assert view.run.lease_until is not None and view.run.action_at is not None
    with pytest.raises(StepStateError, match=r"busy with step 'Ask' \(running\) \(start\(\) by alice\)"):
        claim_action(run.flow_id, "alice", "start")
    run.perform(claim)
    view = run._view()
    assert view.busy_action is None and view.run.lease_until is None and view.awaiting_input


def test_lists_of_runs_come_from_one_query(life: flowdeck.Flow) -> None:
    first = flowdeck.start(life, user="alice")
    second = flowdeck.start(life, user="alice")
    statements: list[str] = []
    engines = get_storage().db.engines

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        listed = flowdeck.list_runs(user="alice")
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert [s.flow_id for s in listed] == [second.flow_id, first.flow_id]
    assert [len(s.steps) for s in listed] == [3, 3]
    on_runs = [s for s in statements if "FROM runs" in s or "from runs" in s]
    assert len(on_runs) == 1, statements
    assert pd.Series([s.state for s in listed]).tolist() == ["awaiting_input", "awaiting_input"]


def test_inputs_cannot_change_once_an_action_is_in_flight(life: flowdeck.Flow) -> None:
    from flowdeck.store import pages as page_service

    run = _at_work(life, "quick")
    seen = run._view()  # read while Work awaited input
    claim = claim_action(run.flow_id, "alice", "next", handoff=True)
    with pytest.raises(StepStateError, match=r"busy with next\(\); change 'Work''s inputs once it is done"):
        page_service.set_value(seen, "Work", "Level", "high")  # the check under the run's lock
    with pytest.raises(StepStateError, match=r"step 'Work' is busy with next\(\); set_value\(\) needs it awaiting"):
        run.set_value("Level", "high")
    release_claim(claim)
    run.set_value("Level", "high")
    assert run.page("Work").get_element_by_title("Level").value == "high"
