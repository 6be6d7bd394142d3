"""More elements that behave as the SDK 1.62 stubs' docstrings say: the size rule of Rows and
Columns, the default selection of two-sided numeric ranges, a Dropdown's ``selected`` and the
connection types a DataSourceDropdown accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flowdeck
from flowdeck import (
    Button,
    Card,
    Dashboard,
    DataSourceDropdown,
    Dropdown,
    Element,
    MultiDropdown,
    NumericRange,
    NumericRangeSlider,
    NumericSlider,
    RichText,
    SingleDropdown,
    TextInput,
)
from flowdeck.elements import Column, Row
from flowdeck.elements.controls import layout_from_json
from flowdeck.errors import ValidationError
from flowdeck.page.page import Page, Section


def _texts(*names: str) -> list[RichText]:
    return [RichText(name, title=name) for name in names]


# --- Row / Column ----------------------------------------------------------------------------------


def test_columns_in_a_row_must_have_the_same_height() -> None:
    # ":raises ValueError: If all columns in that row do not have the same height."
    with pytest.raises(
        ValueError, match=r"^all Columns in a Row must have the same height, got Columns of heights 2, 3: "
    ):
        Row([Column(_texts("a", "b")), Column(_texts("c", "d", "e"))])
    with pytest.raises(ValidationError, match=r"a Column's height is the number of elements it stacks"):
        Row([Column(_texts("a")), RichText("beside"), Column(_texts("c", "d"))])


def test_rows_in_a_column_must_have_the_same_width() -> None:
    # ":raises ValueError: If all rows in that column do not have the same width."
    with pytest.raises(ValueError, match=r"^all Rows in a Column must have the same width, got Rows of widths 1, 2: "):
        Column([Row(_texts("a")), Row(_texts("b", "c"))])
    with pytest.raises(ValidationError, match=r"a Row's width is the number of elements side by side in it"):
        Column([Row(_texts("a", "b")), Row([RichText("c"), Column([Row(_texts("d", "e"))])])])


def test_sizes_count_cells_and_matching_layouts_are_accepted() -> None:
    left, right = Column(_texts("a", "b")), Column([RichText("c"), Row(_texts("d", "e"))])
    assert (left.width, left.height) == (1, 2)
    assert (right.width, right.height) == (2, 2)
    row = Row([left, right, RichText("f")], ratio=[1, 2, 1])
    assert (row.width, row.height) == (4, 2)
    # Lone elements are not compared with the Columns beside them, nor with the Rows above them.
    assert Row([RichText("x"), Column(_texts("a", "b", "c"))]).height == 3
    column = Column([Row(_texts("a", "b")), RichText("c"), Row([RichText("d"), Column(_texts("e"))])])
    assert (column.width, column.height) == (2, 3)
    assert (Row(_texts("a")).height, Column(_texts("a")).width) == (1, 1)


def test_a_card_row_with_a_ratio_follows_the_rule() -> None:
    card = Card("C", [])
    with pytest.raises(ValidationError, match="all Columns in a Row must have the same height"):
        card.add_content([Column(_texts("a")), Column(_texts("b", "c"))], ratio=[1, 1])
    assert card.content == []


def test_layouts_saved_before_the_rule_still_load() -> None:
    saved = {
        "kind": "Row",
        "ratio": None,
        "elements": [Column(_texts("a")).to_json(), Column(_texts("b", "c")).to_json()],
    }
    row = layout_from_json(json.loads(json.dumps(saved)))
    assert isinstance(row, Row) and row.to_json() == saved
    page = Page("P", [Section("", [Card("C", [])])])
    page_json = page.to_json()
    page_json["sections"][0]["content"][0]["content"] = [saved]
    loaded = Page.from_json(page_json)
    assert [element.title for element in loaded.elements] == ["a", "b", "c"]


def test_a_dashboard_lays_out_its_content_without_the_rule() -> None:
    # A Dashboard's content is a list of rows, columns and elements, not a Row the flow writer made.
    dashboard = Dashboard([Column(_texts("a")), Column(_texts("b", "c"))], title="D")
    assert [element.title for element in dashboard.get_elements()] == ["a", "b", "c"]
    assert Element.from_json(json.loads(json.dumps(dashboard.to_json()))) == dashboard
    with pytest.raises(ValidationError, match="all Rows in a Column must have the same width"):
        Dashboard([Column([Row(_texts("a")), Row(_texts("b", "c"))])], title="D")


def _shape(layout: Row | Column) -> list[object]:
    """A layout as nested lists: ("row"|"column", [items]) with elements as their titles."""
    return [
        (item.direction, _shape(item)) if isinstance(item, Row | Column) else item.title for item in layout.elements
    ]


def test_a_dashboards_lone_elements_each_get_a_row_of_their_own() -> None:
    # The SDK: "Any lone elements in this list will be put into their own row."
    dashboard = Dashboard([*_texts("a", "b"), Row(_texts("c", "d")), Column(_texts("e")), Column(_texts("f"))])
    assert dashboard.content.direction == "column"
    assert _shape(dashboard.content) == [
        ("row", ["a"]),
        ("row", ["b"]),
        ("row", ["c", "d"]),
        ("row", [("column", ["e"]), ("column", ["f"])]),  # Columns side by side share a row
    ]
    loaded = Element.from_json(json.loads(json.dumps(dashboard.to_json())))
    assert _shape(loaded.content) == _shape(dashboard.content)


def test_a_dashboard_saved_in_one_row_loads_as_it_was_saved() -> None:
    document = Dashboard(_texts("a"), title="D").to_json()
    document["content"] = Row._unchecked(_texts("a", "b")).to_json()
    loaded = Element.from_json(document)
    assert loaded.content.direction == "row" and _shape(loaded.content) == ["a", "b"]


@pytest.mark.parametrize(
    "content",
    [
        [TextInput(title="Name")],
        [Row([RichText("x", title="x"), Dropdown(["a"], title="Pick")])],
        [Column([Row([Button(title="Go")])])],
    ],
)
def test_a_dashboard_holds_only_output_elements(content: list[object]) -> None:
    with pytest.raises(
        ValidationError,
        match=r"Dashboard 'D' cannot hold (TextInput 'Name'|Dropdown 'Pick'|Button 'Go'): a dashboard shows "
        r"PlotlyPlot, Image, Table, Infographic and RichText elements; put inputs in its filters=, or use a Card",
    ):
        Dashboard(content, title="D")


# --- NumericRange / NumericRangeSlider -------------------------------------------------------------


@pytest.mark.parametrize("cls", [NumericRangeSlider, NumericRange])
def test_a_two_sided_range_selects_the_ends_of_the_range_by_default(cls: type[NumericRange]) -> None:
    # ":param min_selection: The minimum selected value. Defaults to min_range value"; likewise max.
    slider = cls(-2, 17, title="S")
    assert (slider.min_selection, slider.max_selection) == (-2, 17)
    assert slider.get_value() == (-2, 17)
    assert (cls(-2, 17, min_selection=0).min_selection, cls(-2, 17, min_selection=0).max_selection) == (0, 17)
    assert (cls(-2, 17, max_selection=15).min_selection, cls(-2, 17, max_selection=15).max_selection) == (-2, 15)
    slider.set_value((None, 5))
    assert (slider.min_selection, slider.max_selection) == (-2, 5)
    # The stored value still says what the user chose: nothing, or one end.
    assert cls(-2, 17).value is None and cls(-2, 17).to_json()["value"] is None
    loaded = Element.from_json(json.loads(json.dumps(cls(-2, 17, max_selection=15).to_json())))
    assert (loaded.min_selection, loaded.max_selection) == (-2, 15)


def test_a_single_slider_without_a_selection_still_has_none() -> None:
    for slider in (NumericRange(0, 50, single=True), NumericSlider(0, 50)):
        assert (slider.min_selection, slider.max_selection) == (None, None)
        assert slider.get_value() == 0
    chosen = NumericSlider(0, 50, selected=7)
    assert (chosen.min_selection, chosen.max_selection) == (7, 7)


# --- Dropdown.selected -----------------------------------------------------------------------------


def test_a_dropdown_with_nothing_selected_has_an_empty_selection() -> None:
    # ":param selected: The option the user selected, defaults to []." (Dropdown and MultiDropdown)
    for dropdown in (Dropdown(["a", "b"]), Dropdown(["a", "b"], multiselect=True), MultiDropdown(["a", "b"])):
        assert dropdown.selected == []
    # SingleDropdown: ":param selected: The option the user selected, defaults to None."
    assert SingleDropdown(["a", "b"]).selected is None


def test_a_dropdowns_selected_is_the_list_it_takes() -> None:
    single = Dropdown(["a", "b"], selected=["a"], title="One")
    assert single.selected == ["a"]
    single.selected = "b"
    assert single.selected == ["b"]
    single.selected = []
    assert single.selected == []
    many = Dropdown(["a", "b", "c"], selected=["c", "a"], multiselect=True)
    assert many.selected == ["c", "a"]
    one = SingleDropdown(["a", "b"], selected="b")
    assert one.selected == "b"
    one.selected = ["a"]
    assert one.selected == "a"
    mapped = Dropdown({"Rows": "rows", "Columns": "cols"}, selected=["Rows"])
    assert mapped.selected == ["Rows"] and mapped.get_value() == "rows"


def test_get_value_and_the_page_json_keep_their_forms() -> None:
    single, many = Dropdown(["a", "b"], title="One"), MultiDropdown(["a", "b"], title="Many")
    assert single.get_value() is None and single.value is None and not single.has_value()
    assert many.get_value() == [] and many.value == []
    assert single.to_json()["value"] is None and many.to_json()["value"] == []
    single.set_value("a")
    assert single.get_value() == "a" and single.to_json()["value"] == "a"
    loaded = Element.from_json(json.loads(json.dumps(Dropdown(["a", "b"]).to_json())))
    assert loaded.selected == [] and loaded.get_value() is None
    assert Element.from_json(single.to_json()).selected == ["a"]


# --- DataSourceDropdown ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "bad"),
    [
        ([flowdeck.ConnectionType.postgresql, "oracle"], "'oracle'"),
        (["sqlite", 5], "5"),
        ([None], "None"),
    ],
)
def test_a_data_source_dropdown_refuses_an_unknown_connection_type(options: list, bad: str) -> None:
    with pytest.raises(ValidationError, match=rf"^DataSourceDropdown 'DB': {bad} is not a connection type\. ") as info:
        DataSourceDropdown("alice", options, title="DB")
    assert isinstance(info.value, ValueError)
    accepted = str(info.value).split("Accepted types: ")[1].split(", ")
    assert accepted == [member.value for member in flowdeck.ConnectionType]


def test_a_data_source_dropdown_takes_a_list_of_types() -> None:
    with pytest.raises(
        ValidationError,
        match=r"options must be a list of ConnectionType, got ConnectionType\.s3; pass \[ConnectionType\.s3\]\. "
        r"Accepted types: postgresql, ",
    ):
        DataSourceDropdown("alice", flowdeck.ConnectionType.s3, title="DB")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"conn2dropdown_str: 'nosql' is not a connection type"):
        DataSourceDropdown.conn2dropdown_str(["nosql"], "alice")


def test_a_data_source_dropdown_offers_connections_of_the_types_given(embedded: Path) -> None:
    from virtualitics_sdk import ConnectionType

    flowdeck.add_user("alice")
    flowdeck.add_connection("sales", "sqlite", "alice", database="sales.db")
    flowdeck.add_connection("files", "other", "alice")
    dropdown = DataSourceDropdown("alice", [ConnectionType.sqlite, "Other"], title="DB")
    assert dropdown.connection_types == ["sqlite", "other"]
    assert sorted(dropdown.options) == ["files (other)", "sales (sqlite)"]
    assert DataSourceDropdown("alice", [ConnectionType.other]).options == ["files (other)"]
