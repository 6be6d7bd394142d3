"""Step executors: a thread pool in this process, and Celery workers in other processes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowdeck
from fixtures.celery_support import flowdeck_worker, needs_redis
from flowdeck import StoreInterface
from flowdeck.config import reconfigure
from flowdeck.errors import MissingInputError, StepStateError
from flowdeck.flow.executors import InlineExecutor, busy_action, get_executor, is_busy
from flowdeck.flow.loader import load_flow_file
from flowdeck.flow.runner import create_run

FLOW_SOURCE = '''
import os
import threading
import time
from pathlib import Path

from flowdeck import Card, Flow, Page, Section, Step, StoreInterface, TextInput


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        store.save_output(threading.current_thread().name, "ask thread")
        page = store.get_page()
        page.add_card_to_section(Card("Input", [TextInput(title="Word", required=True)]), "Main")
        store.update_page(page)


class Answer(Step):
    """'fail' raises; 'wait:PATH' holds the step until PATH exists."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        word = store.get_element_value("Ask", "Word")
        if word == "fail":
            raise RuntimeError("the word was 'fail'")
        if word.startswith("wait:"):
            gate = Path(word[len("wait:"):])
            deadline = time.monotonic() + 20
            while not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        store.save_output(os.getpid(), "pid")
        store.save_output(threading.current_thread().name, "thread")


echo = Flow(name="Echo", description="Asks for a word and answers in another step.")
echo.chain([
    Ask(title="Ask", page=Page("Ask", [Section("Main", [])])),
    Answer(title="Answer", page=Page("Answer", [Section("Main", [])])),
])
'''


@pytest.fixture
def echo_flow(deployment: str, tmp_path: Path) -> flowdeck.Flow:
    """The echo flow, loaded from a file so that other processes can load it too."""
    path = tmp_path / f"echo_{uuid.uuid4().hex[:8]}.py"
    path.write_text(FLOW_SOURCE)
    flow, _ = load_flow_file(f"{path}:echo")
    return flow


@pytest.fixture
def inline() -> Iterator[InlineExecutor]:
    """A two-thread inline executor, shut down after the test."""
    executor = InlineExecutor(max_workers=2)
    yield executor
    executor.shutdown(wait=True)


def _output(flow_id: str, name: str, step: str) -> Any:
    return StoreInterface(flow_id, user="alice").get_input(name, step_name=step)


def test_settings_pick_the_executor(deployment: str) -> None:
    executor = get_executor()
    assert isinstance(executor, InlineExecutor)
    executor.shutdown()
    reconfigure(executor="celery")
    assert get_executor().name == "celery"


def test_inline_runs_actions_off_the_callers_thread_and_tracks_busy(
    echo_flow: flowdeck.Flow, inline: InlineExecutor, tmp_path: Path
) -> None:
    run = create_run(echo_flow, user="alice")
    assert run.state == "pending" and not is_busy(run.flow_id)
    inline.submit(run.flow_id, "alice", "start")
    assert inline.wait(run.flow_id, timeout=20)
    assert run.current_step == "Ask" and run.state == "awaiting_input"
    assert _output(run.flow_id, "ask thread", "Ask").startswith("flowdeck-step")
    with pytest.raises(StepStateError, match="has started already"):
        inline.submit(run.flow_id, "alice", "start")

    with pytest.raises(MissingInputError, match="Word"):
        inline.submit(run.flow_id, "alice", "next")
    assert not is_busy(run.flow_id)

    gate = tmp_path / "gate"
    run.set_value("Word", f"wait:{gate}")
    inline.submit(run.flow_id, "alice", "next")
    # Busy from the moment the action is accepted: the claim is in the database.
    assert inline.is_busy(run.flow_id) and busy_action(run.flow_id) == "next"
    with pytest.raises(StepStateError, match="busy"):
        inline.submit(run.flow_id, "alice", "rerun")
    time.sleep(0.2)
    assert is_busy(run.flow_id)  # held by the gate
    gate.touch()
    assert inline.wait(run.flow_id, timeout=20)
    assert not is_busy(run.flow_id) and busy_action(run.flow_id) is None
    assert run.current_step == "Answer"
    assert _output(run.flow_id, "thread", "Answer").startswith("flowdeck-step")
    assert _output(run.flow_id, "pid", "Answer") == os.getpid()

    inline.submit(run.flow_id, "alice", "back")
    assert inline.wait(run.flow_id, timeout=20)
    assert run.current_step == "Ask" and [s.state for s in run.status().steps] == ["awaiting_input", "stale"]


def test_inline_records_a_failing_step(echo_flow: flowdeck.Flow, inline: InlineExecutor) -> None:
    run = flowdeck.start(echo_flow, user="alice")
    run.set_value("Word", "fail")
    inline.submit(run.flow_id, "alice", "next")
    assert inline.wait(run.flow_id, timeout=20)
    answer = run.status().steps[1]
    assert run.state == "failed" and answer.state == "failed"
    assert "the word was 'fail'" in answer.error and "RuntimeError" in answer.traceback
    inline.submit(run.flow_id, "alice", "rerun")
    assert inline.wait(run.flow_id, timeout=20)
    assert run.status().steps[1].attempt == 2


def test_a_stranger_cannot_submit(echo_flow: flowdeck.Flow, inline: InlineExecutor) -> None:
    run = flowdeck.start(echo_flow, user="alice")
    with pytest.raises(flowdeck.NotFoundError):
        inline.submit(run.flow_id, "mallory", "next")
    assert not is_busy(run.flow_id)


# --- Celery workers ------------------------------------------------------------------------------


@pytest.fixture
def celery_worker(deployment: str, tmp_path: Path) -> Iterator[str]:
    """A real ``flowdeck worker`` process on this test's deployment and its own queue; yields the queue."""
    with flowdeck_worker(tmp_path / "worker.log") as queue:
        yield queue


def _worker_log(tmp_path: Path) -> str:
    path = tmp_path / "worker.log"
    return path.read_text(errors="replace") if path.exists() else ""


@needs_redis
def test_a_worker_process_runs_next_and_records_failures(
    echo_flow: flowdeck.Flow, celery_worker: str, tmp_path: Path
) -> None:
    from flowdeck.flow.executors import CeleryExecutor

    executor = CeleryExecutor(queue=celery_worker)
    run = flowdeck.start(echo_flow, user="alice")  # the first step runs here
    run.set_value("Word", "hello")
    executor.submit(run.flow_id, "alice", "next")
    assert executor.is_busy(run.flow_id)  # claimed before any worker took it
    assert executor.wait(run.flow_id, timeout=60), _worker_log(tmp_path)
    assert run.current_step == "Answer" and run.state == "awaiting_input", run.status().to_dict()
    assert _output(run.flow_id, "pid", "Answer") != os.getpid()

    executor.submit(run.flow_id, "alice", "back")
    assert executor.wait(run.flow_id, timeout=60), _worker_log(tmp_path)
    assert run.current_step == "Ask"
    run.set_value("Word", "fail")
    executor.submit(run.flow_id, "alice", "next")
    assert executor.wait(run.flow_id, timeout=60), _worker_log(tmp_path)
    answer = run.status().steps[1]
    assert run.state == "failed" and answer.state == "failed"
    assert "the word was 'fail'" in answer.error
    assert "RuntimeError" in answer.traceback and "Traceback" in answer.traceback


@needs_redis
def test_the_server_hands_steps_to_workers(celery_worker: str, tmp_path: Path) -> None:
    from fixtures.server_support import add_people, element_id, login, make_app, wait_idle

    add_people()
    app = make_app()
    app.state.flowdeck.executor.executor.queue = celery_worker
    alice = login(app, "alice")
    started = alice.post("/api/runs", json={"flow": "Fragile"})
    assert started.status_code == 201, started.text
    run_id = started.json()["flow_id"]
    assert started.json()["busy"] is True
    assert wait_idle(alice, run_id, timeout=60)["current_step"] == "Ask", _worker_log(tmp_path)
    page = alice.get(f"/api/runs/{run_id}/steps/Ask/page").json()
    alice.put(f"/api/runs/{run_id}/steps/Ask/elements/{element_id(page, 'Word')}/value", json={"value": "slow"})
    accepted = alice.post(f"/api/runs/{run_id}/next")  # "slow": the step reports progress for ~1 s
    assert accepted.status_code == 202 and accepted.json()["busy"] is True
    assert alice.post(f"/api/runs/{run_id}/next").status_code == 409  # busy, across processes
    status = wait_idle(alice, run_id, timeout=60)
    assert status["current_step"] == "Answer" and status["steps"][1]["state"] == "awaiting_input"
