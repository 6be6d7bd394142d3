"""The runner: runs, step states, in-links, back/rerun, ownership, on every backend."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from flowdeck import StoreInterface
from flowdeck.errors import (
    AccessError,
    NotFoundError,
    StepFailedError,
    StepStateError,
    ValidationError,
)


@pytest.fixture(autouse=True)
def _no_failure():
    sample_flows.FAIL_MARKER["fail"] = False
    yield
    sample_flows.FAIL_MARKER["fail"] = False


def test_flow_runs_end_to_end_and_passes_outputs(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    assert run.current_step == "Produce"
    assert run.status().step("Produce").state == "awaiting_input"
    run.next()
    assert run.current_step == "Transform"
    run.next()
    assert run.current_step == "Report"
    seen = StoreInterface(run.flow_id, user="alice").get_input("seen", step_name="Report")
    # the nearest step wins: Transform's note shadows Produce's
    assert seen == {
        "note": "from transform",
        "columns": ["id", "score", "double"],
        "summary": {"rows": 3},
        "produce_note": "from produce",
    }
    run.next()
    status = run.status()
    assert run.current_step is None
    assert status.state == "complete"
    assert [s.state for s in status.steps] == ["complete"] * 3
    for step in status.steps:
        assert step.started_at.tzinfo is not None and step.ended_at >= step.started_at
    assert StoreInterface(run.flow_id, user="alice", step_name="Produce").get_previous_step_name() is None
    assert StoreInterface(run.flow_id, user="alice").get_input("previous", step_name="Transform") == "Produce"


def test_in_link_excludes_the_current_steps_own_outputs(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(NotFoundError, match="no output 'frame'"):
        store.get_input("frame")
    assert not store.has_input("frame")
    assert store.get_input("frame", step_name="Produce").shape == (3, 2)
    run.next()
    store = StoreInterface(run.flow_id, user="alice")
    assert store.has_input("frame")


class _Quiet(flowdeck.Step):
    """Saves nothing itself: the test saves through the store while the step is current."""

    def run(self, flow_metadata, *args, **kwargs):
        """Nothing to do."""


def test_get_input_reads_the_newest_save_of_the_nearest_current_attempt(deployment):
    flow = flowdeck.Flow(name="Saves", description="").chain(
        [_Quiet(title=t, type=flowdeck.StepType.RESULTS) for t in ("A", "B", "C")]
    )
    run = flowdeck.start(flow, user="alice")

    def store(step: str | None = None) -> StoreInterface:
        return StoreInterface(run.flow_id, user="alice", step_name=step or run.current_step)

    store().save_output(1, "x")
    store().save_output(2, "x")  # the newest save of A's attempt wins
    run.next()
    assert store().get_input("x") == 2
    store().save_output(3, "x")
    run.next()
    assert store("C").get_input("x") == 3  # B is nearer than A
    assert store("C").get_input("x", step_name="A") == 2
    run.back()  # B again: C goes stale, B's in-link is A
    assert (run.current_step, store("B").get_input("x")) == ("B", 2)
    run.rerun()  # B's second attempt has saved nothing yet
    with pytest.raises(NotFoundError, match=r"no output 'x' in step 'B'.*names there: \[\]"):
        store("C").get_input("x", step_name="B")
    run.next()
    assert store("C").get_input("x") == 2  # B's first attempt is out of the in-link
    assert store("C").get_input("x", step_name="A") == 2
    store("C").save_output(4, "x")
    with pytest.raises(NotFoundError, match=r"no output 'y' in the in-link of step 'C'.*\['x'\]"):
        store("C").get_input("y")


def test_missing_output_lists_the_names_that_exist(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    run.next()
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(ValueError, match=r"no output 'nope'.*\['frame', 'note', 'summary'\]"):
        store.get_input("nope")


def test_failed_step_keeps_error_and_can_be_rerun(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    sample_flows.FAIL_MARKER["fail"] = True
    with pytest.raises(StepFailedError, match="transform exploded") as info:
        run.next()
    err = info.value
    assert err.step_name == "Transform" and err.flow_id == run.flow_id
    assert isinstance(err.__cause__, RuntimeError)
    status = run.status()
    failed = status.step("Transform")
    assert status.state == "failed"
    assert failed.state == "failed"
    assert "RuntimeError: transform exploded" in failed.error
    assert "Traceback" in failed.traceback and "transform exploded" in failed.traceback
    assert failed.ended_at is not None
    with pytest.raises(StepStateError, match="rerun"):
        run.next()
    sample_flows.FAIL_MARKER["fail"] = False
    err.run.rerun()
    assert run.status().step("Transform").state == "awaiting_input"
    assert run.status().step("Transform").error is None
    run.next()
    assert run.current_step == "Report"


def test_back_makes_later_steps_stale_and_next_reruns_them(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    run.next()
    run.next()
    assert run.current_step == "Report"
    run.back()
    status = run.status()
    assert run.current_step == "Transform"
    assert status.step("Transform").state == "awaiting_input"
    assert status.step("Report").state == "stale"
    store = StoreInterface(run.flow_id, user="alice")
    # the stale step's outputs left the in-link but stay readable by name
    assert store.get_input("seen", step_name="Report")["note"] == "from transform"
    run.back()
    assert run.current_step == "Produce"
    assert run.status().step("Transform").state == "stale"
    store = StoreInterface(run.flow_id, user="alice", step_name="Report")
    with pytest.raises(NotFoundError):
        store.get_input("previous")  # Transform is stale: its outputs are not in Report's in-link
    with pytest.raises(StepStateError, match="first step"):
        run.back()
    run.next()
    assert run.status().step("Transform").attempt == 2
    run.next()
    assert run.status().step("Report").state == "awaiting_input"


def test_next_on_a_complete_run_is_a_state_error(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    run.next()
    run.next()
    run.next()
    with pytest.raises(StepStateError, match="complete"):
        run.next()
    run.back()
    assert run.current_step == "Report"


def test_runs_belong_to_their_user(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    with pytest.raises(NotFoundError, match="no run"):
        StoreInterface(run.flow_id, user="mallory")
    with pytest.raises(NotFoundError):
        flowdeck.open_run(run.flow_id, user="mallory")
    flowdeck.share_run(run.flow_id, owner="alice", users=["bob"])
    bob_run = flowdeck.open_run(run.flow_id, user="bob")
    bob_run.next()
    assert run.current_step == "Transform"
    with pytest.raises(AccessError, match="only its owner"):
        flowdeck.delete_run(run.flow_id, user="bob")
    flowdeck.add_user("root", role="admin")
    assert StoreInterface(run.flow_id, user="root").get_input("frame", step_name="Produce").shape == (3, 2)
    assert [s.flow_id for s in flowdeck.list_runs(user="bob")] == [run.flow_id]
    assert flowdeck.list_runs(user="mallory") == []


def test_group_share(deployment):
    flowdeck.add_user("carol", groups=["analysts"])
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    flowdeck.share_run(run.flow_id, owner="alice", groups=["analysts"])
    assert StoreInterface(run.flow_id, user="carol").flow_id == run.flow_id


def test_delete_run_removes_outputs(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    flowdeck.delete_run(run.flow_id, user="alice")
    with pytest.raises(NotFoundError):
        StoreInterface(run.flow_id, user="alice")


def test_bad_input_gets_clear_errors(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    with pytest.raises(NotFoundError, match="no run 'does-not-exist'"):
        StoreInterface("does-not-exist", user="alice")
    with pytest.raises(NotFoundError, match=r"no step 'Nope'.*\['Produce', 'Transform', 'Report'\]"):
        StoreInterface(run.flow_id, user="alice", step_name="Nope")
    store = StoreInterface(run.flow_id, user="alice")
    for bad in (-1, 100.5, float("nan"), "50", None):
        with pytest.raises(ValidationError, match="progress"):
            store.update_progress(bad, "x")
    with pytest.raises(ValueError, match="cannot store"):
        store.save_output((x for x in range(3)), "gen")


def test_progress_is_recorded_and_published(deployment):
    from flowdeck.store.progress import events_after, subscribe

    seen = []
    unsubscribe = subscribe(seen.append)
    try:
        run = flowdeck.start(sample_flows.three_steps, user="alice")
    finally:
        unsubscribe()
    assert [(e.completion, e.message) for e in seen if e.run_id == run.flow_id] == [
        (50.0, "half way"),
        (100.0, "done"),
    ]
    assert [e.message for e in events_after(run.flow_id)] == ["half way", "done"]
    step = run.status().step("Produce")
    assert step.progress == 100.0 and step.message == "done"
    assert StoreInterface(run.flow_id, user="alice").update_progress(10, "again") is True


def test_status_to_dict_is_json_safe(deployment):
    import json

    run = flowdeck.start(sample_flows.three_steps, user="alice")
    data = run.status().to_dict()
    assert json.loads(json.dumps(data))["steps"][0]["state"] == "awaiting_input"
    assert data["user"] == "alice" and data["flow_name"] == "Three steps"
    dt.datetime.fromisoformat(data["steps"][0]["started_at"])


def test_user_none_only_with_a_single_user(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id)
    assert store.user == "alice"
    flowdeck.add_user("bob")
    with pytest.raises(ValidationError, match="several users"):
        StoreInterface(run.flow_id)


def test_saving_a_name_again_replaces_it(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    store.save_output(pd.DataFrame({"a": [1]}), "frame")
    assert_frame_equal(store.get_input("frame", step_name="Produce"), pd.DataFrame({"a": [1]}))


def test_store_attributes_and_alias_import(deployment):
    from predict_backend.store.store_interface import StoreInterface as Alias

    assert Alias is StoreInterface
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = Alias(flow_id=run.flow_id, user="alice", step_name="Produce", is_action=True, bucket_name="b")
    assert (
        store.flow_id,
        store.user,
        store.step_name,
        store.is_action,
        store.bucket_name,
        store.profile_name,
    ) == (run.flow_id, "alice", "Produce", True, "b", "govcloud")
