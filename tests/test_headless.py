"""Flows by name and headless runs: registry, run_headless, trigger_flow_execution, on every backend."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest
from pandas.testing import assert_series_equal

import flowdeck
import headless_flows
from flowdeck import StoreInterface
from flowdeck.errors import NotFoundError, ValidationError
from flowdeck.flow.registry import get_registered_flow, origins_of

CSV = b"region,product,amount\nnorth,a,1.5\nsouth,b,2.0\nnorth,b,3.0\n"


def params(group_by: str | None = "region", sales=CSV) -> dict:
    inputs: dict = {}
    if sales is not None:
        inputs["Sales"] = {"value": sales, "filename": "sales.csv"}
    if group_by is not None:
        inputs["Group by"] = {"value": group_by, "card_title": "Inputs"}
    return {"steps": {"Load": inputs}}


def expected_totals() -> pd.Series:
    frame = pd.read_csv(__import__("io").BytesIO(CSV))
    return frame.groupby("region")["amount"].sum()


def test_registered_flow_runs_headless_to_completion(deployment):
    info = flowdeck.register_flow(headless_flows.sales_totals)
    assert info.ref == "headless_flows:sales_totals"
    assert [f.name for f in flowdeck.list_registered_flows()] == ["Sales totals"]

    flow_id = flowdeck.run_headless("Sales totals", "alice", params())
    run = flowdeck.open_run(flow_id, user="alice")
    assert run.status().state == "complete"
    totals = StoreInterface(flow_id, user="alice").get_input("totals", step_name="Totals")
    assert_series_equal(totals, expected_totals())
    assert origins_of([flow_id]) == {flow_id: "headless:alice"}
    # the run is alice's: in her list, not found for bob
    assert flow_id in [s.flow_id for s in flowdeck.list_runs(user="alice")]
    with pytest.raises(NotFoundError, match=f"no run '{flow_id}' visible to user 'bob'"):
        flowdeck.open_run(flow_id, user="bob")


def test_upload_by_path(deployment, tmp_path):
    flowdeck.register_flow(headless_flows.sales_totals)
    path = tmp_path / "sales.csv"
    path.write_bytes(CSV)
    flow_id = flowdeck.run_headless("Sales totals", "alice", params(sales=str(path)))
    totals = StoreInterface(flow_id, user="alice").get_input("totals", step_name="Totals")
    assert_series_equal(totals, expected_totals())


def test_missing_required_input_waits_at_that_step(deployment):
    flowdeck.register_flow(headless_flows.sales_totals)
    flow_id = flowdeck.run_headless("Sales totals", "alice", params(group_by=None))
    run = flowdeck.open_run(flow_id, user="alice")
    assert run.state == "awaiting_input"
    assert run.current_step == "Load"
    assert run.status().step("Totals").state == "pending"
    # a person supplies the missing input and the run goes on
    assert flow_id in [s.flow_id for s in flowdeck.list_runs(user="alice")]  # not a refusal: the run is kept
    run.set_value("Group by", "product")
    run.next()
    assert run.current_step == "Totals"
    totals = StoreInterface(flow_id, user="alice").get_input("totals", step_name="Totals")
    assert totals.to_dict() == {"a": 1.5, "b": 5.0}


def test_failing_step_leaves_the_run_failed(deployment):
    flowdeck.register_flow(headless_flows.failing)
    flow_id = flowdeck.run_headless("Failing", "alice")
    status = flowdeck.open_run(flow_id, user="alice").status()
    assert status.state == "failed"
    assert status.step("Boom").error == "RuntimeError: the warehouse is on fire"


def test_trigger_flow_execution_runs_as_the_stores_user(deployment):
    flowdeck.register_flow(headless_flows.one_step)
    flowdeck.register_flow(headless_flows.sales_totals)
    parent = flowdeck.run_headless("One step", "carol")
    store = StoreInterface(parent, user="carol")
    flow_id = asyncio.run(flowdeck.trigger_flow_execution("Sales totals", store, params()))
    assert flowdeck.open_run(flow_id, user="carol").status().state == "complete"
    assert origins_of([flow_id]) == {flow_id: f"run:{parent}"}


def test_bad_names_are_clear_errors(deployment):
    flowdeck.register_flow(headless_flows.sales_totals)
    with pytest.raises(NotFoundError, match=r"no registered flow 'Nope'; registered flows are \['Sales totals'\]"):
        flowdeck.run_headless("Nope", "alice")
    with pytest.raises(
        ValidationError, match=r"flow 'Sales totals' has no step 'Lod'; its steps are \['Load', 'Totals'\]"
    ):
        flowdeck.run_headless("Sales totals", "alice", {"steps": {"Lod": {}}})
    with pytest.raises(
        ValidationError,
        match=r"step 'Load' has no input 'Colour'; its inputs are \['Sales', 'Group by'\] "
        r"\(input_parameters refused: no run was started\)",
    ):
        flowdeck.run_headless("Sales totals", "alice", {"steps": {"Load": {"Colour": {"value": 1}}}})


def test_register_from_a_file_and_unregister(deployment, tmp_path):
    flow_file = tmp_path / "flows.py"
    flow_file.write_text(
        "from headless_flows import Note\n"
        "from flowdeck import Flow, StepType\n"
        "note_flow = Flow(name='From file', description='A flow defined in a file.')\n"
        "note_flow.chain([Note(title='Note', type=StepType.RESULTS)])\n"
    )
    info = flowdeck.register_flow(str(flow_file))
    assert info.ref == f"{flow_file.resolve()}:note_flow"
    assert get_registered_flow("From file").ref == info.ref
    flowdeck.unregister_flow("From file")
    with pytest.raises(NotFoundError, match="no registered flow 'From file'"):
        get_registered_flow("From file")
    with pytest.raises(NotFoundError, match="no registered flow 'From file'; see `flowdeck flows list`"):
        flowdeck.unregister_flow("From file")


def test_a_flow_defined_in_a_function_cannot_be_registered(deployment):
    local = flowdeck.Flow(name="Local", description="Defined in a function.")
    local.chain([headless_flows.Note(title="Note", type=flowdeck.StepType.RESULTS)])
    with pytest.raises(ValidationError, match="flow 'Local' is not defined at module level"):
        flowdeck.register_flow(local)


def test_params_file_shape_is_json(deployment):
    # what `flowdeck run --headless NAME --params p.json` reads: JSON with paths for uploads
    assert json.loads(json.dumps(params(sales="sales.csv")))["steps"]["Load"]["Sales"]["value"] == "sales.csv"


# --- refused input parameters leave no run -------------------------------------------------------


def sales_runs(user: str) -> list[str]:
    """The runs of "Sales totals" that ``user`` sees (the public listing)."""
    return [s.flow_id for s in flowdeck.list_runs(user=user) if s.flow_name == "Sales totals"]


def test_a_refused_element_title_leaves_no_run(deployment):
    flowdeck.register_flow(headless_flows.sales_totals)
    bad = {"steps": {"Load": {"Colour": {"value": "red"}}}}
    with pytest.raises(
        ValidationError,
        match=r"step 'Load' has no input 'Colour'; its inputs are .* \(input_parameters refused: no run was started\)",
    ):
        flowdeck.run_headless("Sales totals", "alice", bad)
    assert sales_runs("alice") == []


def test_a_refused_upload_path_leaves_no_run(deployment, tmp_path):
    flowdeck.register_flow(headless_flows.sales_totals)
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(ValidationError, match=r"upload 'Sales': '.*nowhere\.csv' is not a file"):
        flowdeck.run_headless("Sales totals", "alice", params(sales=str(missing)))
    assert sales_runs("alice") == []


def test_a_value_the_element_refuses_leaves_no_run(deployment):
    flowdeck.register_flow(headless_flows.sales_totals)
    with pytest.raises(ValidationError, match=r"'colour' is not among the options \['region', 'product'\]"):
        flowdeck.run_headless("Sales totals", "alice", params(group_by="colour"))
    assert sales_runs("alice") == []


def test_card_title_naming_the_wrong_card_is_refused(deployment):
    flowdeck.register_flow(headless_flows.sales_totals)
    wrong = params()
    wrong["steps"]["Load"]["Group by"]["card_title"] = "Settings"
    with pytest.raises(ValidationError, match=r"has no card 'Settings'; its cards are \['Inputs'\]"):
        flowdeck.run_headless("Sales totals", "alice", wrong)
    assert sales_runs("alice") == []
    # the right card finds the element (its title alone would too: input titles are unique in a page)
    flow_id = flowdeck.run_headless("Sales totals", "alice", params())
    assert flowdeck.open_run(flow_id, user="alice").status().state == "complete"


def test_malformed_specs_are_refused_before_a_run_exists(deployment):
    flowdeck.register_flow(headless_flows.sales_totals)
    with pytest.raises(ValidationError, match=r"input 'Group by' of step 'Load': 'card_title' must be text, got int"):
        flowdeck.run_headless(
            "Sales totals", "alice", {"steps": {"Load": {"Group by": {"value": "x", "card_title": 3}}}}
        )
    with pytest.raises(ValidationError, match=r"inputs of step 'Load' are keyed by element title \(text\), got int 7"):
        flowdeck.run_headless("Sales totals", "alice", {"steps": {"Load": {7: {"value": "x"}}}})
    assert sales_runs("alice") == []


def test_trigger_flow_execution_refused_leaves_no_run(deployment):
    flowdeck.register_flow(headless_flows.one_step)
    flowdeck.register_flow(headless_flows.sales_totals)
    store = StoreInterface(flowdeck.run_headless("One step", "carol"), user="carol")
    bad = {"steps": {"Load": {"Colour": {"value": "red"}}}}
    with pytest.raises(
        ValidationError,
        match=r"step 'Load' has no input 'Colour'; its inputs are \['Sales', 'Group by'\] "
        r"\(input_parameters refused: no run was started\)",
    ):
        asyncio.run(flowdeck.trigger_flow_execution("Sales totals", store, bad))
    assert sales_runs("carol") == []
    # a missing required input is not a refusal: that run is kept, waiting at "Load"
    flow_id = asyncio.run(flowdeck.trigger_flow_execution("Sales totals", store, params(group_by=None)))
    assert sales_runs("carol") == [flow_id]
    run = flowdeck.open_run(flow_id, user="carol")
    assert (run.state, run.current_step) == ("awaiting_input", "Load")
