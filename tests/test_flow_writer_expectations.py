"""What flow writers expect from DESIGN.md and the reference page, where flowdeck did otherwise:
text a plain callback returns, runs that are complete, trigger names, and Dataset's argument order."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import flowdeck
import sample_flows
from flowdeck import CallbackError, Dataset, NotFoundError, StepStateError, StoreInterface, ValidationError
from flowdeck.flow.registry import resolve_spec
from flowdeck.triggers import ScheduleTrigger

BUTTONS = f"{Path(__file__).resolve().parent / 'fixtures' / 'message_flows.py'}:buttons"


def test_text_a_plain_on_click_function_returns_is_the_clicks_message(embedded: Path) -> None:
    flow, _ = resolve_spec(BUTTONS)
    run = flowdeck.start(flow, user="alice")
    assert run.click("Plain") == "saved 3 rows"
    assert run.click("Plain async") == "saved 4 rows"
    outcome = run.fire({"kind": "click", "target": "Plain"})
    assert (outcome.kind, outcome.message) == ("page_update", "saved 3 rows")
    # A page update that returns nothing still gives None, and its change is stored.
    assert run.click("Update") is None
    titles = [card.title for card in StoreInterface(run.flow_id, user="alice").get_page().cards]
    assert titles == ["Actions (updated)"]


def test_a_complete_run_without_a_step_name_says_how_to_name_one(embedded: Path) -> None:
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    run.next()
    run.next()
    run.next()
    assert run.state == "complete"
    store = StoreInterface(run.flow_id, user="alice")
    hint = r"is complete and has no current step to {}; name the step: StoreInterface\("
    with pytest.raises(StepStateError, match=hint.format("act on")):
        store.get_page()
    with pytest.raises(StepStateError, match=hint.format("act on")):
        store.update_page(StoreInterface(run.flow_id, user="alice", step_name="Report").get_page())
    with pytest.raises(StepStateError, match=hint.format("save outputs to")):
        store.save_output(1, "late")
    with pytest.raises(StepStateError, match=hint.format("report progress for")):
        store.update_progress(10, "late")
    with pytest.raises(NotFoundError, match=r"no output 'late' in any step of run '\w+'; names there: \["):
        store.get_input("late")
    assert StoreInterface(run.flow_id, user="alice", step_name="Report").get_page().title


def test_checking_a_trigger_that_does_not_exist_is_not_found(embedded: Path) -> None:
    flowdeck.register_flow(sample_flows.three_steps)
    ScheduleTrigger("0 6 * * *", name="nightly").configure(
        app_id=sample_flows.three_steps.name, user_id="alice"
    ).start()
    with pytest.raises(NotFoundError, match=r"no trigger named 'nope'; the triggers are \['nightly'\]"):
        flowdeck.check_triggers(["nope"])
    with pytest.raises(ValidationError, match="takes a list of trigger names"):
        flowdeck.check_triggers("nightly")  # type: ignore[arg-type]
    assert flowdeck.check_triggers(["nightly"]) == []
    # A trigger of a flow not registered yet is stored (the flow may be registered later), and says so.
    with pytest.warns(UserWarning, match="starts flow 'Later', which is not registered: its firings fail until it is"):
        ScheduleTrigger("0 7 * * *", name="later").configure(app_id="Later", user_id="alice").start()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ScheduleTrigger("0 8 * * *", name="known").configure(
            app_id=sample_flows.three_steps.name, user_id="alice"
        ).start()


def test_a_description_given_fifth_to_dataset_says_the_fifth_argument_is_the_encoding() -> None:
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(ValidationError, match="fifth argument of Dataset is encoding, as in the SDK"):
        Dataset(frame, "sales", {"k": 1}, "n1", "a description", 7)
    dataset = Dataset(frame, "sales", {"k": 1}, "n1", description="a description", version=7)
    assert (dataset.description, dataset.encoding.value) == ("a description", "ordinal")


NOTES = f"{Path(__file__).resolve().parent / 'fixtures' / 'message_flows.py'}:notes"


def test_a_callback_that_raises_leaves_no_output_behind(deployment: str) -> None:
    flow, _ = resolve_spec(NOTES)
    run = flowdeck.start(flow, user="alice")
    with pytest.raises(CallbackError, match="the lookup table is missing"):
        run.click("Fail")
    store = StoreInterface(run.flow_id, user="alice", step_name="Notes")
    assert store.get_input("summary", step_name="Notes") == {"rows": 3}  # the version before the callback
    with pytest.raises(NotFoundError, match="no output 'callback note'"):
        store.get_input("callback note", step_name="Notes")
    run.click("Save")  # a callback that ends well keeps what it saved
    run.next()
    later = StoreInterface(run.flow_id, user="alice", step_name="Read")
    assert later.get_input("callback note") == "all done" and later.get_input("summary") == {"rows": 3}


def test_a_refused_headless_value_names_its_step_and_input_and_no_deleted_run(embedded: Path) -> None:
    import headless_flows

    flowdeck.register_flow(headless_flows.sales_totals)
    bad = {"steps": {"Load": {"Group by": {"value": "zzz"}}}}
    with pytest.raises(ValidationError) as refused:
        flowdeck.run_headless("Sales totals", "alice", bad)
    message = str(refused.value)
    assert message.startswith("step 'Load', input 'Group by': ") and "'zzz'" in message
    assert message.endswith("(input_parameters refused: no run was started)") and " run '" not in message
    assert flowdeck.list_runs("alice") == []


def test_a_version_given_to_a_new_asset_is_not_silently_dropped(embedded: Path) -> None:
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.warns(UserWarning, match=r"asset 'vv': version=5 is not used; .* this save is version 1"):
        asset_id = store.save_asset(flowdeck.Model({"w": 1}, label="vv", version=5))
    assert store.get_asset_by_id(asset_id).version == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.save_asset(flowdeck.Model({"w": 2}, label="vv", version=2))  # the version it gets: no warning
        store.save_asset(flowdeck.Model({"w": 3}, label="vv"))
        loaded = store.get_asset_by_id(asset_id)
        store.save_asset(loaded, overwrite=True)  # a saved asset's version is the store's


def test_a_misspelt_asset_keyword_is_refused_and_other_extras_are_kept() -> None:
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(TypeError, match=r"Dataset\(\) got an unexpected keyword argument 'descripton'; did you mean"):
        Dataset(frame, label="x", descripton="typo")
    with pytest.raises(TypeError, match="did you mean 'predict_columns'"):
        Dataset(frame, label="x", predict_column=["a"])
    with pytest.raises(TypeError, match="did you mean 'version'"):
        flowdeck.Model({"w": 1}, "m", verison=2)
    model = flowdeck.Model({"w": 1}, "m", accuracy=0.9, trained_on="2026-11")
    assert model.metadata == {"accuracy": 0.9, "trained_on": "2026-11"} and model.accuracy == 0.9


FILTERED = f"{Path(__file__).resolve().parent / 'fixtures' / 'message_flows.py'}:filtered"


def test_update_card_on_a_card_with_filters_runs_its_filter_update(embedded: Path) -> None:
    flow, _ = resolve_spec(FILTERED)
    run = flowdeck.start(flow, user="alice")
    run.set_value("Region", "south")  # a filter changes: the card's filter_update runs, as in the web UI
    shown = StoreInterface(run.flow_id, user="alice").get_element("Filtered", "Shown")
    assert shown.content == "Region=south"
    run.update_card("Sales")  # the card's Update: its filter_update, with every filter's value
    shown = StoreInterface(run.flow_id, user="alice").get_element("Filtered", "Shown")
    assert shown.content == "Region=south, Year=2026"
    run.apply_filters("Sales", {"Year": "2025"})
    assert StoreInterface(run.flow_id, user="alice").get_element("Filtered", "Shown").content == "Year=2025"


def test_a_schema_given_something_other_than_column_dtypes_says_what_it_takes() -> None:
    with pytest.raises(
        ValidationError, match=r"schema column 'cols': \['a'\] is not a dtype pandas knows\. A Schema maps"
    ):
        flowdeck.Schema({"cols": ["a"]}, "sch")
    assert flowdeck.Schema({"age": "int64"}, "sch").dtypes == {"age": "int64"}


def test_a_query_the_database_refuses_says_which_connection_ran_it(embedded: Path) -> None:
    import sqlite3

    import sqlalchemy as sa

    from flowdeck.config import get_settings

    run = flowdeck.start(sample_flows.three_steps, user="alice")
    get_settings().sqlite_dir.mkdir(parents=True, exist_ok=True)
    path = get_settings().sqlite_dir / "warehouse.db"
    sqlite3.connect(path).close()
    flowdeck.add_connection("warehouse", "sqlite", "alice", database=str(path))
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(sa.exc.OperationalError) as refused:  # the database's own error type is kept
        store.db_to_pandas("select * from no_such_table", "warehouse")
    message = str(refused.value)
    assert "db_to_pandas on connection 'warehouse' (sqlite): check the SQL" in message
    assert "no such table: no_such_table" in message
    # read in chunks, the query runs when the first chunk is asked for: the same line is added then
    chunks = store.db_to_pandas("select * from no_such_table", "warehouse", chunksize=10)
    with pytest.raises(sa.exc.OperationalError) as refused_later:
        next(iter(chunks))
    assert "db_to_pandas on connection 'warehouse' (sqlite): check the SQL" in str(refused_later.value)
    assert "no such table: no_such_table" in str(refused_later.value)


def test_an_input_of_a_step_left_behind_says_which_step_has_it_and_how_to_reopen_it(embedded: Path) -> None:
    import headless_flows

    run = flowdeck.start(headless_flows.sales_totals, user="alice")
    run.upload("Sales", "sales.csv", b"region,amount\neast,1\nwest,2\n")
    run.set_value("Group by", "region")
    run.next()
    reopen = r"'{}' is an input of step 'Load' \(complete\): run.back\(\) reopens that step, with its values"
    with pytest.raises(
        NotFoundError,
        match=r"step 'Totals' has no element 'Group by'; its inputs are \[\]\. " + reopen.format("Group by"),
    ):
        run.set_value("Group by", "product")
    with pytest.raises(NotFoundError, match=reopen.format("Sales")):
        run.upload("Sales", "other.csv", b"region,amount\neast,5\n")
    with pytest.raises(NotFoundError, match=r"has no element 'Grop by'; its inputs are \[\]$"):  # nowhere: no hint
        run.set_value("Grop by", "product")
    run.back()
    run.set_value("Group by", "product")
    assert run.page().get_element_by_title("Group by").value == "product"


def test_the_input_values_of_a_step_the_run_left_stay_frozen_until_back(embedded: Path) -> None:
    import headless_flows
    from flowdeck import RichText

    run = flowdeck.start(headless_flows.sales_totals, user="alice")
    run.upload("Sales", "sales.csv", b"region,amount\neast,1\nwest,2\n")
    run.set_value("Group by", "region")
    run.next()
    load = StoreInterface(run.flow_id, user="alice", step_name="Load")
    page = load.get_page()
    page.get_element_by_title("Group by").value = "product"
    with pytest.raises(
        StepStateError, match=r"step 'Load' of run '\w+' is complete: the values of its inputs are frozen"
    ):
        load.update_page(page)
    dropped = load.get_page()
    dropped.get_card_by_title("Inputs").remove_item("Group by")
    with pytest.raises(StepStateError, match=r"changes or drops 'Group by'; run.back\(\) reopens the step"):
        load.update_page(dropped)
    assert load.get_element_value("Load", "Group by") == "region"
    # the rest of its page may change: a note beside the frozen inputs is stored
    noted = load.get_page()
    noted.add_card_to_section(flowdeck.Card("Note", [RichText("checked")]), "")
    load.update_page(noted)
    assert [c.title for c in load.get_page().cards] == ["Inputs", "Note"]
    run.back()
    reopened = load.get_page()
    reopened.get_element_by_title("Group by").value = "product"
    load.update_page(reopened)
    assert load.get_element_value("Load", "Group by") == "product"


@pytest.mark.parametrize("keeps_making", [True, False])
def test_a_rerun_replaces_the_future_elements_its_step_made_before(embedded: Path, keeps_making: bool) -> None:
    from fixtures import future_flows

    future_flows.attempts["Prepare"] = 0
    future_flows.keeps_making["Comment"] = True
    run = flowdeck.start(future_flows.review, user="alice")
    with pytest.raises(flowdeck.StepFailedError, match="transient failure"):
        run.next()
    future_flows.keeps_making["Comment"] = keeps_making
    run.rerun()
    run.next()
    inputs = [(e.title, e.value) for e in run.page().elements]
    assert inputs == ([("Verdict", ""), ("Comment", "attempt 2")] if keeps_making else [("Verdict", "")])
    assert run.current_step == "Review" and run.state == "awaiting_input"


def test_a_future_element_may_not_take_the_title_of_an_input_of_its_step(embedded: Path) -> None:
    from fixtures import future_flows
    from flowdeck import TextInput

    future_flows.attempts["Prepare"] = 1  # Prepare does not fail
    future_flows.keeps_making["Comment"] = True
    run = flowdeck.start(future_flows.review, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(
        ValidationError,
        match=r"step 'Review' already has an input titled 'Verdict' \(on the page the step starts with\)",
    ):
        store.create_future_element(TextInput(title="Verdict"), "Review")
    store.create_future_element(TextInput(title="Note"), "Review")
    with pytest.raises(
        ValidationError, match=r"already has an input titled 'Note' \(a future element from step 'Start'\)"
    ):
        StoreInterface(run.flow_id, user="alice", step_name="Prepare").create_future_element(
            TextInput(title="Note"), "Review"
        )
    store.create_future_element(TextInput(title="Note", value="again"), "Review")  # the same step: replaces it
    run.next()
    run.next()
    assert [(e.title, e.value) for e in run.page().elements] == [
        ("Verdict", ""),
        ("Note", "again"),
        ("Comment", "attempt 2"),
    ]


def test_progress_and_outputs_go_only_to_a_step_that_has_run(embedded: Path) -> None:
    run = flowdeck.start(sample_flows.three_steps, user="alice")  # Produce awaits input
    later = StoreInterface(run.flow_id, user="alice", step_name="Report")
    with pytest.raises(
        StepStateError, match=r"step 'Report' of run '\w+' has not run yet: its outputs are what its run\(\) saves"
    ):
        later.save_output(1, "early")
    with pytest.raises(
        StepStateError, match=r"step 'Report' of run '\w+' is pending: progress is reported by a step while it runs"
    ):
        later.update_progress(55, "early")
    run.next()
    done = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    with pytest.raises(StepStateError, match=r"step 'Produce' of run '\w+' is complete: progress is reported"):
        done.update_progress(10, "late")
    first = run.status().steps[0]
    assert (first.name, first.progress) == ("Produce", 100.0)
    run.next()
    run.next()
    assert run.state == "complete"
    with pytest.raises(NotFoundError, match="no output 'early'"):
        StoreInterface(run.flow_id, user="alice", step_name="Report").get_input("early", step_name="Report")


def test_a_callback_that_raises_leaves_the_steps_progress_as_it_was(embedded: Path) -> None:
    flow, _ = resolve_spec(BUTTONS)
    run = flowdeck.start(flow, user="alice")
    before = run.status().steps[0]
    with pytest.raises(CallbackError, match="raised RuntimeError: recalc failed; the page is unchanged"):
        run.click("Recalc")
    after = run.status().steps[0]
    assert (after.state, after.progress, after.message) == (before.state, before.progress, before.message)
    # the live stream hears the progress go back too
    from flowdeck.store import progress

    events = progress.events_after(run.flow_id)
    assert [(e.completion, e.message) for e in events[-2:]] == [(90.0, "recalculating: almost done"), (0.0, "")]


def test_checking_a_stopped_trigger_by_name_says_it_is_stopped(embedded: Path) -> None:
    flowdeck.register_flow(sample_flows.three_steps)
    nightly = ScheduleTrigger("0 6 * * *", name="nightly").configure(
        app_id=sample_flows.three_steps.name, user_id="alice"
    )
    nightly.start()
    nightly.stop()
    with pytest.warns(UserWarning, match=r"trigger 'nightly' is stopped, so it is not checked; start\(\) it again"):
        assert flowdeck.check_triggers(["nightly"]) == []
    nightly.start()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flowdeck.check_triggers(["nightly"]) == []
