"""Callbacks of a page (DESIGN §10): every kind, sync and async, through the run lifecycle, here and on workers."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import callback_flows as cf
import flowdeck
from fixtures.celery_support import flowdeck_worker, needs_redis
from flowdeck.config import reconfigure
from flowdeck.errors import (
    AccessError,
    CallbackError,
    NotFoundError,
    StepCancelledError,
    StepStateError,
    ValidationError,
)
from flowdeck.flow.callbacks import CallbackEvent, CallbackOutcome, fire
from flowdeck.flow.executors import busy_action
from flowdeck.store import lifecycle
from flowdeck.store import pages as page_service
from flowdeck.store import runs as run_service

pytestmark = pytest.mark.backends("sqlite", "postgres")


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    cf.SEEN.clear()
    yield
    cf.SEEN.clear()


def _start(user: str = "alice") -> flowdeck.FlowRun:
    return flowdeck.start(cf.callbacks_flow, user=user)


def _document(run: flowdeck.FlowRun) -> str:
    """The stored JSON text of the current page (what the UI reads)."""
    view = run_service.load_run(run.flow_id, run.principal)
    return page_service.page_document(view, view.current_step)


def _text(run: flowdeck.FlowRun, card: str) -> str:
    return run.page().get_card_by_title(card).elements[0].content


def _titles(outcome: CallbackOutcome) -> list[str]:
    return [card["title"] for card in outcome.changed_cards]


def _attempts(run: flowdeck.FlowRun) -> int:
    return run_service.load_run(run.flow_id, run.principal).step("Ask").attempt


# --- every kind, in this process -----------------------------------------------------------------


def test_every_callback_kind_changes_only_its_cards_and_never_reruns_the_step(deployment: str) -> None:
    run = _start()
    assert cf.SEEN == {"Ask.run": 1}

    # an input's page_update (async), run by set_value
    assert run.set_value("Region", "west") is None
    assert _text(run, "Summary") == "Region: west"
    assert run.page().get_element_by_title("Region").value == "west"

    # the card's Update button (sync), as the acting user
    outcome = run.update_card("Summary")
    assert outcome.kind == "page_update" and _titles(outcome) == ["Summary"]
    assert _text(run, "Summary") == "Updated by alice"

    # standard events: Button (async), RichText (sync), InfographData (async)
    assert run.click("Notify") == "sent to alice"
    assert run.click("Clickable") == "clicked the text"
    assert run.click("Revenue") == "sent to alice"

    # drilldowns: an element's (sync) and a table row action (async); the page never keeps them
    before = _document(run)
    card = run.click("Details", {"what": "revenue"})
    assert isinstance(card, flowdeck.Card) and card.elements[0].content == "details of revenue"
    outcome = run.fire(CallbackEvent("drilldown", "Orders", None, {"row": 1, "action": "Order details"}))
    assert outcome.kind == "drilldown" and outcome.changed_cards == ()
    assert outcome.drilldown["type"] == "modal" and outcome.drilldown["size"] == "large"
    assert run.drilldown("Orders", {"row": 2}).elements[0].content == "order 103 of cy"
    # a row the table does not have is refused before the row action runs
    for row, says in ((3, r"row 3 is out of range \(it has 3 rows\)"), (-1, "row -1 is out of range"),
                      ("1", r"a row is given by its position \(0 to 2\), got '1'")):  # fmt: skip
        with pytest.raises(ValidationError, match=f"table 'Orders': {says}"):
            run.drilldown("Orders", {"row": row, "action": "Order details"})
    assert _document(run) == before

    # table: row selection and cell edit
    outcome = run.select_rows("Orders", [0, 2])
    assert _titles(outcome) == ["Summary", "Orders card"] and _text(run, "Summary") == "selected [0, 2]"
    assert run.page().get_element_by_title("Orders").selected_rows == [0, 2]
    outcome = run.edit_cell("Orders", 1, "qty", 9)
    assert _text(run, "Summary") == "qty[1] = 9"
    assert run.page().get_element_by_title("Orders").content["qty"].tolist() == [1, 9, 3]
    with pytest.raises(ValidationError, match="not editable"):
        run.edit_cell("Orders", 1, "customer", "zed")

    # the page's auto refresh (async)
    outcome = run.refresh()
    assert _titles(outcome) == ["Clock"] and outcome.changed_cards[0]["subtitle"] == "1"

    # containers: a ContainerToggleCallback button, then toggle closed (runs on_close)
    assert run.click("Open more") is None
    assert run.page().get_card_by_title("More").visible is True
    outcome = run.toggle("More", False)
    assert outcome.kind == "toggle" and set(_titles(outcome)) == {"More", "Summary"}
    assert run.page().get_card_by_title("More").visible is False and _text(run, "Summary") == "container closed"

    # an asset download from a button
    outcome = run.fire({"kind": "click", "target": "Download"})
    assert outcome.kind == "download"
    assert outcome.download == {"asset_id": "a1", "filename": "orders.csv", "mime_type": "text/csv"}

    # card filters with filter_update
    outcome = run.apply_filters("Filtered", {"Minimum": "2"})
    assert _titles(outcome) == ["Filtered"] and _text(run, "Filtered") == "at least 2"

    # an upload's on_upload_completion
    run.upload("Data", "orders.csv", b"amount,qty\n1,2\n3,4\n")
    assert _text(run, "Summary") == "uploaded 2 rows"

    assert cf.SEEN == {"Ask.run": 1} and _attempts(run) == 1 and run.current_step == "Ask"
    assert run.state == "awaiting_input"


def test_the_gate_holds_next_until_a_callback_clears_it(deployment: str) -> None:
    run = _start()
    with pytest.raises(StepStateError, match="card 'Gate' has disable_next=True"):
        run.next()
    assert run.current_step == "Ask" and run.state == "awaiting_input"
    outcome = run.fire({"kind": "click", "target": "Approve"})
    assert outcome.next_disabled == () and _titles(outcome) == ["Gate"]
    run.next()
    assert run.current_step == "Report" and cf.SEEN == {"Ask.run": 1, "Report.run": 1}


def test_a_failing_callback_leaves_the_page_exactly_as_it_was(deployment: str) -> None:
    run = _start()
    run.set_value("Region", "east")
    before = _document(run)
    with pytest.raises(CallbackError, match="RuntimeError: the report server is down; the page is unchanged") as err:
        run.click("Fail")
    assert "in failing" in err.value.traceback and "RuntimeError: the report server is down" in err.value.traceback
    assert _document(run) == before
    # a failing upload check drops the upload too
    with pytest.raises(CallbackError, match="needs an 'amount' column"):
        run.upload("Data", "bad.csv", b"x,y\n1,2\n")
    assert _document(run) == before
    assert run.page().get_element_by_title("Data").value is None
    # the run is free again, and the gate still holds
    with pytest.raises(StepStateError, match="'Gate'"):
        run.next()
    assert cf.SEEN == {"Ask.run": 1} and run.state == "awaiting_input"


def test_callbacks_go_through_the_lifecycle_as_the_acting_user(deployment: str) -> None:
    run = _start()
    with pytest.raises(NotFoundError, match="no run"):
        fire(run.flow_id, "bob", {"kind": "click", "target": "Notify"})
    flowdeck.share_run(run.flow_id, owner="alice", users=["carol"])
    carol = flowdeck.open_run(run.flow_id, user="carol")
    assert carol.click("Notify") == "sent to carol"

    # one action at a time: a callback in flight refuses others, and the other way round
    claim = lifecycle.claim_callback(run.flow_id, run.principal)
    with pytest.raises(StepStateError, match="busy with a callback"):
        carol.click("Notify")
    with pytest.raises(StepStateError, match="busy with a callback"):
        run.next()
    with pytest.raises(StepStateError, match="busy"):
        run.set_value("Region", "east")
    assert lifecycle.end_callback(claim)
    step_claim = lifecycle.claim(run.flow_id, run.principal, "rerun")
    with pytest.raises(StepStateError, match="busy"):
        run.click("Notify")
    lifecycle.release(step_claim)

    with pytest.raises(NotFoundError, match="no element 'Nope'"):
        run.click("Nope")
    with pytest.raises(ValidationError, match="has no on_click"):
        run.click("Region")
    assert run.status().steps[0].state == "awaiting_input" and cf.SEEN["Ask.run"] == 1


def test_a_cancelled_or_expired_callback_frees_the_run_and_keeps_the_step(deployment: str) -> None:
    run = _start()
    before = _document(run)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(run.click, "Slow")
        deadline = time.monotonic() + 30
        while cf.SEEN.get("slow.begun") != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert busy_action(run.flow_id) == "callback"
        run.cancel()  # a callback in flight is cancelled like any action, but the step keeps its state
        with pytest.raises(StepCancelledError):
            slow.result(timeout=30)
    assert _document(run) == before
    assert run.state == "awaiting_input" and run.click("Notify") == "sent to alice"
    reconfigure(step_lease_seconds=0.2)
    try:
        lifecycle.claim_callback(run.flow_id, run.principal)  # nobody carries it out: its lease runs out
        time.sleep(0.3)
        assert run.click("Notify") == "sent to alice"
    finally:
        reconfigure(step_lease_seconds=30.0)
    assert run.status().steps[0].state == "awaiting_input" and cf.SEEN["Ask.run"] == 1


FILE_FLOW = """
from pathlib import Path

from flowdeck import Button, Card, Flow, Page, Section, Step, StoreInterface
from flowdeck.elements.callbacks import standard_event_callback

with open(Path(__file__).with_suffix(".loads"), "a") as log:
    log.write("loaded\\n")


@standard_event_callback
def hello(store_interface, **step_clients):
    return "hello from the file"


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Card", [Button(title="Hello", on_click=hello)]), "Main")
        store.update_page(page)


flow = Flow(name="File flow", description="").chain([Ask(title="Ask", page=Page("Ask", [Section("Main", [])]))])
"""


@pytest.mark.backends("sqlite")
def test_callbacks_of_a_flow_file_load_in_a_process_that_never_imported_it(deployment: str, tmp_path: Path) -> None:
    from flowdeck.flow.loader import load_flow_file

    path = tmp_path / "file_flow.py"
    path.write_text(FILE_FLOW)
    flow, _ = load_flow_file(str(path))
    run = flowdeck.start(flow, user="alice")
    assert run.click("Hello") == "hello from the file"
    stored = run.page().get_element_by_title("Hello").on_click
    assert stored.file == str(path)
    for name in [n for n, m in sys.modules.items() if getattr(m, "__file__", None) == str(path)]:
        del sys.modules[name]  # as in a server or worker that never loaded the flow file
    assert run.click("Hello") == "hello from the file"
    assert run.click("Hello") == "hello from the file"
    assert path.with_suffix(".loads").read_text().count("loaded") == 2  # the loader's, then once for callbacks


@pytest.mark.backends("sqlite")
def test_flowdeck_click_on_the_command_line(deployment: str) -> None:
    from typer.testing import CliRunner

    from flowdeck.cli import app

    run = _start()

    def click(*args: str) -> tuple[int, str, BaseException | None]:
        result = CliRunner().invoke(app, ["click", run.flow_id, *args, "--user", "alice"])
        return result.exit_code, result.output, result.exception

    assert click("Notify")[:2] == (0, "sent to alice\n")
    code, output, _ = click("Details", "--data", '{"what": "margins"}')
    assert code == 0 and "details of margins" in output
    code, output, _ = click("Approve")
    assert code == 0 and "changed cards: Gate" in output
    code, _, error = click("Fail")
    assert code == 1 and isinstance(error, CallbackError)


def test_events_and_outcomes_round_trip_json() -> None:
    event = CallbackEvent("edit_cell", "Orders", {"row": 1, "column": "qty", "value": 9}, {"x": 1})
    assert CallbackEvent.from_json(event.to_json()) == event
    assert CallbackEvent.from_json({"kind": "refresh"}) == CallbackEvent("refresh")
    with pytest.raises(ValidationError, match="unknown callback event kind 'explode'"):
        CallbackEvent.from_json({"kind": "explode", "target": "x"})
    with pytest.raises(ValidationError, match="needs a target"):
        CallbackEvent("click")
    with pytest.raises(ValidationError, match="unknown callback event fields"):
        CallbackEvent.from_json({"kind": "click", "target": "x", "extra": 1})
    outcome = CallbackOutcome("standard", message="hi", next_disabled=("Gate",))
    assert CallbackOutcome.from_json(outcome.to_json()) == outcome
    assert issubclass(CallbackError, flowdeck.FlowdeckError) and flowdeck.CallbackError is CallbackError
    assert AccessError.__name__ == "AccessError"


def test_step_hooks_run_sync_and_async(deployment: str) -> None:
    run = flowdeck.start(cf.hooks_flow, user="alice")  # SyncHooks (plain methods), then AsyncHooks (async def)
    for step in ("SyncHooks", "AsyncHooks"):
        assert cf.SEEN[f"{step}.run"] == 1 and cf.SEEN[f"{step}.on_run_success"] == 1
        cf.SEEN["fail"] = 1
        with pytest.raises(flowdeck.StepFailedError):
            run.rerun()
        assert cf.SEEN[f"{step}.on_failure"] == 1 and cf.SEEN[f"{step}.on_run_success"] == 1
        del cf.SEEN["fail"]
        claim = lifecycle.claim(run.flow_id, run.principal, "rerun")
        run.cancel()
        assert cf.SEEN[f"{step}.on_cancel"] == 1 and run.state == "cancelled"
        assert lifecycle.claim_of(run.flow_id, claim.token) is None
        run.rerun()
        assert f"{step}.on_action_success" not in cf.SEEN
        run.next()
        assert cf.SEEN[f"{step}.on_action_success"] == 1
    assert run.state == "complete"


# --- on Celery workers ---------------------------------------------------------------------------


@pytest.fixture
def callback_worker(deployment: str, tmp_path: Path) -> Iterator[str]:
    """A real ``flowdeck worker`` on this test's deployment and its own queue; yields the queue."""
    with flowdeck_worker(tmp_path / "worker.log", prefix="flowdeck-cb") as queue:
        yield queue


@needs_redis
@pytest.mark.backends("postgres")  # a worker takes seconds to start: once, on the multi-process backend
def test_callbacks_run_on_a_celery_worker(callback_worker: str, tmp_path: Path) -> None:
    run = _start()  # the first step runs here; callbacks go to the worker
    run.callback_queue = callback_worker
    try:
        run.set_value("Region", "west")
    except Exception:
        print((tmp_path / "worker.log").read_text())
        raise
    assert _text(run, "Summary") == "Region: west"
    assert run.click("Notify") == "sent to alice"
    assert run.drilldown("Orders", {"row": 0}).elements[0].content == "order 101 of ann"
    before = _document(run)
    with pytest.raises(CallbackError, match="the report server is down") as err:
        run.click("Fail")
    assert "in failing" in (err.value.traceback or "")
    assert _document(run) == before
    with pytest.raises(NotFoundError, match="no element 'Nope'"):
        run.click("Nope")
    with pytest.raises(NotFoundError):
        fire(run.flow_id, "bob", {"kind": "click", "target": "Notify"}, queue=callback_worker)
    with pytest.raises(StepStateError, match="'Gate'"):
        run.next()
    run.click("Approve")
    assert cf.SEEN == {"Ask.run": 1} and _attempts(run) == 1

    # nobody listens on this queue: a bounded wait, a clear error, and the run is free again
    reconfigure(callback_timeout_seconds=0.5)
    with pytest.raises(CallbackError, match="no worker answered the click callback"):
        fire(run.flow_id, "alice", {"kind": "click", "target": "Notify"}, queue="flowdeck-nobody")
    reconfigure(executor="inline")
    run.next()
    assert run.current_step == "Report" and cf.SEEN == {"Ask.run": 1, "Report.run": 1}
