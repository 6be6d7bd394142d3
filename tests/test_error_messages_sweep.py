"""Mistakes flow writers make get a clear error naming the problem and the fix, and leave nothing half-stored."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

import flowdeck
import headless_flows
from flowdeck import (
    AssetType,
    Card,
    Dataset,
    DataSource,
    Dropdown,
    Flow,
    Model,
    Page,
    RichText,
    Schema,
    Section,
    Step,
    StepType,
    StoreInterface,
)
from flowdeck.elements.callbacks import (
    DrilldownSize,
    DrilldownType,
    drilldown_callback,
    page_update_callback,
    standard_event_callback,
)
from flowdeck.errors import StepCancelledError, StepStateError, UnsupportedTypeError, ValidationError

SEEN: dict[str, object] = {}


# --- flows (module level: importable) ------------------------------------------------------------


class Load(Step):
    """Asks for a table, a choice and a name."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card("Inputs", [DataSource(title="Data", options=["csv"]), Dropdown(["a", "b"], title="Pick")]), ""
        )
        store.update_page(page)


class Report(Step):
    """Shows a note."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Note", [RichText("hello", title="Hello")]), "")
        store.update_page(page)


two_pages = Flow(name="Two pages", description="An input step and a report step")
two_pages.chain(
    [
        Load(title="Load", page=Page("Load", [Section("", [])])),
        Report(title="Report", type=StepType.RESULTS, page=Page("Report", [Section("", [])])),
    ]
)


class AsyncSave(Step):
    """An ``async def run`` and action: each is run to its end like a plain one."""

    overrides_action = True

    async def run(self, flow_metadata):
        StoreInterface(**flow_metadata).save_output(41 + 1, "answer")

    async def action_override(self, flow_metadata):
        StoreInterface(**flow_metadata).save_output("acted", "action")


async_flow = Flow(name="Async run", description="A step whose run() is a coroutine")
async_flow.chain([AsyncSave(title="Async", type=StepType.RESULTS)])


class ReturnsFrame(Step):
    """Returns a value instead of saving it."""

    def run(self, flow_metadata):
        return pd.DataFrame({"a": [1]})


returns_flow = Flow(name="Returns a value", description="A step whose run() returns a frame")
returns_flow.chain([ReturnsFrame(title="Returns", type=StepType.RESULTS)])


class WaitsForCancel(Step):
    """Waits until the test has cancelled it, then tries to save and to update its page."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        SEEN["flow_id"] = store.flow_id
        started = SEEN["started"]
        go_on = SEEN["go on"]
        assert isinstance(started, threading.Event) and isinstance(go_on, threading.Event)
        started.set()
        go_on.wait(20)
        try:
            store.save_output(1, "after cancel")
        except StepCancelledError as exc:
            SEEN["save error"] = exc
        raise AssertionError("a cancelled step's save_output must stop it")


cancel_flow = Flow(name="Cancelled", description="A step cancelled while it runs")
cancel_flow.chain([WaitsForCancel(title="Waits", type=StepType.RESULTS)])


def _run(flow: Flow, user: str = "alice") -> flowdeck.FlowRun:
    return flowdeck.start(flow, user=user)


# --- pages ---------------------------------------------------------------------------------------


def test_update_page_with_the_page_of_another_step_is_refused_and_stores_nothing(embedded):
    run = _run(two_pages)
    run.upload("Data", "d.csv", b"x\n1\n")
    run.set_value("Pick", "a")
    run.next()
    store = StoreInterface(run.flow_id, user="alice")  # acts for the current step, Report
    load_page = StoreInterface(run.flow_id, user="alice", step_name="Load").get_page()
    with pytest.raises(
        ValidationError,
        match=r"this is the page of step 'Load' .*not of step 'Report'; a step stores only its own page: "
        r"start from store.get_page\(\) of step 'Report', or build a new Page",
    ):
        store.update_page(load_page)
    page = store.get_page()
    assert page.title == "Report" and [e.title for e in page.elements] == ["Hello"]
    # The step's own page, and the other step's page through a store of that step, still save.
    store.update_page(page)
    StoreInterface(run.flow_id, user="alice", step_name="Load").update_page(load_page)


def test_update_page_of_a_step_that_has_not_run_is_refused_and_stores_nothing(embedded):
    run = _run(two_pages)
    later = StoreInterface(run.flow_id, user="alice", step_name="Report")
    page = later.get_page()
    page.add_card_to_section(Card("Early", [RichText("too soon", title="Soon")]), "")
    with pytest.raises(
        StepStateError,
        match=r"step 'Report' has not run yet: when it runs it starts from its initial page, so this update would "
        r"be lost; to put an element on its page, call store.create_future_element\(element, 'Report'\)",
    ):
        later.update_page(page)
    run.upload("Data", "d.csv", b"x\n1\n")
    run.set_value("Pick", "a")
    run.next()
    assert [c.title for c in later.get_page().cards] == ["Note"]


def test_a_step_page_that_is_no_page_is_refused_when_the_step_is_made(embedded):
    with pytest.raises(ValidationError, match=r"step 'Upload': page must be a Page, got Card; wrap cards in sections"):
        Load(title="Upload", page=Card("Inputs", []))
    with pytest.raises(ValidationError, match=r"page must be a Page, got str"):
        Load(title="Upload", page="Upload")


def test_a_page_set_after_the_step_was_made_is_checked_before_any_run_is_recorded(embedded):
    step = Report(title="Late page")
    flow = Flow(name="Late page", description="")
    flow.chain([step])
    step.page = Card("Note", [])
    with pytest.raises(ValidationError, match=r"step 'Late page': page must be a Page, got Card"):
        flowdeck.start(flow, user="alice")
    assert flowdeck.list_runs(user="alice") == []


def test_section_and_page_titles_must_be_text(embedded):
    with pytest.raises(ValidationError, match=r"a section title must be text, got 5"):
        Section(5, [])
    with pytest.raises(ValidationError, match=r"a page title must be text, got \['Upload'\]"):
        Page(["Upload"], [])
    page = Page("Upload", [Section("", [])])
    with pytest.raises(ValidationError, match=r"a section title must be text, got 5"):
        page.add_card_to_section(Card("Inputs", []), 5)
    # None names the untitled section, as Section(None, ...) is untitled: no second "" section.
    page.add_card_to_section(Card("Inputs", []), None)
    assert [(s.title, [c.title for c in s.cards]) for s in page.sections] == [("", ["Inputs"])]


def test_card_disable_next_must_be_true_or_false(embedded):
    with pytest.raises(ValidationError, match=r"Card 'Gate': disable_next must be True or False, got 'no'"):
        Card("Gate", [], disable_next="no")
    assert Card("Gate", [], disable_next=None).disable_next is False


def test_dropdown_options_given_a_dataframe_asks_for_a_list(embedded):
    frame = pd.DataFrame({"region": ["north", "south"]})
    with pytest.raises(
        ValidationError,
        match=r"Dropdown 'Region': options must be a list or a dict, got a DataFrame; pass list\(frame.columns\)",
    ):
        Dropdown(frame, title="Region")
    assert Dropdown(frame["region"], title="Region").options == ["north", "south"]
    assert Dropdown(frame.columns, title="Column").options == ["region"]


# --- steps ---------------------------------------------------------------------------------------


def test_an_async_step_run_is_run_to_its_end(embedded):
    run = _run(async_flow)
    assert StoreInterface(run.flow_id, user="alice").get_input("answer", step_name="Async") == 42
    assert run.status().steps[0].state == "awaiting_input"
    run.next()
    assert StoreInterface(run.flow_id, user="alice").get_input("action", step_name="Async") == "acted"


def test_a_value_returned_by_run_is_reported_as_ignored(embedded, caplog):
    with caplog.at_level("WARNING", logger="flowdeck.lifecycle"):
        _run(returns_flow)
    assert (
        "step 'Returns': run() returned a DataFrame, which flowdeck ignores; save what later steps need with "
        "StoreInterface(**flow_metadata).save_output(value, name)"
    ) in caplog.text


def test_step_flags_must_be_true_or_false(embedded):
    with pytest.raises(ValidationError, match=r"step 'Fit': overrides_action must be True or False, got 'no'"):
        Report(title="Fit", overrides_action="no")
    with pytest.raises(ValidationError, match=r"override_skips_default must be True or False, got 'yes'"):
        Report(title="Fit", override_skips_default="yes")
    assert Report(title="Fit", overrides_action=True).overrides_action is True
    assert Report(title="Fit").overrides_action is False


def test_a_cancelled_step_saves_no_output_after_the_cancel(embedded):
    SEEN.clear()
    SEEN["started"], SEEN["go on"] = threading.Event(), threading.Event()
    outcome: dict[str, BaseException] = {}

    def start() -> None:
        try:
            _run(cancel_flow)
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=start)
    worker.start()
    assert SEEN["started"].wait(20)  # type: ignore[union-attr]
    flow_id = str(SEEN["flow_id"])
    flowdeck.open_run(flow_id, user="alice").cancel()
    SEEN["go on"].set()  # type: ignore[union-attr]
    worker.join(20)
    assert isinstance(SEEN.get("save error"), StepCancelledError)
    assert "was cancelled; it stops here" in str(SEEN["save error"])
    assert isinstance(outcome.get("error"), StepCancelledError)
    store = StoreInterface(flow_id, user="alice")
    assert not store.has_input("after cancel")
    with pytest.raises(ValueError, match=r"no output 'after cancel' in step 'Waits'"):
        store.get_input("after cancel", step_name="Waits")


# --- assets --------------------------------------------------------------------------------------


def test_a_dataset_needs_a_dataframe(embedded):
    with pytest.raises(
        UnsupportedTypeError,
        match=r"Dataset 'sales': dataset must be a pandas DataFrame, got list; wrap the data with "
        r"pandas.DataFrame\(...\), or keep other objects as Asset\(obj, label, type=AssetType.OTHER\)",
    ):
        Dataset([1, 2, 3], label="sales")
    with pytest.raises(ValueError, match=r"got NoneType"):
        Dataset(None, label="sales")
    with pytest.raises(UnsupportedTypeError, match=r"got Series; turn a Series into a frame with series.to_frame\(\)"):
        Dataset(pd.Series([1, 2]), label="sales")
    assert Dataset(pd.DataFrame({"a": [1]}), label="sales").type == AssetType.DATASET


def test_schema_validation_of_something_other_than_a_frame_says_so(embedded):
    schema = Schema(pd.DataFrame({"a": [1], "b": ["x"]}).dtypes, label="sales columns")
    for value, kind in (([1, 2], "list"), ({"a": [1]}, "dict"), (None, "NoneType")):
        with pytest.raises(
            UnsupportedTypeError, match=rf"schema 'sales columns' checks a pandas DataFrame, got {kind}; pass the frame"
        ):
            schema.validate(value)
    with pytest.raises(UnsupportedTypeError, match=r"checks a pandas DataFrame, got list"):
        schema.validate_level_2([1])
    with pytest.raises(ValidationError, match=r"column 'a' has dtype str, expected int64"):
        schema.validate(pd.DataFrame({"a": ["1"], "b": ["x"]}))


def test_save_asset_overwrite_must_be_true_or_false_and_nothing_is_saved(embedded):
    run = _run(returns_flow)
    store = StoreInterface(run.flow_id, user="alice")
    first = store.save_asset(Model({"weights": [1]}, label="churn"))
    with pytest.raises(ValidationError, match=r"save_asset\(\): overwrite must be True or False, got 'no'"):
        store.save_asset(Model({"weights": [2]}, label="churn"), overwrite="no")
    versions = store.get_assets(label="churn")
    assert [a.id for a in versions] == [first]
    assert store.get_model(label="churn").object == {"weights": [1]}


# --- users ---------------------------------------------------------------------------------------


def test_a_group_named_as_a_string_is_one_group_not_its_letters(embedded):
    assert flowdeck.add_user("carol", groups="analysts").groups == ("analysts",)
    assert flowdeck.update_user("carol", groups="sales").groups == ("sales",)
    assert [u.groups for u in flowdeck.list_users() if u.name == "carol"] == [("sales",)]


# --- connections ---------------------------------------------------------------------------------


def test_a_query_placeholder_without_a_value_names_it(embedded):
    flowdeck.add_connection("lite", type="sqlite", owner="alice", database="sweep.db")
    run = _run(returns_flow)
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(
        ValidationError, match=r"the query's placeholders \[':region'\] have no value; pass params=\{'region': ...\}"
    ):
        store.db_to_pandas("select :region as r", "lite")
    with pytest.raises(ValidationError, match=r"placeholders \[':b'\] have no value"):
        store.db_to_pandas("select :a as a, :b as b", "lite", params={"a": 1})
    assert store.db_to_pandas("select :region as r", "lite", params={"region": "north"})["r"].tolist() == ["north"]
    assert store.db_to_pandas("select '10:30' as t", "lite")["t"].tolist() == ["10:30"]


# --- callbacks -----------------------------------------------------------------------------------


def _no_arguments():
    """A callback that takes nothing."""


def _card_and_store(card, store_interface):
    """A drilldown that forgot input_data."""


def test_a_callback_that_cannot_take_its_arguments_is_refused_when_decorated(embedded):
    with pytest.raises(
        ValidationError,
        match=r"page_update callback _no_arguments\(\) cannot take the arguments it is called with .*; "
        r"define it as def _no_arguments\(store_interface, input_data=None, \*\*step_clients\)",
    ):
        page_update_callback(_no_arguments)
    with pytest.raises(ValidationError, match=r"define it as def _no_arguments\(store_interface, \*\*step_clients\)"):
        standard_event_callback(_no_arguments)
    with pytest.raises(ValidationError, match=r"define it as def _card_and_store\(card, input_data, store_interface\)"):
        drilldown_callback(DrilldownType.MODAL, DrilldownSize.MEDIUM)(_card_and_store)
    with pytest.raises(ValidationError, match=r"marks a function defined with def at module level, got <built-in"):
        page_update_callback(len)


# --- headless runs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"vlaue": "region"}, r"unknown key 'vlaue' \(did you mean 'value'\?\); no 'value'"),
        ({"value": "region", "card_titel": "Inputs"}, r"unknown key 'card_titel' \(did you mean 'card_title'\?\)"),
        ({"card_title": "Inputs"}, r"input 'Group by' of step 'Load': no 'value'; an input is given as"),
    ],
    ids=["value misspelt", "card_title misspelt", "no value"],
)
def test_a_headless_input_with_a_misspelt_key_is_refused_before_any_run(embedded, spec, message):
    flowdeck.register_flow(headless_flows.sales_totals)
    sales = {"value": b"region,amount\nnorth,1\n", "filename": "sales.csv"}
    with pytest.raises(ValidationError, match=message):
        flowdeck.run_headless("Sales totals", "alice", {"steps": {"Load": {"Sales": sales, "Group by": spec}}})
    assert flowdeck.list_runs(user="alice") == []


def test_a_misspelt_upload_filename_key_is_named(embedded):
    flowdeck.register_flow(headless_flows.sales_totals)
    sales = {"value": b"region,amount\nnorth,1\n", "filname": "sales.csv"}
    with pytest.raises(ValidationError, match=r"input 'Sales' of step 'Load': unknown key 'filname' \(did you mean"):
        flowdeck.run_headless("Sales totals", "alice", {"steps": {"Load": {"Sales": sales}}})
    assert flowdeck.list_runs(user="alice") == []
