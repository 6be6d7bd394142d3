"""A Table's data-grid options are the SDK's pydantic models: the stub's fields, checked values, the
pydantic API, and the page JSON they are stored in (pages saved before still load).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowdeck
import flowdeck.store.store_interface  # loads storage before the fixtures configure it
from flowdeck import Card, Element, Flow, Page, Section, Step, StepType, StoreInterface, Table
from flowdeck.elements import ColumnField, ColumnGroup, DataGridFeatures, GridColumn
from flowdeck.elements.data_grid import ColumnGroupingModel
from flowdeck.errors import ValidationError

#: The data-grid models as virtualitics-sdk 1.62.0 declares them (elements/table.pyi, docstrings left out).
STUB = textwrap.dedent(
    """
    class ColumnField(BaseModel):
        field: str

    class ColumnGroup(BaseModel):
        model_config: Incomplete
        group_id: str
        children: list[ColumnGroup | ColumnField]

    class GridColumn(BaseModel):
        model_config: Incomplete
        field: str
        header_name: str
        dtype: str
        col_spanning: bool
        editable: bool
        pinned: Literal['left', 'right'] | None
        validation_rule: str | None
        value_options: list[str] | None
    ColumnGroupingModel = list[ColumnGroup | ColumnField]

    class DataGridFeatures(BaseModel):
        model_config: Incomplete
        column_definitions: list[GridColumn] | None
        column_grouping_model: ColumnGroupingModel | None
        col_spanning: bool | None
        aggregation: dict[str, Literal['sum', 'avg', 'min', 'max', 'size']] | None
        column_formatters: dict[str, str] | None
        conditional_formatting_rules: dict[str, str] | None
        cell_editable: bool | None
        table_editable: bool | None
        default_page_size: int | None
    """
)
MODELS: dict[str, type[pydantic.BaseModel]] = {
    "ColumnField": ColumnField,
    "ColumnGroup": ColumnGroup,
    "GridColumn": GridColumn,
    "DataGridFeatures": DataGridFeatures,
}
AGGREGATIONS = ("sum", "avg", "min", "max", "size")
LEGACY_PAGE = Path(__file__).parent / "fixtures" / "page_data_grid_features.json"


def _stub_classes() -> dict[str, dict[str, str]]:
    """Each stub class: its annotated names (in order) -> the annotation's source."""
    classes: dict[str, dict[str, str]] = {}
    for node in ast.parse(STUB).body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {
                item.target.id: ast.unparse(item.annotation)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    return classes


# --- strategies ------------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=8)
grid_columns = st.builds(
    GridColumn,
    field=names,
    header_name=st.text(max_size=8),
    dtype=st.sampled_from(["", "number", "text", "date", "boolean"]),
    col_spanning=st.booleans(),
    editable=st.booleans(),
    pinned=st.none() | st.sampled_from(["left", "right"]),
    validation_rule=st.none() | st.text(max_size=8),
    value_options=st.none() | st.lists(st.text(max_size=5), max_size=3),
)
groupings = st.recursive(
    st.builds(ColumnField, field=names),
    lambda children: st.builds(ColumnGroup, group_id=names, children=st.lists(children, max_size=3)),
    max_leaves=8,
)
features = st.builds(
    DataGridFeatures,
    column_definitions=st.none() | st.lists(grid_columns, max_size=3),
    column_grouping_model=st.none() | st.lists(groupings, max_size=3),
    col_spanning=st.none() | st.booleans(),
    aggregation=st.none() | st.dictionaries(names, st.sampled_from(AGGREGATIONS), max_size=3),
    column_formatters=st.none() | st.dictionaries(names, st.text(max_size=10), max_size=2),
    conditional_formatting_rules=st.none() | st.dictionaries(names, st.text(max_size=10), max_size=2),
    cell_editable=st.none() | st.booleans(),
    table_editable=st.none() | st.booleans(),
    default_page_size=st.none() | st.integers(1, 10_000),
)


# --- the stub's models -----------------------------------------------------------------------------


def test_the_models_have_the_stubs_fields_and_types() -> None:
    stub = _stub_classes()
    assert sorted(stub) == sorted(MODELS)
    namespace: dict[str, Any] = {**MODELS, "ColumnGroupingModel": ColumnGroupingModel, "Literal": Literal}
    assert ColumnGroupingModel == eval("list[ColumnGroup | ColumnField]", namespace)
    for name, model in MODELS.items():
        assert issubclass(model, pydantic.BaseModel)
        fields = {field: source for field, source in stub[name].items() if field != "model_config"}
        assert list(model.model_fields) == list(fields), name
        for field, source in fields.items():
            assert model.model_fields[field].annotation == eval(source, namespace), f"{name}.{field}"
        # Where the stub declares a model_config, unknown fields are refused; ColumnField keeps
        # pydantic's default, as its stub declares none.
        assert model.model_config.get("extra") == ("forbid" if "model_config" in stub[name] else None), name


def test_the_sdk_import_paths_give_the_same_models() -> None:
    import virtualitics_sdk
    from virtualitics_sdk.elements import table

    for name, model in MODELS.items():
        assert getattr(table, name) is getattr(virtualitics_sdk, name) is model
        assert getattr(flowdeck.elements.outputs, name) is model
    assert table.ColumnGroupingModel is virtualitics_sdk.ColumnGroupingModel is ColumnGroupingModel
    assert {"DataGridFeatures", "ColumnGroupingModel"} <= set(dir(table))


def test_defaults_and_the_sdk_docstring_example() -> None:
    assert DataGridFeatures().model_dump() == dict.fromkeys(DataGridFeatures.model_fields)
    column = GridColumn(field="sepal_length", header_name="sepal length (cm)", dtype="number")
    assert column.model_dump() == {
        "field": "sepal_length",
        "header_name": "sepal length (cm)",
        "dtype": "number",
        "col_spanning": False,
        "editable": False,
        "pinned": None,
        "validation_rule": None,
        "value_options": None,
    }
    grouping = [
        ColumnGroup(
            group_id="flower measurements",
            children=[
                ColumnGroup(group_id="sepal", children=[ColumnField(field="sepal_length")]),
                ColumnGroup(group_id="petal", children=[ColumnField(field="petal_length")]),
            ],
        ),
        ColumnGroup(group_id="classification", children=[ColumnField(field="target")]),
    ]
    # The SDK's Table example passes the column definitions as columns=.
    example = DataGridFeatures(columns=[column], column_grouping_model=grouping)
    assert example == DataGridFeatures(column_definitions=[column], column_grouping_model=grouping)
    assert "columns" not in example.model_dump() and example.column_definitions == [column]
    frame = pd.DataFrame({"sepal_length": [5.1], "petal_length": [1.4], "target": ["setosa"]})
    assert Table(frame, title="Iris", data_grid_features=example).data_grid_features is example


# --- checked values --------------------------------------------------------------------------------


def _only_error(raised: pytest.ExceptionInfo[pydantic.ValidationError]) -> dict[str, Any]:
    assert isinstance(raised.value, ValueError)
    errors = raised.value.errors()
    assert len(errors) == 1, errors
    return errors[0]


@settings(max_examples=60, deadline=None)
@given(column=names, bad=st.text(max_size=10).filter(lambda value: value not in AGGREGATIONS))
def test_an_unknown_aggregation_is_a_validation_error_naming_the_field(column: str, bad: str) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        DataGridFeatures(aggregation={column: bad})
    error = _only_error(raised)
    assert error["loc"] == ("aggregation", column) and error["type"] == "literal_error"
    assert "aggregation" in str(raised.value)


def test_median_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"aggregation\.amount\n  Input should be 'sum', 'avg', 'min', 'max' or"):
        DataGridFeatures(aggregation={"amount": "median"})


@settings(max_examples=60, deadline=None)
@given(bad=st.text(max_size=10).filter(lambda value: value not in ("left", "right")))
def test_a_column_pinned_elsewhere_is_a_validation_error_naming_the_field(bad: str) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        GridColumn(field="a", pinned=bad)
    assert _only_error(raised)["loc"] == ("pinned",)
    with pytest.raises(pydantic.ValidationError) as raised:
        DataGridFeatures(column_definitions=[{"field": "a"}, {"field": "b", "pinned": bad}])
    assert _only_error(raised)["loc"] == ("column_definitions", 1, "pinned")


@pytest.mark.parametrize(
    ("build", "loc", "kind"),
    [
        (lambda: GridColumn(header_name="A"), ("field",), "missing"),
        (lambda: GridColumn(field=3), ("field",), "string_type"),
        (lambda: GridColumn(field="a", value_options="x"), ("value_options",), "list_type"),
        (lambda: ColumnGroup(group_id="g"), ("children",), "missing"),
        (lambda: DataGridFeatures(default_page_size="many"), ("default_page_size",), "int_parsing"),
        (lambda: DataGridFeatures(column_formatters={"a": 2}), ("column_formatters", "a"), "string_type"),
        (lambda: DataGridFeatures(colum_definitions=[]), ("colum_definitions",), "extra_forbidden"),
        (lambda: GridColumn(field="a", header="A"), ("header",), "extra_forbidden"),
        (lambda: ColumnGroup(group_id="g", children=[], title="G"), ("title",), "extra_forbidden"),
    ],
)
def test_wrong_and_unknown_fields_are_validation_errors(build: Any, loc: tuple[Any, ...], kind: str) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        build()
    error = _only_error(raised)
    assert (error["loc"], error["type"]) == (loc, kind)


def test_assignments_are_checked_and_column_field_ignores_unknown_fields_as_in_the_sdk() -> None:
    grid = DataGridFeatures()
    with pytest.raises(pydantic.ValidationError, match=r"aggregation\.x"):
        grid.aggregation = {"x": "median"}
    grid.column_definitions = [{"field": "a"}]
    assert grid.column_definitions == [GridColumn(field="a")]
    assert ColumnField(field="a", width=3) == ColumnField(field="a")


def test_a_table_takes_only_data_grid_features() -> None:
    with pytest.raises(ValidationError, match=r"data_grid_features must be a DataGridFeatures, got dict"):
        Table(pd.DataFrame({"a": [1]}), title="t", data_grid_features={"aggregation": {"a": "sum"}})


# --- the pydantic API and the page JSON --------------------------------------------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=features)
def test_model_dump_and_model_validate_round_trip(grid: DataGridFeatures) -> None:
    dumped = grid.model_dump()
    assert DataGridFeatures.model_validate(dumped) == grid
    assert DataGridFeatures.model_validate_json(grid.model_dump_json()) == grid
    assert DataGridFeatures.model_validate(json.loads(json.dumps(dumped))) == grid
    # The page JSON is model_dump()'s form, and reads back as the same model.
    assert grid.to_json() == dumped
    assert DataGridFeatures.from_json(grid.to_json()) == grid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=features)
def test_a_table_keeps_its_features_through_its_json(grid: DataGridFeatures) -> None:
    table = Table(pd.DataFrame({"a": [1, 2]}), title="t", data_grid_features=grid)
    document = json.loads(json.dumps(table.to_json()))
    assert document["data_grid_features"] == grid.model_dump()
    loaded = Element.from_json(document)
    assert isinstance(loaded, Table) and loaded.data_grid_features == grid
    assert loaded.conditional_formatting_rules == grid.conditional_formatting_rules


class Idle(Step):
    """Shows an empty page (the tests store pages on it)."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        StoreInterface(**flow_metadata)


class ReadGrid(Step):
    """Reads the table stored on the first step's page."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        READ["later_step"] = StoreInterface(**flow_metadata).get_element("Idle", "t").data_grid_features


READ: dict[str, Any] = {}
grid_flow = Flow(name="Data grid", description="tables with data-grid options stored on a page")
grid_flow.chain(
    [
        Idle("Idle", "", "Data grid", StepType.RESULTS, Page("Idle", [Section("", [])])),
        ReadGrid("Read", "", "Data grid", StepType.RESULTS, Page("Read", [Section("", [])])),
    ]
)
_RUNS: dict[str, Any] = {}


def _idle_store(home: Path) -> StoreInterface:
    """A store on the idle step of one run per deployment (hypothesis examples share it)."""
    run = _RUNS.get(str(home))
    if run is None:
        run = _RUNS[str(home)] = flowdeck.start(grid_flow, user="alice")
    return StoreInterface(run.flow_id, user="alice", step_name="Idle")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(grid=features)
def test_a_table_saved_on_a_page_reads_back_with_equal_features(embedded: Path, grid: DataGridFeatures) -> None:
    store = _idle_store(embedded)
    frame = pd.DataFrame({"region": ["n", "s"], "amount": [1.0, 2.0]})
    store.update_page(Page("Idle", [Section("", [Card("C", [Table(frame, title="t", data_grid_features=grid)])])]))
    table = store.get_page().get_element_by_title("t")
    assert table.data_grid_features == grid
    assert store.get_element("Idle", "t").data_grid_features == grid
    assert table.to_json()["data_grid_features"] == grid.model_dump()


def test_a_later_step_reads_the_features_of_a_stored_table(embedded: Path) -> None:
    grid = DataGridFeatures(
        column_definitions=[GridColumn(field="amount", header_name="Amount", dtype="number", pinned="right")],
        column_grouping_model=[ColumnGroup(group_id="sales", children=[ColumnField(field="amount")])],
        aggregation={"amount": "avg"},
        default_page_size=50,
    )
    run = flowdeck.start(grid_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    page = store.get_page()
    table = Table(pd.DataFrame({"amount": [1.0]}), title="t", data_grid_features=grid)
    page.add_card_to_section(Card("C", [table]), "")
    store.update_page(page)
    run.next()
    assert READ["later_step"] == grid


# --- pages saved before -----------------------------------------------------------------------------

SALES_GRID = DataGridFeatures(
    column_definitions=[
        GridColumn(field="region", header_name="Region", dtype="text", pinned="left"),
        GridColumn(field="amount", header_name="Amount", dtype="number", editable=True),
    ],
    column_grouping_model=[
        ColumnGroup(
            group_id="sales",
            children=[
                ColumnField(field="region"),
                ColumnGroup(group_id="figures", children=[ColumnField(field="amount")]),
            ],
        )
    ],
    aggregation={"amount": "sum"},
    column_formatters={"amount": "{:,.2f}"},
    conditional_formatting_rules={"amount": "value > 2"},
    cell_editable=True,
    default_page_size=25,
)


def _legacy_page() -> dict[str, Any]:
    """A page JSON written when these options were dataclasses with no value checks."""
    return json.loads(LEGACY_PAGE.read_text())


def _saved_features(document: dict[str, Any], title: str) -> dict[str, Any]:
    for card in document["sections"][0]["content"]:
        for element in card["content"]:
            if element["title"] == title:
                return element["data_grid_features"]
    raise AssertionError(f"no table {title!r}")


def _check_legacy(page: Page, document: dict[str, Any]) -> None:
    assert page.get_element_by_title("Sales").data_grid_features == SALES_GRID
    unchecked = page.get_element_by_title("Numbers")
    # Values the checks now refuse load as they were saved, and are written back unchanged.
    assert unchecked.data_grid_features.column_definitions[0].field == 0
    assert unchecked.data_grid_features.aggregation == {"0": "median"}
    assert unchecked.to_json()["data_grid_features"] == _saved_features(document, "Numbers")
    assert Element.from_json(unchecked.to_json()).to_json() == unchecked.to_json()


def test_a_page_saved_in_the_old_form_still_loads() -> None:
    document = _legacy_page()
    assert _saved_features(document, "Sales") == SALES_GRID.model_dump()  # the old form is model_dump()'s
    _check_legacy(Page.from_json(document), document)
    # Outside a saved page, the same values are refused.
    with pytest.raises(pydantic.ValidationError) as raised:
        DataGridFeatures.from_json(_saved_features(document, "Numbers"))
    locs = {error["loc"] for error in raised.value.errors()}
    assert {("column_definitions", 0, "field"), ("column_definitions", 0, "pinned"), ("aggregation", "0")} <= locs


def test_a_page_saved_in_the_old_form_goes_through_the_store(embedded: Path) -> None:
    document = _legacy_page()
    store = _idle_store(embedded)
    page = Page.from_json(document)
    page.title = "Idle"
    store.update_page(page)
    _check_legacy(store.get_page(), document)
    assert store.get_element("Idle", "Sales").data_grid_features == SALES_GRID


# --- import cost -------------------------------------------------------------------------------------


def test_pydantic_loads_only_when_a_data_grid_is_used(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        import flowdeck, flowdeck.elements, virtualitics_sdk
        from flowdeck import Element, Page
        from virtualitics_sdk.elements.table import Table

        table = Element.from_json(Table(pd.DataFrame({"a": [1]}), title="t").to_json())
        assert "pydantic" not in sys.modules, "pydantic imported without a data grid"
        from virtualitics_sdk.elements.table import DataGridFeatures

        assert "pydantic" in sys.modules and DataGridFeatures.__module__ == "flowdeck.elements.data_grid"
        """
    )
    env = {**os.environ, "FLOWDECK_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
