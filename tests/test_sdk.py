"""Code written for the platform's SDK runs unchanged on flowdeck (``virtualitics_sdk`` import paths)."""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import flowdeck.store.store_interface  # loads storage before the fixtures configure it
from flowdeck.errors import FlowdeckError, NotFoundError, ValidationError

sys.path.insert(0, str(Path(__file__).parent))

SALES = pd.DataFrame({"region": ["north", "south", "east", "west"], "amount": [100, 250, 40, 900]})
CSV = SALES.to_csv(index=False).encode()


def _values(data: Any) -> list[Any]:
    if isinstance(data, dict) and "bdata" in data:  # plotly's typed-array form
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def _plot_xy(plot: Any) -> tuple[list[Any], list[Any]]:
    trace = plot.figure_json["data"][0]
    return _values(trace["x"]), _values(trace["y"])


# --- import paths ----------------------------------------------------------------------------------


def test_every_sdk_module_imports() -> None:
    import virtualitics_sdk

    failed = {}
    for module in pkgutil.walk_packages(virtualitics_sdk.__path__, "virtualitics_sdk."):
        try:
            importlib.import_module(module.name)
        except Exception as exc:
            failed[module.name] = repr(exc)
    assert failed == {}


def test_sdk_names_are_flowdeck_classes() -> None:
    import virtualitics_sdk as sdk
    from virtualitics_sdk.elements.table import DataGridFeatures
    from virtualitics_sdk.page.card import Card, Container, Segment, default_container_on_close
    from virtualitics_sdk.types.callbacks import AssetDownloadCallback, ContainerToggleCallback

    assert sdk.App is flowdeck.App is flowdeck.Flow is sdk.Flow
    assert sdk.StoreInterface is flowdeck.StoreInterface
    assert sdk.Card is Card is flowdeck.Card and Container is flowdeck.Container and Segment is flowdeck.Segment
    assert DataGridFeatures is flowdeck.elements.DataGridFeatures
    assert default_container_on_close("m") == ContainerToggleCallback(False, "m")
    assert AssetDownloadCallback(sdk.Asset(1, "a", sdk.AssetType.OTHER)).to_json()["asset"]["label"] == "a"
    for name in ["Button", "SegmentedControl", "Row", "Column", "NumericSlider", "DataSourceDropdown",
                 "InfographData", "RichTextClickable", "SingletonApp", "StepProgressTqdm", "ConnectionType",
                 "PredictException", "DrilldownStoreInterface", "PersistenceClient", "BoxPackingRenderer"]:  # fmt: skip
        assert name in sdk.__all__ and hasattr(sdk, name), name


def test_reference_import_paths() -> None:
    from predict_backend.page import Card, Page, Section
    from predict_backend.store.store_interface import StoreInterface
    from predict_backend.validation.type_validation import validate_types
    from virtualitics_sdk.flow.step import Step

    assert (Card, Page, Section, StoreInterface, Step) == (
        flowdeck.Card,
        flowdeck.Page,
        flowdeck.Section,
        flowdeck.StoreInterface,
        flowdeck.Step,
    )
    assert validate_types(len) is len


# --- what flowdeck does not host -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name", "feature"),
    [
        ("virtualitics_sdk.llm.agent", "DefaultDispatcherAgent", "LLM agents and chat"),
        ("virtualitics_sdk.persistence_client.client", "PersistenceClient", "The Explore persistence client"),
        ("virtualitics_sdk.elements.box_packing_renderer", "BoxPackingRenderer", "3-D box packing"),
    ],
)
def test_unhosted_features_import_construct_and_refuse_use(module: str, name: str, feature: str) -> None:
    thing = getattr(importlib.import_module(module), name)(1, two=2)
    with pytest.raises(FlowdeckError, match=rf"{name}\.run: {feature} is a feature of the hosted platform"):
        thing.run()
    with pytest.raises(FlowdeckError, match="does not provide"):
        thing()


def test_unhosted_functions_refuse_calls() -> None:
    from virtualitics_sdk import build_model

    with pytest.raises(FlowdeckError, match="build_model: LLM agents and chat is a feature of the hosted platform"):
        build_model("gpt")


# --- apps written for the SDK run unchanged ---------------------------------------------------------


def test_an_app_laid_out_like_the_sdk_template_runs_unchanged(embedded: Path) -> None:
    from sdk_apps.basic_app.app import app

    run = flowdeck.start(app, user="alice")
    assert run.current_step == "Upload Data"
    run.upload("Dataset", "sales.csv", CSV)
    run.next()
    assert run.current_step == "Results" and run.state != "failed"
    page = run.page("Results")
    table = page.get_element_by_title("Uploaded Data")
    assert_frame_equal(table.content, SALES, check_dtype=False)
    plot = page.get_element_by_title("Data Chart")
    assert plot.trace_types == ["bar"]
    assert _plot_xy(plot) == (list(SALES["region"]), list(SALES["amount"]))


def test_the_sdk_docstring_examples_run_as_a_flow(embedded: Path) -> None:
    from sdk_apps.docstring_examples import example_flow

    run = flowdeck.start(example_flow, user="alice")
    upload_page = run.page("Upload")
    assert upload_page.get_element_by_title("Single Selection Dropdown").get_value() == "a"
    assert upload_page.get_element_by_title("Multiple Selection Dropdown").get_value() == ["a", "b"]
    card = upload_page.get_card_by_title("Card Title")
    assert card.filter_update.qualname == "updater" and card.filter_update.resolve().__name__ == "updater"
    assert card.filter_update.meta["callback_type"] == "page_update"
    run.upload("Sales", "sales.csv", CSV)
    run.next()
    page = run.page("Results")
    assert_frame_equal(page.get_element_by_title("Uploaded Data").content, SALES, check_dtype=False)
    plot = page.get_element_by_title("Sales plot")
    assert _plot_xy(plot) == (list(SALES["region"]), list(SALES["amount"]))
    assert page.get_element_by_title("").content == "Oriented by **rows**."  # dict options map to values
    assert example_flow.is_locked and example_flow.image == "https://example-image.jpeg"


def test_sdk_keywords_bind_where_the_sdk_puts_them() -> None:
    from virtualitics_sdk import DataSource, Dropdown, PlotlyPlot, RichText, Table, TextInput

    box = TextInput("v", "desc", "Title")
    assert (box.value, box.description, box.title) == ("v", "desc", "Title")
    source = DataSource("T", ["csv"], "", "desc")
    assert (source.title, source.options, source.description, source.required, source.raw_upload) == (
        "T",
        ["csv"],
        "desc",
        True,
        False,
    )
    assert Table(SALES, True).downloadable is True
    assert RichText(content="**x**").content == "**x**"
    figure = {"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {}}
    assert PlotlyPlot(fig=figure).trace_types == ["bar"]
    single = Dropdown(["Rows", "Columns"], selected=["Rows"])
    assert single.get_value() == "Rows" and single.required is True
    with pytest.raises(ValidationError, match="takes one selection, got 2"):
        Dropdown(["a", "b"], selected=["a", "b"])
    with pytest.raises(TypeError, match="did you mean 'required'"):
        TextInput("v", requird=True)


def test_step_progress_tqdm_reports_to_the_step(embedded: Path) -> None:
    from virtualitics_sdk import App, Page, Section, Step, StepProgressTqdm

    class Counting(Step):
        def run(self, flow_metadata: Any) -> None:
            bar = StepProgressTqdm(flow_metadata, total=4, starting_progress=20, target_progress=60, step_size=10)
            for _ in range(4):
                bar.update()

    app = App("Counting", "counts")
    app.chain([Counting("Count", "", "Inputs", "input", Page("Count", [Section("", [])]))])
    run = flowdeck.start(app, user="alice")
    step = run.status().steps[0]
    assert step.progress == 60


def test_predict_exception_is_a_flowdeck_error() -> None:
    from virtualitics_sdk import PredictException

    error = PredictException("The file has no 'amount' column")
    assert isinstance(error, FlowdeckError) and error.message == "The file has no 'amount' column"


def test_callbacks_are_stored_by_reference_and_must_be_module_level() -> None:
    from virtualitics_sdk import Button, Card

    button = Button(title="Go", on_click=_module_level_callback)
    document = json.loads(json.dumps(button.to_json()))
    assert document["on_click"]["qualname"] == "_module_level_callback"
    loaded = flowdeck.Element.from_json(document)
    assert loaded.on_click.resolve() is _module_level_callback
    with pytest.raises(ValidationError, match="define it with def at module level"):
        Card("c", [], page_update=lambda store_interface: None).to_json()
    with pytest.raises(NotFoundError, match="callback 'gone' from 'tests_no_such_module' cannot be loaded"):
        flowdeck.elements.callbacks.CallbackRef("tests_no_such_module", "gone").resolve()


def _module_level_callback(store_interface: Any) -> str:
    return "done"


def test_dataset_encodings_convert_both_ways() -> None:
    from virtualitics_sdk import DataEncoding, Dataset

    frame = pd.DataFrame({"plan": [0, 1, 1], "n": [1.0, 2.0, 3.0]})
    data = Dataset(frame, "plans", cat_to_vals={"plan": ["basic", "pro"]}, predict_cols=["plan"])
    verbose = data.get_as_encoding(DataEncoding.VERBOSE)
    assert list(verbose["plan"]) == ["basic", "pro", "pro"]
    one_hot = data.get_as_encoding("one_hot")
    assert list(one_hot.columns) == ["plan_basic", "plan_pro", "n"]
    assert one_hot["plan_pro"].tolist() == [0, 1, 1]
    back = data.convert_encoding(one_hot, "one_hot", "ordinal")
    assert_frame_equal(back, frame)
    assert list(data.filter_data(frame).columns) == ["plan"]
    with pytest.raises(ValidationError, match="unknown encoding 'latin'"):
        data.check_valid_encoding("latin")


def test_asset_bytes_round_trip_and_pickles_are_refused() -> None:
    from virtualitics_sdk import Asset, AssetType
    from virtualitics_sdk.assets.asset import AssetPersistenceMethod

    asset = Asset(SALES, "sales", AssetType.DATASET)
    for method in (AssetPersistenceMethod.CSV, AssetPersistenceMethod.PARQUET, AssetPersistenceMethod.JSON):
        payload = asset.to_bytes(method)
        assert_frame_equal(Asset.from_bytes(payload, False, method, AssetType.DATASET), SALES)
    attack = asset.to_bytes(AssetPersistenceMethod.PICKLE)
    with pytest.raises(ValidationError, match="from_bytes refuses pickles"):
        Asset.from_bytes(attack, False, AssetPersistenceMethod.PICKLE, AssetType.DATASET)
    assert np.array_equal(asset.get_object().values, SALES.values)


# --- reference-page edge cases ---------------------------------------------------------------------


class _First(flowdeck.Step):
    def run(self, flow_metadata: Any) -> None:
        store = flowdeck.StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(flowdeck.Card("c", [flowdeck.TextInput(title="Word")]), "")
        store.update_page(page)
        store.create_future_element(flowdeck.RichText("later", title="Later note"), "Third")


def _edge_flow() -> flowdeck.Flow:
    from virtualitics_sdk import Page, Section, Step

    flow = flowdeck.Flow("Edges", "reference-page edge cases")
    return flow.chain(
        [
            _First("First", page=Page("First", [Section("", [])])),
            Step("Second", page=Page("Second", [Section("", [])])),
            Step("Third", page=Page("Third", [Section("", [])])),
        ]
    )


@pytest.fixture
def edge_store(deployment: str) -> Any:
    run = flowdeck.start(_edge_flow(), user="alice")
    run.next()
    return flowdeck.StoreInterface(run.flow_id, user="alice", step_name="Second")


def test_link_to_an_earlier_steps_element_without_step_name(edge_store: Any) -> None:
    word = edge_store.get_element("First", "Word")
    link = edge_store.create_element_link(word)
    assert link == f"/runs/{edge_store.flow_id}/steps/First#element-{word.id}"
    assert edge_store.create_element_link(word, step_name="First") == link


def test_link_to_a_future_element(edge_store: Any) -> None:
    later = edge_store.get_element("Third", "Later note")
    expected = f"/runs/{edge_store.flow_id}/steps/Third#element-{later.id}"
    assert edge_store.create_element_link(later) == expected
    assert edge_store.create_element_link(later, step_name="Third") == expected
    with pytest.raises(NotFoundError, match="no step up to 'Second' has an element with id 'nope'"):
        edge_store.create_element_link("nope")


def test_get_element_quiet_for_an_unknown_step(edge_store: Any) -> None:
    assert edge_store.get_element("No such step", "Word", quiet=True) is None
    with pytest.raises(NotFoundError, match="No such step"):
        edge_store.get_element("No such step", "Word")


def test_a_failing_store_interface_registers_no_user(edge_store: Any) -> None:
    with pytest.raises(NotFoundError):
        flowdeck.StoreInterface("no-such-run", user="mallory")
    with pytest.raises(NotFoundError):
        flowdeck.StoreInterface(edge_store.flow_id, user="alice", step_name="No such step")
    assert "mallory" not in [user.name for user in flowdeck.list_users()]


def test_flow_status_is_subscriptable(edge_store: Any) -> None:
    status = edge_store.get_flow_status()
    assert status["current_step"] == "Second"
    assert [step["name"] for step in status["steps"]] == ["First", "Second", "Third"]
    assert status.get("nope", 1) == 1 and status.keys()[:2] == ["flow_id", "flow_name"]


def test_get_model_returns_a_model_for_an_asset_of_type_model(edge_store: Any) -> None:
    from virtualitics_sdk import Asset, AssetType, Model

    edge_store.save_asset(Asset({"weights": [1, 2]}, "churn", AssetType.MODEL))
    model = edge_store.get_model("churn")
    assert isinstance(model, Model) and model.object == {"weights": [1, 2]}
    assert model.type is AssetType.MODEL


def test_flowdeck_page_text_shows_every_element_type(embedded: Path) -> None:
    from fixtures.sdk_gallery import gallery
    from flowdeck.page import render_page_text

    run = flowdeck.start(gallery, user="alice")
    text = render_page_text(run.page("Gallery"), width=140)
    for expected in [
        "Numeric slider  [NumericSlider]",
        "4  (range 0 to 10)",
        "Multi dropdown  [MultiDropdown]",
        "p, r  (options: p, q, r)",
        "Revenue: 390 k$, up 4%, positive",
        "button 'Export'",
        "tabs 'First tab', 'Second tab' (showing 'First tab')",
        "dashboard of 2 elements",
        "(container, hidden)",
        "Rich text  [RichText]",
        "Table  [Table]",
    ]:
        assert expected in text, expected


def test_sdk_connection_types() -> None:
    from flowdeck.storage.connection_urls import ConnectionSpec, build_url
    from virtualitics_sdk import ConnectionType

    def url(kind: ConnectionType) -> str:
        spec = ConnectionSpec("db", kind, host="sql.example", port=1433, database="sales", username="u", secret="pw")
        return build_url(spec).render_as_string(hide_password=True)

    assert url(ConnectionType.mssql_pyodbc).startswith("mssql+pyodbc://u:***@sql.example:1433/sales?driver=")
    assert url(ConnectionType.mssql_pymysql) == "mssql+pymssql://u:***@sql.example:1433/sales"
    with pytest.raises(ValidationError, match="connection 'db' of type spark is not a SQL database"):
        url(ConnectionType.spark)


def test_pandas_keywords_pass_through_db_to_pandas_and_pandas_to_db(embedded: Path, tmp_path: Path) -> None:
    flowdeck.add_connection("local", type="sqlite", owner="alice", database="data.db")
    run = flowdeck.start(_edge_flow(), user="alice")
    store = flowdeck.StoreInterface(run.flow_id, user="alice")
    frame = pd.DataFrame({"amount": [1.5, 2.5]}, index=pd.Index([10, 20], name="row"))
    written = store.pandas_to_db(frame, "sales", "local", index=True, index_label="key", method="multi")
    assert written == 2
    back = store.db_to_pandas(
        "select key, amount from sales order by key",
        "local",
        index_col="key",
        coerce_float=True,
        dtype_backend="numpy_nullable",
    )
    expected = pd.DataFrame({"amount": pd.array([1.5, 2.5], dtype="Float64")}, index=pd.Index([10, 20], name="key"))
    assert_frame_equal(back, expected, check_index_type=False)
    with pytest.raises(ValidationError, match=r"db_to_pandas\(\) got unknown options \['index'\]"):
        store.db_to_pandas("select 1", "local", index=True)


def test_save_asset_overwrite_replaces_the_asset_with_the_same_label_and_type(edge_store: Any) -> None:
    from virtualitics_sdk import AssetType, Model

    first = edge_store.save_asset(Model({"weights": [1]}, "churn", name="v1"))
    again = edge_store.save_asset(Model({"weights": [2]}, "churn", name="v2"), overwrite=True)
    assert again == first
    found = edge_store.get_assets(label="churn", type=AssetType.MODEL)
    assert [(asset.id, asset.name, asset.object) for asset in found] == [(first, "v2", {"weights": [2]})]
    other_type = edge_store.save_asset(Model({"weights": [3]}, "churn-data", name="v1"), overwrite=True)
    assert other_type != first
