"""Elements: construction, validation, typed values and the JSON round trip."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowdeck.store.store_interface  # noqa: F401  # loads storage before the fixtures configure it
from flowdeck.elements import (
    SCHEMA_VERSION,
    Button,
    ButtonColor,
    ButtonStyle,
    Column,
    ColumnField,
    ColumnGroup,
    Dashboard,
    DataGridFeatures,
    DataSource,
    DataSourceDropdown,
    DateTimeRange,
    Dropdown,
    Element,
    GridColumn,
    Image,
    ImageSize,
    InfographData,
    InfographDataType,
    Infographic,
    InfographicOrientation,
    InputElement,
    MultiDropdown,
    NumericRange,
    NumericRangeSlider,
    NumericSlider,
    PlotlyPlot,
    RichText,
    Row,
    RowAction,
    RowActionType,
    SegmentedControl,
    SingleDropdown,
    Table,
    TextInput,
    element_kinds,
)
from flowdeck.elements.callbacks import ContainerToggleCallback
from flowdeck.errors import ValidationError
from flowdeck.formats import SUPPORTED_FORMATS
from flowdeck.page import Segment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8

# --- strategies ------------------------------------------------------------------------------------

titles = st.text(max_size=20)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    titles,
)
datetimes = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))
aware_datetimes = datetimes.map(lambda d: d.replace(tzinfo=dt.UTC))
numbers = st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e12, 1e12, allow_nan=False))


common = st.fixed_dictionaries(
    {},
    optional={
        "show_title": st.booleans(),
        "show_description": st.booleans(),
        "reference_id": st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    },
)
labelled = st.fixed_dictionaries({}, optional={"label": titles, "placeholder": titles})


def callback_for_tests(store_interface: Any, input_data: Any = None) -> None:
    """A module-level function, stored by reference in element JSON."""


callbacks = st.none() | st.just(callback_for_tests) | st.just(ContainerToggleCallback(True, "modal-1"))


@st.composite
def data_sources(draw: st.DrawFn) -> DataSource:
    raw = draw(st.booleans())
    if raw:
        options = draw(st.lists(st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True), max_size=4, unique=True))
    else:
        options = draw(st.lists(st.sampled_from(SUPPORTED_FORMATS), min_size=1, unique=True))
    element = DataSource(
        draw(titles),
        options,
        description=draw(titles),
        required=draw(st.booleans()),
        on_upload_completion=draw(callbacks),
        downloadable=draw(st.booleans()),
        raw_upload=raw,
        **draw(common),
        **draw(labelled),
    )
    if draw(st.booleans()):
        element.set_value(
            {
                "filename": draw(st.text(min_size=1, max_size=20)),
                "size": draw(st.integers(0, 10**12)),
                "sha256": draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
                "uploaded_at": draw(aware_datetimes).isoformat(),
            }
        )
    return element


@st.composite
def dropdowns(draw: st.DrawFn) -> Dropdown:
    options: Any = draw(st.lists(st.one_of(titles, st.integers(-100, 100)), max_size=6, unique=True))
    multiselect = draw(st.booleans())
    if multiselect:
        selected: Any = draw(st.lists(st.sampled_from(options), unique=True)) if options else None
    else:
        selected = [draw(st.sampled_from(options))] if options and draw(st.booleans()) else None
    if options and draw(st.booleans()):
        options = {str(option): index for index, option in enumerate(options)}
        selected = None if selected is None else [str(option) for option in selected]
    return Dropdown(
        options,
        selected,
        draw(st.booleans()),
        draw(st.booleans()),
        multiselect,
        draw(titles),
        required=draw(st.booleans()),
        page_update=draw(callbacks),
        **draw(common),
        **draw(labelled),
    )


@st.composite
def single_dropdowns(draw: st.DrawFn) -> SingleDropdown:
    options = draw(st.lists(titles, min_size=1, max_size=4, unique=True))
    return SingleDropdown(options, draw(st.none() | st.sampled_from(options)), title=draw(titles), **draw(common))


@st.composite
def multi_dropdowns(draw: st.DrawFn) -> MultiDropdown:
    options = draw(st.lists(titles, min_size=1, max_size=4, unique=True))
    chosen = draw(st.lists(st.sampled_from(options), unique=True))
    return MultiDropdown(options, chosen, title=draw(titles), max_selections=max(1, len(chosen)), **draw(common))


@st.composite
def text_inputs(draw: st.DrawFn) -> TextInput:
    return TextInput(
        draw(st.text(max_size=50)),
        draw(titles),
        draw(titles),
        required=draw(st.booleans()),
        page_update=draw(callbacks),
        **draw(common),
        **draw(labelled),
    )


def _range_bounds(draw: st.DrawFn) -> tuple[Any, Any, Any, Any]:
    low, high = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
    selection = sorted(draw(st.lists(st.one_of(st.integers(0, 100), st.floats(0, 100)), min_size=2, max_size=2)))
    span = high - low
    sel_low = None if draw(st.booleans()) else min(high, max(low, low + span * selection[0] / 100))
    sel_high = None if draw(st.booleans()) else min(high, max(low, low + span * selection[1] / 100))
    if sel_low is not None and sel_high is not None and sel_low > sel_high:
        sel_low, sel_high = sel_high, sel_low
    return low, high, sel_low, sel_high


@st.composite
def numeric_ranges(draw: st.DrawFn) -> NumericRange:
    low, high, sel_low, sel_high = _range_bounds(draw)
    step = draw(st.none() | st.floats(0.001, 100))
    return NumericRange(low, high, sel_low, sel_high, title=draw(titles), step_size=step, single=False, **draw(common))


@st.composite
def numeric_sliders(draw: st.DrawFn) -> NumericSlider:
    low, high, sel_low, _ = _range_bounds(draw)
    return NumericSlider(low, high, sel_low, draw(titles), **draw(common))


@st.composite
def numeric_range_sliders(draw: st.DrawFn) -> NumericRangeSlider:
    low, high, sel_low, sel_high = _range_bounds(draw)
    return NumericRangeSlider(low, high, sel_low, sel_high, draw(titles), **draw(common))


@st.composite
def datetime_ranges(draw: st.DrawFn) -> DateTimeRange:
    points = sorted(draw(st.lists(datetimes, min_size=4, max_size=4)))
    sel_low = None if draw(st.booleans()) else points[1]
    sel_high = None if draw(st.booleans()) else points[2]
    return DateTimeRange(
        points[0],
        points[3],
        sel_low,
        sel_high,
        show_time=draw(st.booleans()),
        is_range=draw(st.booleans()),
        title=draw(titles),
        timezone=draw(st.sampled_from(["UTC", "Europe/Paris"])),
        **draw(common),
    )


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 8))

    def column(elements: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(elements, min_size=rows, max_size=rows))

    frame = pd.DataFrame(
        {
            "int": pd.Series(column(st.integers(-(2**53), 2**53)), dtype="int64"),
            "float": pd.Series(column(st.floats(allow_nan=True, allow_infinity=True)), dtype="float64"),
            "text": pd.Series(column(st.none() | st.text(max_size=10)), dtype="str"),
            "flag": pd.Series(column(st.booleans()), dtype="bool"),
            "when": pd.Series(column(st.none() | datetimes), dtype="datetime64[ns]"),
            "when_utc": pd.Series(column(aware_datetimes), dtype="datetime64[ns, UTC]"),
        }
    )
    return frame[draw(st.lists(st.sampled_from(list(frame.columns)), unique=True, min_size=1))]


@st.composite
def tables(draw: st.DrawFn) -> Table:
    frame = draw(frames())
    features = draw(
        st.none()
        | st.just(
            DataGridFeatures(
                column_definitions=[GridColumn(field=str(frame.columns[0]), pinned="left")],
                column_grouping_model=[ColumnGroup(group_id="g", children=[ColumnField(field=str(frame.columns[0]))])],
                default_page_size=25,
            )
        )
    )
    return Table(
        frame,
        draw(st.booleans()),
        title=draw(titles),
        description=draw(titles),
        links=draw(st.none() | st.lists(st.text(max_size=10), max_size=2)),
        searchable=draw(st.booleans()),
        column_descriptions=draw(st.none() | st.just({str(frame.columns[0]): "the first column"})),
        row_actions=draw(st.just([]) | st.just([RowAction("Open", "open the row", RowActionType.UPDATE)])),
        selectable=draw(st.booleans()),
        on_row_select=draw(callbacks),
        data_grid_features=features,
        **draw(common),
    )


@st.composite
def plots(draw: st.DrawFn) -> PlotlyPlot:
    values = draw(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=5))
    kind = draw(st.sampled_from(["scatter", "bar", "histogram"]))
    if draw(st.booleans()):
        figure: Any = go.Figure({"data": [{"type": kind, "x": values}], "layout": {"title": {"text": "t"}}})
    else:
        figure = {"data": [{"type": kind, "x": np.array(values)}], "layout": {}}
    return PlotlyPlot(figure, draw(titles), height=draw(st.none() | st.integers(50, 900)), **draw(common))


@st.composite
def images(draw: st.DrawFn) -> Image:
    content = PNG + draw(st.binary(max_size=64))
    return Image(content, draw(st.sampled_from(list(ImageSize))), draw(titles), draw(titles), **draw(common))


@st.composite
def rich_texts(draw: st.DrawFn) -> RichText:
    return RichText(draw(st.text(max_size=80)), draw(st.booleans()), draw(titles), on_click=draw(callbacks))


@st.composite
def infograph_data(draw: st.DrawFn) -> InfographData:
    return InfographData(
        draw(titles),
        draw(st.text(max_size=10)),
        draw(titles),
        infograph_type=draw(st.sampled_from(list(InfographDataType))),
        unit=draw(st.none() | titles),
        on_click=draw(callbacks),
    )


@st.composite
def infographics(draw: st.DrawFn) -> Infographic:
    return Infographic(
        draw(titles),
        draw(titles),
        draw(st.lists(infograph_data(), min_size=1, max_size=3)),
        draw(st.lists(infograph_data(), max_size=2)),
        draw(st.sampled_from(list(InfographicOrientation))),
        event=draw(st.none() | buttons()),
    )


@st.composite
def buttons(draw: st.DrawFn) -> Button:
    return Button(
        title=draw(titles),
        label=draw(st.none() | titles),
        on_click=draw(callbacks),
        style=draw(st.sampled_from(list(ButtonStyle))),
        color=draw(st.sampled_from(list(ButtonColor))),
        tooltip=draw(st.none() | titles),
    )


@st.composite
def segmented_controls(draw: st.DrawFn) -> SegmentedControl:
    segments = [
        Segment(draw(titles), draw(titles), [draw(text_inputs())]),
        Segment(draw(titles), draw(titles), [Row([draw(rich_texts()), draw(plots())], [1, 2])]),
    ]
    return SegmentedControl(title=draw(titles), segments=segments, active_segment_index=draw(st.integers(0, 1)))


@st.composite
def dashboards(draw: st.DrawFn) -> Dashboard:
    content = [Row([draw(rich_texts()), Column([draw(plots()), draw(tables())])], [1, 1])]
    return Dashboard(content, draw(titles), filters=[draw(single_dropdowns())])


@st.composite
def data_source_dropdowns(draw: st.DrawFn) -> DataSourceDropdown:
    element = DataSourceDropdown.__new__(DataSourceDropdown)
    Dropdown.__init__(element, {"warehouse (postgresql)": {"name": "warehouse", "type": "postgresql", "owner": "a"}})
    element.user_id = "a"
    element.connection_types = ["postgresql"]
    element.title = draw(titles)
    return element


ELEMENT_STRATEGIES: dict[str, st.SearchStrategy[Element]] = {
    "DataSource": data_sources(),
    "Dropdown": dropdowns(),
    "SingleDropdown": single_dropdowns(),
    "MultiDropdown": multi_dropdowns(),
    "DataSourceDropdown": data_source_dropdowns(),
    "TextInput": text_inputs(),
    "NumericRange": numeric_ranges(),
    "NumericSlider": numeric_sliders(),
    "NumericRangeSlider": numeric_range_sliders(),
    "DateTimeRange": datetime_ranges(),
    "Table": tables(),
    "PlotlyPlot": plots(),
    "Image": images(),
    "RichText": rich_texts(),
    "InfographData": infograph_data(),
    "Infographic": infographics(),
    "Button": buttons(),
    "SegmentedControl": segmented_controls(),
    "Dashboard": dashboards(),
}
any_element = st.one_of(*ELEMENT_STRATEGIES.values())


def test_every_public_kind_has_a_strategy() -> None:
    public = {kind for kind in element_kinds() if kind not in {"InputElement", "OutputElement"}}
    assert public <= set(ELEMENT_STRATEGIES)


# --- round trips -----------------------------------------------------------------------------------


def _assert_round_trip(element: Element) -> Element:
    document = element.to_json()
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["kind"] == type(element).__name__
    text = json.dumps(document, allow_nan=False)
    loaded = Element.from_json(json.loads(text))
    assert type(loaded) is type(element)
    assert loaded.id == element.id
    assert loaded == element
    assert loaded.to_json() == document
    return loaded


@pytest.mark.parametrize("kind", sorted(ELEMENT_STRATEGIES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_kind_round_trips_through_json(kind: str, data: st.DataObject) -> None:
    element = data.draw(ELEMENT_STRATEGIES[kind])
    loaded = _assert_round_trip(element)
    if isinstance(element, InputElement):
        assert loaded.typed_value() == element.typed_value()
    if isinstance(element, Table):
        pd.testing.assert_frame_equal(loaded.content, element.content)


@settings(max_examples=25, deadline=None)
@given(frame=frames())
def test_table_round_trip_keeps_values_and_dtypes(frame: pd.DataFrame) -> None:
    loaded = Element.from_json(json.loads(json.dumps(Table(frame, title="t").to_json())))
    assert isinstance(loaded, Table)
    pd.testing.assert_frame_equal(loaded.content, frame)


def test_ids_are_generated_unique_and_kept() -> None:
    a, b = TextInput(title="a"), TextInput(title="a")
    assert a.id != b.id
    assert len(a.id) == 32
    assert a != b  # same content, different identity
    assert Element.from_json(a.to_json()).id == a.id


def test_from_json_on_a_subclass_checks_the_kind() -> None:
    document = TextInput("x", title="t").to_json()
    assert isinstance(InputElement.from_json(document), TextInput)
    with pytest.raises(ValidationError, match="is a TextInput, not a Table"):
        Table.from_json(document)


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown element kind 'Gauge'.*Dropdown"):
        Element.from_json({"schema_version": 1, "kind": "Gauge", "id": "x", "title": "g"})


def test_newer_schema_version_is_refused() -> None:
    document = TextInput(title="t").to_json() | {"schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ValidationError, match="newer than this flowdeck reads"):
        Element.from_json(document)


def test_malformed_json_is_a_validation_error() -> None:
    document = Dropdown(["a"], title="d").to_json()
    del document["options"]
    with pytest.raises(ValidationError, match="Dropdown JSON 'd' is malformed"):
        Element.from_json(document)


def test_version_0_element_is_upgraded() -> None:
    old = {
        "kind": "Dropdown",
        "id": "abc",
        "title": "Colour",
        "options": ["red", "blue"],
        "selected": "blue",
        "multiselect": False,
    }
    loaded = Element.from_json(old)
    assert isinstance(loaded, Dropdown)
    assert (loaded.id, loaded.description, loaded.extra, loaded.required) == ("abc", "", {}, False)
    assert loaded.typed_value() == "blue"
    old_range = {
        "schema_version": 0,
        "kind": "NumericRange",
        "id": "r",
        "title": "Age",
        "min_range": 0,
        "max_range": 99,
        "step": None,
        "min_selection": 18,
        "max_selection": None,
    }
    loaded_range = Element.from_json(old_range)
    assert loaded_range.typed_value() == (18, 99)
    old_upload = {
        "schema_version": 0,
        "kind": "DataSource",
        "id": "u",
        "title": "Data",
        "options": ["csv"],
        "raw_upload": False,
        "value": None,
    }
    assert Element.from_json(old_upload).required is True


def test_unknown_keywords_are_refused_with_the_closest_name() -> None:
    with pytest.raises(
        TypeError,
        match=r"TextInput\(\) got an unexpected keyword argument 'requird'; did you mean 'required'\? "
        r"Accepted keywords: value, description, title",
    ):
        TextInput("v", requird=True)
    with pytest.raises(
        TypeError, match=r"PlotlyPlot\(\) got an unexpected keyword argument 'figure'; did you mean 'fig'"
    ):
        PlotlyPlot(figure=go.Figure())
    with pytest.raises(
        TypeError, match=r"Table\(\) got an unexpected keyword argument 'max_row'; did you mean 'max_rows'"
    ):
        Table(pd.DataFrame(), max_row=3)


CONSTRUCTED: dict[str, Any] = {
    "DataSource": lambda **kw: DataSource("d", **kw),
    "Dropdown": lambda **kw: Dropdown(["a"], **kw),
    "SingleDropdown": lambda **kw: SingleDropdown(["a"], **kw),
    "MultiDropdown": lambda **kw: MultiDropdown(["a"], **kw),
    "DataSourceDropdown": lambda **kw: DataSourceDropdown("nobody", [], **kw),
    "TextInput": lambda **kw: TextInput(**kw),
    "NumericRange": lambda **kw: NumericRange(0, 1, **kw),
    "NumericSlider": lambda **kw: NumericSlider(0, 1, **kw),
    "NumericRangeSlider": lambda **kw: NumericRangeSlider(0, 1, **kw),
    "DateTimeRange": lambda **kw: DateTimeRange("2024-01-01", "2024-02-01", **kw),
    "Table": lambda **kw: Table(pd.DataFrame(), **kw),
    "PlotlyPlot": lambda **kw: PlotlyPlot(go.Figure(), **kw),
    "Image": lambda **kw: Image(PNG, **kw),
    "RichText": lambda **kw: RichText("x", **kw),
    "InfographData": lambda **kw: InfographData("l", "1", **kw),
    "Infographic": lambda **kw: Infographic(data=[InfographData("l", "1")], **kw),
    "Button": lambda **kw: Button(title="b", **kw),
    "SegmentedControl": lambda **kw: SegmentedControl(title="s", segments=[Segment("a", "t", [])], **kw),
    "Dashboard": lambda **kw: Dashboard([RichText("x")], **kw),
}


def test_every_element_kind_is_constructed_in_the_strict_test() -> None:
    assert set(CONSTRUCTED) == set(ELEMENT_STRATEGIES)


@pytest.mark.parametrize("kind", sorted(CONSTRUCTED))
def test_every_element_constructor_rejects_an_unknown_keyword(kind: str, embedded: Any) -> None:
    CONSTRUCTED[kind]()  # the base call works
    with pytest.raises(
        TypeError, match=rf"{kind}\(\) got an unexpected keyword argument 'titel'; did you mean 'title'"
    ):
        CONSTRUCTED[kind](titel="x")
    with pytest.raises(TypeError, match=rf"{kind}\(\) got an unexpected keyword argument 'zzz_unknown'\. Accepted"):
        CONSTRUCTED[kind](zzz_unknown=1)


# --- DataSource ----------------------------------------------------------------------------------


def test_data_source_defaults_and_positional_order() -> None:
    source = DataSource("Upload data here!")
    assert (source.options, source.required, source.raw_upload, source.value) == (["csv"], True, False, None)
    source = DataSource("Data", [".CSV", "xlsx"], required=False)
    assert source.options == ["csv", "xlsx"]
    assert source.required is False
    assert not source.has_value()


def test_data_source_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(
        ValidationError, match=r"DataSource 'Data': unknown option 'xls'.*csv, tsv, xlsx, json, parquet"
    ):
        DataSource("Data", ["csv", "xls"])
    assert DataSource("Any", ["pdf", "PNG"], raw_upload=True).options == ["pdf", "png"]


def test_data_source_value_describes_the_upload() -> None:
    source = DataSource("Data")
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    value = DataSource.describe_upload("a.csv", b"a,b\n1,2\n", when)
    assert value == {
        "filename": "a.csv",
        "size": 8,
        "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
        "uploaded_at": "2024-05-01T12:00:00+00:00",
    }
    source.set_value(value)
    assert source.has_value()
    assert source.typed_value() == value
    with pytest.raises(ValidationError, match="upload description lacks sha256, uploaded_at"):
        source.set_value({"filename": "a.csv", "size": 3})
    with pytest.raises(ValidationError, match="upload a file instead"):
        source.set_value("a.csv")


def test_data_source_checks_uploads_by_content() -> None:
    source = DataSource("Data", ["csv"])
    assert source.check_upload("a.csv", b"a,b\n1,2\n") == "csv"
    with pytest.raises(ValidationError, match=re.escape("'a.csv' looks like parquet, but this upload accepts csv")):
        source.check_upload("a.csv", b"PAR1....")
    raw = DataSource("Report", ["pdf"], raw_upload=True)
    assert raw.check_upload("r.pdf", b"%PDF-1.7") is None
    with pytest.raises(ValidationError, match=r"'r.docx' has extension 'docx', but DataSource 'Report' accepts pdf"):
        raw.check_upload("r.docx", b"PK\x03\x04")


# --- Dropdown ------------------------------------------------------------------------------------


def test_dropdown_selection_must_be_an_option() -> None:
    with pytest.raises(ValidationError, match=r"Dropdown 'Target': 'churn' is not among the options \['a', 'b'\]"):
        Dropdown(["a", "b"], "churn", title="Target")
    dropdown = Dropdown(["a", "b"], title="Target")
    assert dropdown.typed_value() is None and not dropdown.has_value()
    dropdown.value = "b"
    assert dropdown.selected == ["b"] and dropdown.value == "b" and dropdown.typed_value() == "b"
    with pytest.raises(ValidationError, match="takes one selection"):
        dropdown.set_value(["a", "b"])
    assert dropdown.value == "b"  # a refused value leaves the old one


def test_dropdown_multiselect() -> None:
    dropdown = Dropdown(["a", "b", "c"], ["c", "a"], multiselect=True, title="Cols")
    assert dropdown.typed_value() == ["c", "a"]
    dropdown.set_value("b")
    assert dropdown.typed_value() == ["b"]
    with pytest.raises(ValidationError, match="'z' is not among the options"):
        dropdown.set_value(["a", "z"])
    dropdown.set_value(None)
    assert dropdown.typed_value() == [] and not dropdown.has_value()


def test_dropdown_matches_numpy_and_keeps_types() -> None:
    dropdown = Dropdown(np.array([1, 2, 3]), np.int64(2), title="n")
    assert dropdown.options == [1, 2, 3]
    assert type(dropdown.typed_value()) is int
    assert Dropdown([True, 1], 1, title="b").typed_value() == 1
    assert Dropdown([True, 1], True, title="b").typed_value() is True


def test_value_from_text() -> None:
    assert Dropdown([1, 2], title="n").value_from_text("2") == 2
    assert Dropdown(["a", "b", "c"], multiselect=True, title="m").value_from_text("a, c") == ["a", "c"]
    assert NumericRange(0, 10, title="r").value_from_text("2,5") == ("2", "5")
    rng = NumericRange(0, 10, title="r")
    rng.set_value(rng.value_from_text("2.5..7"))
    assert rng.typed_value() == (2.5, 7)
    with pytest.raises(ValidationError, match="takes an uploaded file"):
        DataSource("d").value_from_text("x.csv")


# --- TextInput -----------------------------------------------------------------------------------


def test_text_input() -> None:
    box = TextInput(title="Name")
    assert box.typed_value() == "" and not box.has_value()
    box.set_value("Ada")
    assert box.typed_value() == "Ada" and box.has_value()
    with pytest.raises(ValidationError, match=r"TextInput 'Name' takes text, got int 5"):
        box.set_value(5)


# --- ranges --------------------------------------------------------------------------------------


def test_numeric_range_full_range_when_nothing_selected() -> None:
    rng = NumericRange(0, 100, title="Age")
    assert rng.typed_value() == (0, 100)
    assert rng.has_value()
    rng.set_value((10, None))
    assert rng.typed_value() == (10, 100)
    assert (rng.min_selection, rng.max_selection) == (10, 100)  # an end not chosen is the end of the range
    assert rng.value == (10, None)


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ((-1, 5), r"NumericRange 'Age': selection -1 is outside the range \[0, 100\]"),
        ((5, 101), r"selection 101 is outside the range"),
        ((50, 10), r"selection low 50 is greater than high 10"),
        ((1, 2, 3), r"takes a pair \(low, high\), got 3 values"),
        (("a", 3), r"low end of the selection 'a' is not a number"),
        ((float("nan"), 3), r"must be finite"),
    ],
)
def test_numeric_range_rejects_bad_selections(selection: tuple[Any, ...], message: str) -> None:
    rng = NumericRange(0, 100, title="Age")
    with pytest.raises(ValidationError, match=message):
        rng.set_value(selection)
    assert rng.value is None


def test_numeric_range_bounds_and_step() -> None:
    with pytest.raises(ValidationError, match="min_range 5 is greater than max_range 1"):
        NumericRange(5, 1, title="r")
    with pytest.raises(ValidationError, match="step_size must be greater than 0"):
        NumericRange(0, 1, title="r", step_size=0)
    with pytest.raises(ValidationError, match="outside the range"):
        NumericRange(0, 10, 20, title="r")


def test_datetime_range_accepts_dates_and_iso_text() -> None:
    rng = DateTimeRange(dt.date(2024, 1, 1), "2024-12-31T23:59:00", title="Period")
    assert rng.typed_value() == (dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 31, 23, 59))
    rng.set_value(("2024-03-01", pd.Timestamp("2024-04-01")))
    assert rng.typed_value() == (dt.datetime(2024, 3, 1), dt.datetime(2024, 4, 1))
    document = rng.to_json()
    assert document["value"] == ["2024-03-01T00:00:00", "2024-04-01T00:00:00"]
    assert document["min_range"] == "2024-01-01T00:00:00"


def test_datetime_range_errors() -> None:
    rng = DateTimeRange("2024-01-01", "2024-12-31", title="Period")
    with pytest.raises(
        ValidationError,
        match=r"DateTimeRange 'Period': selection 2025-01-01T00:00:00 is outside the range "
        r"\[2024-01-01T00:00:00, 2024-12-31T00:00:00\]",
    ):
        rng.set_value(("2024-06-01", dt.datetime(2025, 1, 1)))
    with pytest.raises(ValidationError, match="'next week' is not an ISO date"):
        rng.set_value(("next week", None))
    with pytest.raises(ValidationError, match="cannot compare"):
        rng.set_value((dt.datetime(2024, 2, 1, tzinfo=dt.UTC), None))


def test_a_date_without_a_zone_is_read_in_the_elements_zone_when_the_range_has_one() -> None:
    utc = dt.UTC
    rng = DateTimeRange(dt.datetime(2026, 1, 1, tzinfo=utc), dt.datetime(2026, 12, 31, tzinfo=utc), title="Period")
    rng.set_value(("2026-02-01", dt.datetime(2026, 3, 1)))
    assert rng.typed_value() == (dt.datetime(2026, 2, 1, tzinfo=utc), dt.datetime(2026, 3, 1, tzinfo=utc))
    paris = DateTimeRange(
        dt.datetime(2026, 1, 1, tzinfo=utc), dt.datetime(2026, 12, 31, tzinfo=utc), title="P", timezone="Europe/Paris"
    )
    paris.set_value(("2026-07-01T12:00:00", None))
    assert paris.typed_value()[0] == dt.datetime(2026, 7, 1, 10, 0, tzinfo=utc)  # 12:00 in Paris, summer time
    with pytest.raises(ValidationError, match=r"selection .* is outside the range"):
        rng.set_value(("2027-01-01", None))
    with pytest.raises(ValidationError, match="timezone 'Mars/Olympus' is not a known zone name"):
        DateTimeRange(
            dt.datetime(2026, 1, 1, tzinfo=utc),
            dt.datetime(2026, 12, 31, tzinfo=utc),
            title="N",
            timezone="Mars/Olympus",
        )


# --- outputs -------------------------------------------------------------------------------------


def test_table_json_is_strict_json() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, np.inf],
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
            "s": ["a", None, "c"],
        }
    )
    document = Table(frame, title="t").to_json()
    json.dumps(document, allow_nan=False)
    assert document["columns"] == ["x", "t", "s"]
    assert document["records"][1] == [None, None, None]
    assert document["records"][2][0] == "Infinity"


def test_table_keeps_index_and_truncates_large_frames() -> None:
    frame = pd.DataFrame({"v": range(5)}, index=pd.Index(list("abcde"), name="k"))
    loaded = Element.from_json(Table(frame, title="t").to_json())
    pd.testing.assert_frame_equal(loaded.content, frame)
    big = Table(pd.DataFrame({"v": range(50)}), title="big", max_rows=10)
    document = big.to_json()
    assert len(document["records"]) == 10 and document["total_rows"] == 50
    loaded_big = Element.from_json(document)
    assert len(loaded_big.content) == 10 and loaded_big.total_rows == 50 and loaded_big.truncated


def test_table_refuses_non_frames() -> None:
    with pytest.raises(ValidationError, match=r"Table 'bad': content must be a pandas DataFrame, got list"):
        Table([[1, 2]], title="bad")
    assert list(Table(pd.Series([1, 2], name="s")).content.columns) == ["s"]


def test_plot_accepts_figures_and_dicts() -> None:
    figure = go.Figure([go.Scatter(x=[1, 2], y=[3, 4]), go.Bar(x=[1], y=[2])])
    plot = PlotlyPlot(figure, title="p")
    assert plot.trace_types == ["scatter", "bar"]
    assert isinstance(plot.to_figure(), go.Figure)
    loaded = Element.from_json(json.loads(json.dumps(plot.to_json())))
    assert loaded.figure_json == plot.figure_json
    assert loaded.to_figure().data[1].type == "bar"
    with pytest.raises(ValidationError, match="PlotlyPlot 'p': the figure dict is not a valid figure"):
        PlotlyPlot({"data": [{"type": "no-such-trace"}]}, title="p")
    with pytest.raises(ValidationError, match="fig must be a plotly Figure or a dict, got int"):
        PlotlyPlot(3, title="p")


def test_image_from_bytes_and_path(tmp_path: Any) -> None:
    image = Image(PNG, title="logo", description="Logo")
    assert image.alt == "Logo"
    assert image.mime == "image/png"
    assert image.data_uri().startswith("data:image/png;base64,iVBORw0KGgo")
    path = tmp_path / "pic.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 10)
    from_path = Image(str(path), title="p")
    assert from_path.mime == "image/jpeg" and from_path.content == path.read_bytes()
    assert Element.from_json(from_path.to_json()).content == from_path.content
    with pytest.raises(ValidationError, match="no image file at"):
        Image(str(tmp_path / "missing.png"), title="m")


def test_infographic_and_rich_text() -> None:
    revenue = InfographData("Revenue", np.float64(12.5), "vs last year", unit="M$")
    info = Infographic("Key figures", data=[revenue])
    assert list(info.get_elements()) == [revenue]
    assert revenue.main_text == "12.5" and revenue.infograph_type is InfographDataType.INFO
    with pytest.raises(
        ValidationError, match=r"InfographData infograph_type must be one of InfographDataType.POSITIVE"
    ):
        InfographData("Revenue", "1", infograph_type="sideways")
    with pytest.raises(ValidationError, match="Infographic 'k': data must hold InfographData, got RichText"):
        Infographic("k", data=[RichText("x")])
    assert RichText("# Title", title="r").content == "# Title"
    with pytest.raises(ValidationError, match="RichText 'r': content must be text"):
        RichText(5, title="r")  # type: ignore[arg-type]


def test_title_must_be_text() -> None:
    with pytest.raises(ValidationError, match="TextInput title must be text, got int"):
        TextInput(title=3)  # type: ignore[arg-type]


def test_equality_is_by_json() -> None:
    a = TextInput("x", title="t")
    b = Element.from_json(a.to_json())
    assert a == b
    b.set_value("y")
    assert a != b
    assert a != "not an element"


def test_a_data_source_dropdown_lists_connections_in_a_fresh_process(embedded) -> None:
    """A flow's first use of the store in a process may be a DataSourceDropdown: it lists all the same."""
    import os
    import subprocess
    import sys

    import flowdeck

    flowdeck.add_user("alice")
    flowdeck.add_connection("sales", "sqlite", "alice", database="sales.db")
    # As a flow file imports them; nothing has listed connections in this process yet.
    script = (
        "from flowdeck import DataSourceDropdown, StoreInterface\n"
        "print(list(DataSourceDropdown('alice', ['sqlite']).options))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_")}
    env["FLOWDECK_HOME"] = str(embedded)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['sales (sqlite)']"
