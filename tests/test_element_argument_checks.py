"""Constructor arguments of the elements, cards, sections and assets are checked when they are given.

- A flag (a ``bool`` parameter) is True or False (numpy's too); None still reads as False where it
  did. Text such as ``"no"`` is a ``ValidationError`` instead of reading as True.
- A ``NumericSlider`` takes one number: a pair is refused unless its two ends are that number
  (what the web UI sends), from Python, the CLI and the web API.
- ``Table(selected_rows=...)`` and ``table.selected_rows = ...`` refuse rows the table lacks, as
  ``set_selected_rows`` does.
- ``DateTimeRange(timezone=...)`` refuses an unknown zone name when it is built.
- A list parameter given something else (``links=5``) is a ``ValidationError`` saying what it takes.
- ``Asset.to_bytes`` / ``Asset.from_bytes`` with an unknown method list the methods.

Pages stored before these checks still load as they were saved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import json
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

import flowdeck
from fixtures.cli_support import ONE_INPUT_FLOWS, run_cli
from flowdeck import (
    Asset,
    Button,
    Card,
    Column,
    Container,
    Dashboard,
    Dataset,
    DataSource,
    DataSourceDropdown,
    DateTimeRange,
    Dropdown,
    Explainer,
    Flow,
    Image,
    InfographData,
    Infographic,
    Model,
    MultiDropdown,
    NumericRange,
    NumericRangeSlider,
    NumericSlider,
    Page,
    PlotlyPlot,
    RichText,
    Row,
    Schema,
    Section,
    Segment,
    SegmentedControl,
    SingleDropdown,
    Step,
    StoreInterface,
    Table,
    TextInput,
    ValidationError,
)
from flowdeck.assets import AssetPersistenceMethod
from flowdeck.elements import inputs as inputs_module
from flowdeck.elements.base import Element, check_bool
from flowdeck.elements.callbacks import ContainerToggleCallback

FRAME = pd.DataFrame({"a": range(5)})
JAN, DEC = dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)

# --- 1. flags --------------------------------------------------------------------------------------

#: How to build each class with its required arguments, plus the keywords a test adds.
BUILDERS: dict[type, Callable[..., Any]] = {
    DataSource: lambda **kw: DataSource(title="D", **kw),
    Dropdown: lambda **kw: Dropdown(["a", "b"], title="D", **kw),
    SingleDropdown: lambda **kw: SingleDropdown(["a", "b"], title="D", **kw),
    MultiDropdown: lambda **kw: MultiDropdown(["a", "b"], title="D", **kw),
    DataSourceDropdown: lambda **kw: DataSourceDropdown("alice", ["sqlite"], title="D", **kw),
    TextInput: lambda **kw: TextInput(title="T", **kw),
    NumericRange: lambda **kw: NumericRange(0, 10, title="N", **kw),
    NumericSlider: lambda **kw: NumericSlider(0, 10, title="N", **kw),
    NumericRangeSlider: lambda **kw: NumericRangeSlider(0, 10, title="N", **kw),
    DateTimeRange: lambda **kw: DateTimeRange(JAN, DEC, title="P", **kw),
    Table: lambda **kw: Table(FRAME, title="T", **kw),
    PlotlyPlot: lambda **kw: PlotlyPlot(go.Figure(), title="P", **kw),
    Image: lambda **kw: Image(b"\x89PNG\r\n\x1a\n", title="I", **kw),
    RichText: lambda **kw: RichText("x", title="R", **kw),
    InfographData: lambda **kw: InfographData("L", "1", **kw),
    Infographic: lambda **kw: Infographic("I", data=[InfographData("L", "1")], **kw),
    Button: lambda **kw: Button(title="B", **kw),
    Dashboard: lambda **kw: Dashboard([RichText("x")], title="D", **kw),
    Card: lambda **kw: Card("C", [], **kw),
    Container: lambda **kw: Container("C", [], **kw),
    Segment: lambda **kw: Segment("L", "C", [], **kw),
    Section: lambda **kw: Section("S", [], **kw),
    Asset: lambda **kw: Asset(1, "a", "other", **kw),
    Dataset: lambda **kw: Dataset(FRAME, "d", **kw),
    Model: lambda **kw: Model(object(), "m", **kw),
    Explainer: lambda **kw: Explainer(object(), "e", **kw),
    Schema: lambda **kw: Schema({"a": "int64"}, **kw),
    ContainerToggleCallback: lambda **kw: ContainerToggleCallback(container_id="c1", **kw),
}

#: Flags a constructor takes through ``**kwargs`` (not in its signature).
EXTRA_FLAGS = [(SegmentedControl, "show_title"), (SegmentedControl, "show_description")]
BUILDERS[SegmentedControl] = lambda **kw: SegmentedControl(title="S", segments=[Segment("L", "C", [])], **kw)

#: Flags that were already refused as None (None is not read as False there).
REFUSES_NONE = {"required", "multiselect", "raw_upload", "exact_match"}

#: Where an object keeps a flag, when not under the parameter's name.
STORED_AS = {(ContainerToggleCallback, "visible"): "visibility"}


def _flag_parameters() -> list[tuple[type, str]]:
    """Every parameter annotated ``bool`` (or ``bool | None``) of every class in :data:`BUILDERS`."""
    found = []
    for cls in BUILDERS:
        for name, param in inspect.signature(inspect.unwrap(cls.__init__)).parameters.items():
            if str(param.annotation) in ("bool", "bool | None"):
                found.append((cls, name))
    return found + EXTRA_FLAGS


FLAGS = _flag_parameters()
FLAG_IDS = [f"{cls.__name__}.{name}" for cls, name in FLAGS]


@contextlib.contextmanager
def _no_connections() -> Iterator[None]:
    """Let a DataSourceDropdown list (no) connections without a deployment."""
    saved = inputs_module._connection_lister
    inputs_module._connection_lister = lambda user: []
    try:
        yield
    finally:
        inputs_module._connection_lister = saved


def _build(cls: type, **kw: Any) -> Any:
    with _no_connections():
        return BUILDERS[cls](**kw)


def test_the_flag_list_covers_the_reported_parameters() -> None:
    names = set(FLAG_IDS)
    for wanted in (
        "Card.show_title",
        "Section.show_title",
        "RichText.border",
        "DateTimeRange.is_range",
        "NumericRange.single",
        "Table.downloadable",
        "Card.disable_next",
        "TextInput.required",
        "Dropdown.multiselect",
        "DataSource.raw_upload",
        "Container.visible",
        "Asset.contains_pii",
        "Schema.exact_match",
    ):
        assert wanted in names


def _not_a_flag(cls: type) -> st.SearchStrategy[Any]:
    values = st.one_of(
        st.sampled_from(["no", "false", "False", "0", "", "yes", "true", "off"]),
        st.text(max_size=5),
        st.integers(),
        st.floats(allow_nan=False),
        st.lists(st.booleans(), max_size=2),
        st.just(np.int64(0)),
    )
    if cls is Schema:
        # Schema's second argument given as text is its label (documented): not a flag.
        return values.filter(lambda value: not isinstance(value, str))
    return values


@pytest.mark.parametrize(("cls", "name"), FLAGS, ids=FLAG_IDS)
@given(data=st.data())
def test_every_flag_refuses_what_is_not_true_or_false(cls: type, name: str, data: st.DataObject) -> None:
    value = data.draw(_not_a_flag(cls))
    with pytest.raises(ValidationError, match=rf"{name} must be True or False, got "):
        _build(cls, **{name: value})


@pytest.mark.parametrize(("cls", "name"), FLAGS, ids=FLAG_IDS)
@given(value=st.one_of(st.booleans(), st.booleans().map(np.bool_)))
def test_every_flag_takes_true_and_false(cls: type, name: str, value: Any) -> None:
    built = _build(cls, **{name: value})
    stored = getattr(built, STORED_AS.get((cls, name), name))
    assert type(stored) is bool and stored == bool(value)


@pytest.mark.parametrize(("cls", "name"), FLAGS, ids=FLAG_IDS)
def test_none_keeps_reading_as_false_where_it_did(cls: type, name: str) -> None:
    if name in REFUSES_NONE:
        with pytest.raises(ValidationError, match=rf"{name} must be True or False, got None"):
            _build(cls, **{name: None})
    else:
        assert getattr(_build(cls, **{name: None}), STORED_AS.get((cls, name), name)) is False


def test_the_reported_flags_no_longer_read_no_as_true() -> None:
    for build, match in [
        (lambda: Card("C", [], show_title="no"), r"Card 'C': show_title must be True or False, got 'no'"),
        (lambda: Section("S", [], show_title="no"), r"Section 'S': show_title must be True or False, got 'no'"),
        (lambda: RichText("x", border="no"), r"RichText '': border must be True or False, got 'no'"),
        (
            lambda: DateTimeRange(JAN, DEC, is_range="no"),
            r"DateTimeRange '': is_range must be True or False, got 'no'",
        ),
        (lambda: NumericRange(0, 10, single="no"), r"NumericRange '': single must be True or False, got 'no'"),
        (lambda: Table(FRAME, downloadable="no"), r"Table '': downloadable must be True or False, got 'no'"),
        # The ones that were refused already keep their message.
        (lambda: Card("C", [], disable_next="yes"), r"Card 'C': disable_next must be True or False, got 'yes'"),
        (lambda: TextInput(title="x", required="no"), r"TextInput 'x': required must be True or False, got 'no'"),
        (lambda: Dropdown(["a"], multiselect="no"), r"Dropdown '': multiselect must be True or False, got 'no'"),
    ]:
        with pytest.raises(ValidationError, match=match):
            build()
    assert Card("C", [], show_title=False).to_json()["show_title"] is False
    assert DateTimeRange("2020-01-01", "2021-01-01", is_range=False).get_value() == "2020-01-01T00:00:00"


def test_a_card_made_through_a_section_or_page_checks_its_flags() -> None:
    section = Section("S", [])
    with pytest.raises(ValidationError, match=r"show_card_title must be True or False, got 'no'"):
        section.add_card_w_content([RichText("x")], "C", show_card_title="no")
    page = Page("P", [Section("S", [Card("C", [RichText("x")])])])
    with pytest.raises(ValidationError, match=r"show_card_description must be True or False, got 'no'"):
        page.add_content_to_section([RichText("y")], "S", "D", show_card_description="no")
    with pytest.raises(ValidationError, match=r"show_card_title must be True or False, got 0"):
        page.replace_content_in_section([RichText("z")], "S", "C", show_card_title=0)
    assert page.get_card_by_title("C").show_title is True  # unchanged by the refused call
    page.replace_content_in_section([RichText("z")], "S", "C", show_card_title=False)
    assert page.get_card_by_title("C").show_title is False


def test_a_containers_visibility_is_checked_when_it_is_set() -> None:
    container = Container("C", [])
    with pytest.raises(ValidationError, match=r"Container 'C': visible must be True or False, got 'no'"):
        container.visible = "no"
    with pytest.raises(ValidationError, match=r"visible must be True or False, got 'yes'"):
        container.set_visibility("yes")
    assert container.visible is False
    container.set_visibility(True)
    assert container.visible is True


def test_check_bool_names_the_owner_and_the_parameter() -> None:
    assert check_bool(np.bool_(True), "flag", "Thing") is True
    assert check_bool(None, "flag", "Thing") is False
    with pytest.raises(ValidationError, match=r"^Thing: flag must be True or False, got None$"):
        check_bool(None, "flag", "Thing", allow_none=False)
    with pytest.raises(ValidationError, match=r"got 'no' \(a hint\)$"):
        check_bool("no", "flag", "Thing", hint=" (a hint)")


@given(
    flags=st.fixed_dictionaries(
        {
            name: st.booleans()
            for name in ("show_title", "show_description", "disable_next", "show_comments", "show_export")
        }
    ),
    border=st.booleans(),
    is_range=st.booleans(),
    downloadable=st.booleans(),
    visible=st.booleans(),
)
def test_pages_with_any_flags_round_trip_through_json(
    flags: dict[str, bool], border: bool, is_range: bool, downloadable: bool, visible: bool
) -> None:
    card = Card(
        "C",
        [
            RichText("x", border=border),
            DateTimeRange(JAN, DEC, is_range=is_range, title="P"),
            Table(FRAME, downloadable=downloadable, title="T"),
        ],
        **flags,
    )
    page = Page("P", [Section("S", [card, Container("M", [], visible=visible)], show_title=flags["show_title"])])
    loaded = Page.from_json(json.loads(json.dumps(page.to_json())))
    assert loaded == page
    assert loaded.get_card_by_title("C").disable_next is flags["disable_next"]


def test_table_options_stored_before_the_check_still_load_as_saved() -> None:
    document = Table(FRAME, title="T").to_json()
    document["options"]["filters_active"] = "no"  # what Table(filters_active="no") stored before
    loaded = Element.from_json(document)
    assert isinstance(loaded, Table) and loaded.filters_active == "no"


# --- 2. NumericSlider takes one number --------------------------------------------------------------


def test_a_slider_refuses_a_pair() -> None:
    slider = NumericSlider(-10, 10, title="NS")
    for pair in [(2, 7), (-50, 7), [2, 7], (None, 7), (7, None), (1, 1, 1), ()]:
        with pytest.raises(ValidationError, match=r"NumericSlider 'NS' takes one number, got .*; pass one number"):
            slider.set_value(pair)
    assert slider.get_value() == -10  # unchanged: nothing chosen
    with pytest.raises(ValidationError, match=r"NumericSlider '': selected takes one number, got tuple \(2, 7\)"):
        NumericSlider(0, 10, (2, 7))


@given(n=st.integers(-10, 10) | st.floats(-10, 10, allow_nan=False))
def test_a_slider_takes_one_number_or_a_pair_of_that_number(n: float) -> None:
    slider = NumericSlider(-10, 10, title="NS")
    for given_value in (n, str(n), (n, n), [n, n]):
        slider.set_value(given_value)
        assert slider.get_value() == n and slider.value == (n, n)
    assert NumericSlider(-10, 10, n).get_value() == n
    loaded = Element.from_json(json.loads(json.dumps(NumericSlider(-10, 10, n, title="NS").to_json())))
    assert loaded.get_value() == n


@given(low=st.integers(-10, 10), high=st.integers(-10, 10))
def test_a_slider_refuses_any_pair_with_two_ends(low: int, high: int) -> None:
    slider = NumericSlider(-10, 10, title="NS")
    if low == high:
        slider.set_value((low, high))
        assert slider.get_value() == low
    else:
        with pytest.raises(ValidationError, match="takes one number"):
            slider.set_value((low, high))


def test_a_single_numeric_range_keeps_its_documented_forms() -> None:
    single = NumericRange(0, 50, min_selection=5, max_selection=10, single=True)
    assert single.get_value() == 10
    single.set_value((None, 12))
    assert single.get_value() == 12


class _AddSlider(Step):
    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("C", [NumericSlider(0, 10, title="NS")]), "")
        store.update_page(page)


class _Read(Step):
    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("C", [TextInput(title="Note")]), "")
        store.update_page(page)


slider_flow = Flow(name="Slider", description="a NumericSlider")
slider_flow.chain(
    [_AddSlider(title="S1", page=Page("S1", [Section("", [])])), _Read(title="S2", page=Page("S2", [Section("", [])]))]
)


def test_a_run_refuses_a_pair_for_a_slider(embedded: Path) -> None:
    run = flowdeck.start(slider_flow, user="alice")
    for pair in [(2, 7), (-50, 7)]:
        with pytest.raises(ValidationError, match=r"NumericSlider 'NS' takes one number"):
            run.set_value("NS", pair)
    assert StoreInterface(run.flow_id, user="alice").get_element_value("S1", "NS") == 0
    run.set_value("NS", 7)
    run.set_value("NS", (4, 4))
    assert StoreInterface(run.flow_id, user="alice").get_element_value("S1", "NS") == 4


def test_the_cli_refuses_a_pair_for_a_slider(home: Path) -> None:
    slider = f"{ONE_INPUT_FLOWS}:slider"
    refused = run_cli(home, "run", slider, "--user", "alice", "--set", "NS=2,7", "--no-interactive")
    assert refused.returncode != 0
    assert "NumericSlider 'NS' takes one number" in refused.stderr
    done = run_cli(home, "run", slider, "--user", "alice", "--set", "NS=7", "--no-interactive")
    assert done.returncode == 0, done.stderr
    assert "S2 sees NS = 7" in done.stdout


def test_the_web_api_takes_the_pair_the_browser_sends(embedded: Path) -> None:
    from fixtures.server_support import add_people, element_id, login, start_run
    from flowdeck.server import create_app

    add_people()
    alice = login(create_app([f"{ONE_INPUT_FLOWS}:slider"]), "alice")
    run_id = start_run(alice, "Slider file")
    page = alice.get(f"/api/runs/{run_id}/steps/S1/page").json()
    url = f"/api/runs/{run_id}/steps/S1/elements/{element_id(page, 'NS')}/value"
    answer = alice.put(url, json={"value": [4, 4]})  # app.js sends the one value as both ends
    assert answer.status_code == 200, answer.text
    assert answer.json()["element"]["value"] == [4, 4]
    refused = alice.put(url, json={"value": [2, 7]})
    assert refused.status_code == 422 and "takes one number" in refused.text


# --- 3. Table selected rows -------------------------------------------------------------------------


def test_a_table_refuses_selected_rows_it_lacks_when_built_and_when_assigned() -> None:
    with pytest.raises(ValidationError, match=r"Table 'T': row 10 is out of range \(the table has 5 rows\)"):
        Table(FRAME, title="T", selectable=True, selected_rows=[10])
    table = Table(FRAME, title="T", selectable=True, selected_rows=[1, 3])
    with pytest.raises(ValidationError, match=r"row -1 is out of range \(the table has 5 rows\)"):
        table.selected_rows = [-1]
    with pytest.raises(ValidationError, match=r"row 10 is out of range"):
        table.set_selected_rows([10])
    assert table.selected_rows == [1, 3]
    for bad in [5, "1", [1.5], [True], [None], {"a": 1}]:
        with pytest.raises(ValidationError, match=r"selected_rows must be a list of row positions"):
            Table(FRAME, title="T", selected_rows=bad)


@given(rows=st.lists(st.integers(-10, 15), max_size=6))
def test_selected_rows_in_the_table_are_kept_and_others_refused(rows: list[int]) -> None:
    if all(0 <= row < 5 for row in rows):
        table = Table(FRAME, title="T", selectable=True, selected_rows=rows)
        assert table.selected_rows == rows
        assert Table(FRAME, selected_rows=np.array(rows, dtype=np.int64)).selected_rows == rows
        assert table.get_selected_data().equals(FRAME.iloc[sorted(set(rows))])
    else:
        with pytest.raises(ValidationError, match="is out of range"):
            Table(FRAME, title="T", selected_rows=rows)


def test_a_table_stored_with_rows_it_lacks_still_loads() -> None:
    document = Table(FRAME, title="T", selected_rows=[1]).to_json()
    document["selected_rows"] = [10]  # stored before the constructor checked
    loaded = Element.from_json(document)
    assert isinstance(loaded, Table) and loaded.selected_rows == [10]
    with pytest.raises(ValidationError, match="selected row 10 is out of range"):
        loaded.get_selected_data()


# --- 4. DateTimeRange time zone ---------------------------------------------------------------------


def test_an_unknown_zone_is_refused_when_the_element_is_built() -> None:
    with pytest.raises(
        ValidationError,
        match=r"DateTimeRange 'Period': timezone 'Mars/Base' is not a known zone name; give an IANA zone name "
        r"such as 'Europe/Paris' or 'UTC'",
    ):
        DateTimeRange(JAN, DEC, title="Period", timezone="Mars/Base")
    for bad in ["", 5, None]:
        with pytest.raises(ValidationError, match=r"timezone must be a zone name such as 'Europe/Paris' or 'UTC'"):
            DateTimeRange(JAN, DEC, title="Period", timezone=bad)


@given(zone=st.sampled_from(sorted(zoneinfo.available_timezones())) | st.just("UTC"))
def test_every_known_zone_is_taken(zone: str) -> None:
    assert DateTimeRange(JAN, DEC, timezone=zone).timezone == zone


def test_a_page_stored_with_an_unknown_zone_still_loads() -> None:
    utc = dt.UTC
    document = DateTimeRange(JAN.replace(tzinfo=utc), DEC.replace(tzinfo=utc), title="Period").to_json()
    document["timezone"] = "Mars/Base"  # stored before the constructor checked
    loaded = Element.from_json(document)
    assert isinstance(loaded, DateTimeRange) and loaded.timezone == "Mars/Base"
    with pytest.raises(ValidationError, match="timezone 'Mars/Base' is not a known zone name"):
        loaded.set_value(("2020-02-01", None))


# --- 5. list parameters given something else --------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda v: Table(FRAME, links=v), r"links must be a list of link texts \(URLs\)"),
        (lambda v: Table(FRAME, row_actions=v), r"row_actions must be a list of RowActions"),
        (lambda v: Table(FRAME, selected_rows=v), r"selected_rows must be a list of row positions"),
        (lambda v: DataSource(options=v), r"options must be a list of file format names"),
        (lambda v: Dropdown(v), r"options must be a list or a dict"),
        (lambda v: Infographic("I", data=v), r"data must be a list of InfographData"),
        (
            lambda v: Infographic("I", data=[InfographData("L", "1")], recommendation=v),
            r"recommendation must be a list of InfographData",
        ),
        (lambda v: Dashboard(v), r"Dashboard '': content must be a list of elements, Rows and Columns"),
        (lambda v: Dashboard([RichText("x")], filters=v), r"filters must be a list of input elements"),
        (lambda v: SegmentedControl(title="S", segments=v), r"segments must be a list of Segment cards"),
        (lambda v: Row(v), r"Row elements must be a list of elements, Rows and Columns"),
        (lambda v: Column(v), r"Column elements must be a list of elements, Rows and Columns"),
        (lambda v: Row([RichText("x")], ratio=v), r"Row ratio must be a list of positive numbers"),
        (lambda v: Column([RichText("x")], ratio=v), r"Column ratio must be a list of positive numbers"),
        (lambda v: Asset(1, "a", "other", source_metadata=v), r"source_metadata must be a dict"),
        (lambda v: Dataset(FRAME, "d", categorical_cols=v), r"must be a list of column names"),
        (lambda v: Dataset(FRAME, "d", predict_cols=v), r"must be a list of column names"),
        (lambda v: Dataset(FRAME, "d", one_hot_dict=v), r"one_hot_dict must be a dict"),
        (lambda v: Dataset(FRAME, "d", cat_to_vals=v), r"cat_to_vals must be a dict"),
    ],
)
@given(value=st.integers() | st.floats(allow_nan=False) | st.booleans() | st.just(object()))
def test_a_list_parameter_given_a_single_value_says_what_it_takes(
    build: Callable[[Any], Any], match: str, value: Any
) -> None:
    with pytest.raises(ValidationError, match=match):
        build(value)


def test_table_links_take_a_list_of_texts() -> None:
    assert Table(FRAME, links=["http://a", "http://b"]).links == ["http://a", "http://b"]
    assert Table(FRAME, links=("http://a",)).links == ["http://a"]
    assert Table(FRAME).links is None
    for bad in ["http://a", 5, [5], {"http://a": 1}, b"http://a"]:
        with pytest.raises(ValidationError, match=r"Table 'T': links must be a list of link texts"):
            Table(FRAME, title="T", links=bad)


# --- 6. Asset.to_bytes / from_bytes methods ---------------------------------------------------------

METHODS = r"use one of \['pickle', 'csv', 'excel', 'json', 'bytes', 'parquet'\]"


@given(method=st.text(max_size=8).filter(lambda text: text not in {m.value for m in AssetPersistenceMethod}))
def test_an_unknown_method_lists_the_methods(method: str) -> None:
    with pytest.raises(ValidationError, match=rf"to_bytes of asset 'd': unknown serialization_method .*; {METHODS}"):
        Dataset(FRAME, "d").to_bytes(method)
    with pytest.raises(ValidationError, match=rf"from_bytes: unknown serialization_method .*; {METHODS}"):
        Asset.from_bytes(b"a\n1\n", False, method, "dataset")


def test_known_methods_still_write_and_read() -> None:
    dataset = Dataset(FRAME, "d")
    for method in ("csv", AssetPersistenceMethod.JSON, "parquet"):
        payload = dataset.to_bytes(method)
        back = Asset.from_bytes(payload, False, method, "dataset")
        assert back.equals(FRAME)
    assert Asset(b"raw", "b", "other").to_bytes("bytes") == b"raw"
    with pytest.raises(ValidationError, match="bogus"):
        Dataset(FRAME, "d").to_bytes("bogus")
