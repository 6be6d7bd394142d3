"""The deployment at scale with real processes: PostgreSQL + S3 blobs, ``flowdeck worker`` processes
on a Redis broker, and the CLI in processes of its own.

Needs FLOWDECK_TEST_POSTGRES_URL, FLOWDECK_TEST_S3=1 and FLOWDECK_TEST_REDIS_URL (skipped otherwise).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import flowdeck
from fixtures.celery_support import REDIS_URL, needs_redis, new_queue, stop, worker_env
from flowdeck import StoreInterface
from flowdeck.auth.accounts import create_token
from flowdeck.auth.users import resolve_principal
from flowdeck.config import reconfigure
from flowdeck.errors import StepStateError
from flowdeck.flow.loader import load_flow_file
from flowdeck.store import pages as page_service
from flowdeck.store import runs as run_service
from flowdeck.store.lifecycle import LEASE_EXPIRED_ERROR
from s3_server import free_port

pytestmark = [needs_redis, pytest.mark.backends("postgres-s3")]

FLOW_SOURCE = """
import time
from pathlib import Path

from flowdeck import Card, DataSource, Flow, Page, Section, Step, StepType, StoreInterface

time.sleep(0.5)  # importing takes a moment, as a flow file importing big libraries does
GATE = Path(__file__).with_suffix(".gate")


class Ask(Step):
    def run(self, flow_metadata):
        StoreInterface(**flow_metadata).save_output("asked", "asked")


class Hold(Step):
    # Holds its worker until the gate file exists (at most a minute), reporting progress.
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        deadline = time.monotonic() + 60
        while not GATE.exists() and time.monotonic() < deadline:
            store.update_progress(10, "holding")
            time.sleep(0.1)
        store.save_output("held", "held")


hold = Flow(name="Hold", description="a step that holds its worker")
hold.chain([
    Ask(title="Ask", type=StepType.RESULTS, page=Page("Ask", [Section("Main", [])])),
    Hold(title="Hold", page=Page("Hold", [Section("Main", [])])),
])


class Take(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Files", [DataSource(title="Data", options=["csv"])]), "Main")
        store.update_page(page)


twice = Flow(name="Twice", description="two steps, each with an upload called Data")
twice.chain([
    Take(title="First", page=Page("First", [Section("Main", [])])),
    Take(title="Second", page=Page("Second", [Section("Main", [])])),
])
"""


@pytest.fixture
def flow_file(deployment: str, tmp_path: Path) -> Path:
    """The test flows in a file that other processes load too."""
    path = tmp_path / f"flows_{uuid.uuid4().hex[:8]}.py"
    path.write_text(FLOW_SOURCE)
    reconfigure(executor="celery", broker_url=REDIS_URL)
    return path


@pytest.fixture
def hold_flow(flow_file: Path) -> tuple[flowdeck.Flow, Path]:
    """The hold flow and the gate file that releases its step."""
    flow, _ = load_flow_file(f"{flow_file}:hold")
    return flow, flow_file.with_suffix(".gate")


@pytest.fixture
def twice_run(flow_file: Path) -> flowdeck.FlowRun:
    """A run of alice's whose first step, First, has its upload and awaits Next."""
    flow, _ = load_flow_file(f"{flow_file}:twice")
    run = flowdeck.start(flow, user="alice")
    run.upload("Data", "first.csv", b"x,y\n1,2\n")
    return run


@contextmanager
def server(flow_spec: str, tmp_path: Path) -> Iterator[str]:
    """``flowdeck serve`` in a process of its own on this deployment; yields its base URL."""
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "serve", "--flows", flow_spec, "--port", str(port)],
        env=worker_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
        try:
            return httpx.get(f"{base}/api/me", timeout=2).status_code == 401
        except httpx.HTTPError:
            return False

    try:
        _until(up, 60, "flowdeck serve to answer")
        yield base
    finally:
        stop(proc)


@contextmanager
def workers(
    tmp_path: Path, count: int, *args: str, queue: str | None = None, **env: str
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """``count`` ``flowdeck worker`` processes on one queue (a new one unless given), as an operator starts them."""
    queue = queue or new_queue("scale")
    procs = []
    for index in range(count):
        log = (tmp_path / f"worker{index}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "flowdeck", "worker", "--queue", queue, "--loglevel", "warning", *args],
                env=worker_env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
    try:
        yield queue, procs
    finally:
        for proc in procs:
            stop(proc)


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("worker*.log")))


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_two_workers_on_one_host_answer_under_node_names_of_their_own(deployment: str, tmp_path: Path) -> None:
    # Celery names a worker celery@HOST unless told otherwise: two `flowdeck worker` processes on one
    # machine then shared a name, and on RabbitMQ the second could not declare its control queue and
    # exited (RESOURCE_LOCKED). Each worker now answers under a name of its own.
    from flowdeck.flow.celery_app import app

    reconfigure(executor="celery", broker_url=REDIS_URL)
    with workers(tmp_path, 2, "--pool", "solo") as (_, procs):
        wanted = {f"flowdeck-{proc.pid}@{socket.gethostname()}" for proc in procs}
        names: set[str] = set()

        def both_answer() -> bool:
            for proc in procs:
                assert proc.poll() is None, _logs(tmp_path)
            names.update(name for reply in app.control.ping(timeout=1.0) for name in reply)
            return wanted <= names

        _until(both_answer, 40, f"workers {sorted(wanted)} to answer a ping (got {sorted(names)})")


def test_a_threaded_worker_loads_a_flow_file_once_for_actions_taken_at_once(
    hold_flow: tuple[flowdeck.Flow, Path], tmp_path: Path
) -> None:
    # `flowdeck worker --pool threads` takes several queued actions at once. Each thread loaded the
    # run's flow file; the threads that found its module still running its code failed their step
    # with "... has no Flow named 'hold'".
    from flowdeck.flow.executors import CeleryExecutor

    flow, gate = hold_flow
    gate.touch()
    queue = new_queue("scale")
    executor = CeleryExecutor(queue=queue)
    runs = [flowdeck.start(flow, user="alice") for _ in range(3)]
    for run in runs:  # queued before any worker runs: the worker takes the three at once
        executor.submit(run.flow_id, "alice", "next")
    with workers(tmp_path, 1, "--pool", "threads", "--concurrency", "3", queue=queue):
        for run in runs:
            assert executor.wait(run.flow_id, timeout=60), _logs(tmp_path)
    for run in runs:
        hold = run.status().steps[1]
        assert (run.state, hold.state, hold.error) == ("awaiting_input", "awaiting_input", None), _logs(tmp_path)


def test_a_step_whose_worker_was_killed_is_failed_by_every_reader_of_the_run(
    hold_flow: tuple[flowdeck.Flow, Path], tmp_path: Path
) -> None:
    # docs/flows.md "Leases": when the process running a step dies, whoever reads the run next marks
    # the step failed. A status read did; the run lists (`flowdeck runs`, flowdeck.list_runs) and
    # StoreInterface.get_flow_status() showed the run `running` for ever.
    from flowdeck.flow.executors import CeleryExecutor

    flow, gate = hold_flow
    runs = {name: flowdeck.start(flow, user=user) for name, user in (("r1", "alice"), ("r2", "alice"), ("r3", "bob"))}

    def raw(name: str) -> run_service.RunRecord:  # read without the lease rule
        run = runs[name]
        return run_service.load_run(run.flow_id, resolve_principal(run.user)).run

    with workers(tmp_path, 1, "--pool", "threads", "--concurrency", "3", FLOWDECK_STEP_LEASE_SECONDS="2") as (
        queue,
        (proc,),
    ):
        executor = CeleryExecutor(queue=queue)
        for run in runs.values():
            executor.submit(run.flow_id, run.user, "next")
        _until(lambda: all(raw(n).lease_holder for n in runs), 40, "the worker to take the three steps")
        assert {raw(n).lease_holder.split(":")[1] for n in runs} == {str(proc.pid)}, _logs(tmp_path)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    _until(lambda: all(raw(n).lease_expired() for n in runs), 10, "the leases to run out")
    assert {raw(n).state for n in runs} == {"running"}  # nobody has read the runs since

    status = StoreInterface(runs["r1"].flow_id, user="alice").get_flow_status()
    assert status.state == "failed" and status.steps[1].error == LEASE_EXPIRED_ERROR

    assert raw("r2").state == "running"
    listed = {s.flow_id: s for s in flowdeck.list_runs("alice")}
    assert listed[runs["r2"].flow_id].state == "failed"
    assert listed[runs["r2"].flow_id].steps[1].error == LEASE_EXPIRED_ERROR

    assert raw("r3").state == "running"
    shown = subprocess.run(
        [sys.executable, "-m", "flowdeck", "runs", "--user", "bob"],
        env=worker_env(COLUMNS="250"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if runs["r3"].flow_id in line)
    assert "failed" in line and "running" not in line, shown.stdout
    assert raw("r3").state == "failed"

    gate.touch()  # the failed step can be re-run at once
    runs["r1"].rerun()
    assert runs["r1"].current_step == "Hold" and runs["r1"].state == "awaiting_input"
    assert StoreInterface(runs["r1"].flow_id, user="alice").get_input("held", step_name="Hold") == "held"


def _data_value(run: flowdeck.FlowRun, step: str) -> object:
    return StoreInterface(run.flow_id, user="alice").get_element(step, "Data").value


def test_an_upload_to_a_step_the_run_has_left_meanwhile_is_refused(
    twice_run: flowdeck.FlowRun, flow_file: Path, tmp_path: Path
) -> None:
    # POST .../steps/First/elements/Data/upload checked that First was current, then read the body;
    # when another process moved the run on meanwhile, the file went to the current step, Second,
    # which has an input of the same title: 200, and the file on a step its sender never saw.
    _, token = create_token(resolve_principal("alice"))
    boundary = "scale-sweep-boundary"
    released = threading.Event()

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.csv"\r\n'
            "Content-Type: text/csv\r\n\r\na,b\n"
        ).encode()
        released.wait(30)
        yield f"1,2\r\n--{boundary}--\r\n".encode()

    answers: list[httpx.Response] = []
    with server(f"{flow_file}:twice", tmp_path) as base:
        sender = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{base}/api/runs/{twice_run.flow_id}/steps/First/elements/Data/upload",
                    content=body(),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                    timeout=60,
                )
            )
        )
        sender.start()
        time.sleep(1.0)  # the server has checked the step and is reading the body
        twice_run.next()  # another process: First's action, then Second runs
        assert twice_run.current_step == "Second"
        released.set()
        sender.join(60)
    assert answers and answers[0].status_code == 409, answers[0].text if answers else "no answer"
    assert "'First' is not the current step" in answers[0].json()["detail"]
    assert _data_value(twice_run, "Second") is None
    assert _data_value(twice_run, "First")["filename"] == "first.csv"


def test_an_input_change_read_before_another_process_moved_the_run_on_is_refused(
    twice_run: flowdeck.FlowRun, tmp_path: Path
) -> None:
    # An input change read the run (First current and awaiting input), then wrote under the run's
    # lock checking only that no action was in flight: a change read before another process's
    # next() landed on the completed step after its action had used the old values.
    before = run_service.load_run(twice_run.flow_id, resolve_principal("alice"))
    moved = subprocess.run(
        [sys.executable, "-m", "flowdeck", "next", twice_run.flow_id, "--user", "alice", "--no-interactive"],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "step First: complete" in moved.stdout, moved.stdout + moved.stderr  # then Second awaits its file
    assert twice_run.current_step == "Second"
    with pytest.raises(StepStateError, match=r"'First' of run .* no longer awaits input"):
        page_service.upload(before, "First", "Data", "late.csv", b"a,b\n1,2\n")
    assert _data_value(twice_run, "First")["filename"] == "first.csv"
    assert StoreInterface(twice_run.flow_id, user="alice").get_input("Data", step_name="First").shape == (1, 2)


def test_next_from_the_cli_while_a_worker_runs_the_step_says_to_follow_it(
    hold_flow: tuple[flowdeck.Flow, Path], tmp_path: Path
) -> None:
    # `flowdeck next` on a run whose step a worker was running printed the busy error, then "the run
    # waits at step 'Hold'" with commands to press its buttons and go on: none of which works while
    # the step runs.
    from flowdeck.flow.executors import CeleryExecutor

    flow, gate = hold_flow
    run = flowdeck.start(flow, user="alice")
    with workers(tmp_path, 1, "--pool", "solo") as (queue, _):
        executor = CeleryExecutor(queue=queue)
        executor.submit(run.flow_id, "alice", "next")
        _until(lambda: run.status().steps[1].message == "holding", 40, "the worker to run the step")
        shown = subprocess.run(
            [sys.executable, "-m", "flowdeck", "next", run.flow_id, "--user", "alice", "--no-interactive"],
            env=worker_env(COLUMNS="250"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        gate.touch()
        assert executor.wait(run.flow_id, timeout=60), _logs(tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "is busy with step 'Hold' (running) (next() by alice)" in shown.stderr, shown.stderr
    assert f"follow it with: flowdeck status {run.flow_id} --user alice" in shown.stderr, shown.stderr
    assert "press its buttons" not in shown.stderr and "waits at step" not in shown.stderr, shown.stderr
    assert run.state == "awaiting_input" and run.current_step == "Hold"  # the worker's step went on
