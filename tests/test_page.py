"""Pages: structure, lookups, validation, the JSON form (with stored fixtures) and text rendering."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeck.elements import (
    Button,
    DataSource,
    DateTimeRange,
    Dropdown,
    Element,
    Image,
    InfographData,
    InfographDataType,
    Infographic,
    NumericRange,
    PlotlyPlot,
    RichText,
    Row,
    Table,
    TextInput,
)
from flowdeck.errors import NotFoundError, ValidationError
from flowdeck.page import PAGE_SCHEMA_VERSION, Card, Container, Page, Section, render_page_text

FIXTURE = Path(__file__).parent / "fixtures" / "page_v1.json"


def sample_page() -> Page:
    upload = DataSource("Upload data here!", ["csv"])
    target = Dropdown(["churn", "plan"], "churn", title="Target column")
    frame = pd.DataFrame({"plan": ["basic", "pro"], "n": [3, 4]})
    return Page(
        "Upload",
        [
            Section("", [Card("Data", [upload, target])]),
            Section("Results", [Card("Table", [Table(frame, title="Preview"), RichText("Done", title="Note")])]),
        ],
    )


# --- structure and lookups -------------------------------------------------------------------------


def test_elements_in_order_and_inputs() -> None:
    page = sample_page()
    assert [e.title for e in page.elements] == ["Upload data here!", "Target column", "Preview", "Note"]
    assert [e.title for e in page.input_elements] == ["Upload data here!", "Target column"]


def test_add_card_to_existing_and_new_section() -> None:
    page = sample_page()
    page.add_card_to_section(Card("More", [TextInput(title="Name")]), "")
    assert [c.title for c in page.get_section_by_title("").cards] == ["Data", "More"]
    page.add_card_to_section(Card("Late", [RichText("x", title="Late note")]), "Appendix")
    assert [s.title for s in page.sections] == ["", "Results", "Appendix"]
    assert page.get_section_by_title("Appendix").cards[0].title == "Late"
    with pytest.raises(ValidationError, match="add_card_to_section takes a Card, got TextInput"):
        page.add_card_to_section(TextInput(title="x"), "")  # type: ignore[arg-type]


def test_lookups_raise_on_a_miss_unless_quiet() -> None:
    page = sample_page()
    target = page.get_element_by_title("Target column")
    assert isinstance(target, Dropdown)
    assert page.get_element_by_id(target.id) is target
    assert page.get_input_element(target.id) is target
    assert page.get_input_element("Target column") is target
    assert page.get_input_element("Preview") is None  # an output, not an input
    assert page.get_element_by_title("nope", quiet=True) is None
    assert page.get_element_by_id("nope", quiet=True) is None
    assert page.get_card_by_title("nope", quiet=True) is None
    with pytest.raises(NotFoundError, match="page 'Upload' has no element titled 'nope'"):
        page.get_element_by_title("nope")
    with pytest.raises(NotFoundError, match="page 'Upload' has no element with id 'nope'"):
        page.get_element_by_id("nope")
    with pytest.raises(NotFoundError, match="page 'Upload' has no section 'nope'"):
        page.get_section_by_title("nope")
    with pytest.raises(NotFoundError, match="page 'Upload' has no card 'nope'"):
        page.get_card_by_title("nope")
    assert page.get_card_by_title("Table").elements[0].title == "Preview"


def test_get_element_by_title_prefers_the_input() -> None:
    shown = RichText("Pick a plan", title="Plan")
    choice = Dropdown(["a"], title="Plan")
    page = Page("p", [Section("s", [Card("c", [shown, choice])])])
    assert page.get_element_by_title("Plan") is choice


def test_validate_rejects_duplicate_input_titles() -> None:
    page = sample_page()
    page.validate()
    page.add_card_to_section(Card("Again", [TextInput(title="Target column")]), "")
    with pytest.raises(ValidationError, match="Page 'Upload' has two input elements titled 'Target column'"):
        page.validate()


def test_outputs_may_share_titles_but_not_ids() -> None:
    note = RichText("a", title="Note")
    page = Page("p", [Section("s", [Card("c", [note, RichText("b", title="Note")])])])
    page.validate()
    page.add_card_to_section(Card("c2", [note]), "s")
    with pytest.raises(ValidationError, match=r"holds the element 'Note'.*twice"):
        page.validate()


def test_content_must_hold_the_right_things() -> None:
    with pytest.raises(ValidationError, match="Card 'c': content must hold only elements, got str"):
        Card("c", ["text"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="Section 's': content must hold only Cards, got TextInput"):
        Section("s", [TextInput(title="t")])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="Page 'p': content must be a list of Sections, got str"):
        Page("p", "sections")  # type: ignore[arg-type]
    assert Card("c", TextInput(title="t")).elements[0].title == "t"


def test_replace_element_by_id() -> None:
    page = sample_page()
    old = page.get_element_by_title("Target column")
    new = Element.from_json(old.to_json())
    new.set_value("plan")
    page.replace_element(new)
    assert page.get_element_by_id(old.id).typed_value() == "plan"
    with pytest.raises(NotFoundError, match="has no element with id 'zzz'"):
        stranger = TextInput(title="t")
        stranger.id = "zzz"
        page.replace_element(stranger)


def test_copy_is_deep_and_equal() -> None:
    page = sample_page()
    copy = page.copy()
    assert copy == page and copy is not page
    copy.get_element_by_title("Target column").set_value("plan")
    assert page.get_element_by_title("Target column").typed_value() == "churn"
    assert copy != page


# --- JSON ------------------------------------------------------------------------------------------


def test_page_round_trips_through_json_text() -> None:
    page = sample_page()
    document = page.to_json()
    assert document["schema_version"] == PAGE_SCHEMA_VERSION
    assert Page.from_json(json.dumps(document)) == page
    assert Page.from_json(json.loads(json.dumps(document))).elements[0].id == page.elements[0].id


def test_stored_version_1_fixture_loads() -> None:
    document = json.loads(FIXTURE.read_text())
    page = Page.from_json(document)
    kinds = [type(element).__name__ for element in page.elements]
    assert kinds == [
        "DataSource", "DataSource", "Dropdown", "Dropdown", "TextInput", "NumericRange", "DateTimeRange",
        "Table", "PlotlyPlot", "Image", "RichText", "Infographic",
    ]  # fmt: skip
    customers = page.get_element_by_title("Customers")
    assert customers.id == "e0000000000000000000000000000001"
    assert customers.value["filename"] == "customers.csv" and customers.required
    assert page.get_element_by_title("Contract").raw_upload
    assert page.get_element_by_title("Target column").typed_value() == "churn"
    assert page.get_element_by_title("Target column").placeholder == "Pick the column to predict"
    assert page.get_element_by_title("Features").typed_value() == ["age", "tenure"]
    assert page.get_element_by_title("Run name").typed_value() == "first try"
    assert page.get_element_by_title("Age").typed_value() == (25, 99)
    assert page.get_element_by_title("Period").typed_value() == (
        dt.datetime(2023, 1, 1),
        dt.datetime(2023, 12, 31, 23, 59, 59),
    )
    table = page.get_element_by_id("e0000000000000000000000000000008")
    expected = pd.DataFrame(
        {
            "plan": pd.Series(["basic", "pro"], dtype="str"),
            "customers": [120, 80],
            "churn_rate": [0.25, None],
            "since": pd.to_datetime(["2020-01-01", None]).astype("datetime64[ns]"),
        }
    )
    pd.testing.assert_frame_equal(table.content, expected)
    assert table.downloadable
    plot = page.get_element_by_id("e0000000000000000000000000000009")
    assert plot.trace_types == ["bar"]
    assert plot.to_figure().layout.title.text == "Churn rate by plan"
    image = page.get_element_by_title("Logo")
    assert image.content.startswith(b"\x89PNG") and image.alt == "Company logo"
    assert page.get_element_by_title("Notes").content.startswith("**Basic**")
    infographic = page.elements[-1]
    assert isinstance(infographic, Infographic)
    [figure] = infographic.data
    assert (figure.label, figure.main_text, figure.unit, figure.supporting_text) == (
        "Churn rate",
        "19.0",
        "%",
        "over all customers",
    )
    assert figure.infograph_type is InfographDataType.NEGATIVE
    assert page.get_element_by_title("Age").step_size == 1
    assert page.get_element_by_title("Target column").required is True
    assert page.get_element_by_title("Features").required is False
    assert page.to_json()["schema_version"] == PAGE_SCHEMA_VERSION == 2
    assert all(element["schema_version"] == 2 for s in page.to_json()["sections"] for c in s["content"]
               for element in c["content"])  # fmt: skip
    # Loading and saving again is stable.
    assert Page.from_json(page.to_json()) == page


def test_version_0_page_is_upgraded() -> None:
    # Version 0: no schema_version, "cards"/"elements" keys, no descriptions, no "required"/"extra"
    # on elements, and selections as "selected" / "min_selection" / "max_selection".
    old = {
        "title": "Old page",
        "sections": [
            {
                "title": "Main",
                "cards": [
                    {
                        "title": "Inputs",
                        "elements": [
                            {"kind": "DataSource", "id": "a1", "title": "Data", "options": ["csv"],
                             "raw_upload": False, "value": None},
                            {"kind": "Dropdown", "id": "a2", "title": "Target", "options": ["x", "y"],
                             "multiselect": False, "selected": "y"},
                            {"kind": "NumericRange", "id": "a3", "title": "Age", "min_range": 0,
                             "max_range": 10, "step": None, "min_selection": None, "max_selection": 4},
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    page = Page.from_json(old)
    assert page.get_section_by_title("Main").description == ""
    data, target, age = page.elements
    assert data.required is True and data.description == "" and data.extra == {}
    assert target.required is False and target.typed_value() == "y"
    assert age.typed_value() == (0, 4)
    assert page.to_json()["schema_version"] == PAGE_SCHEMA_VERSION
    assert Page.from_json(page.to_json()) == page


def test_bad_page_documents() -> None:
    with pytest.raises(ValidationError, match="newer than this flowdeck reads"):
        Page.from_json({"schema_version": PAGE_SCHEMA_VERSION + 1, "title": "p", "sections": []})
    with pytest.raises(ValidationError, match="page JSON is not valid JSON: line 1, column 2"):
        Page.from_json("{oops")
    with pytest.raises(ValidationError, match="page JSON 'p' is malformed"):
        Page.from_json({"schema_version": 1, "title": "p"})


simple_elements = st.one_of(
    st.builds(TextInput, st.text(max_size=10), st.text(max_size=10)),
    st.builds(RichText, st.text(max_size=20), title=st.text(max_size=10)),
    st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True).flatmap(
        lambda options: st.builds(Dropdown, st.just(options), st.sampled_from(options), title=st.text(max_size=10))
    ),
    st.builds(
        NumericRange,
        st.integers(-10, 0),
        st.integers(1, 10),
        st.none() | st.integers(0, 1),
        title=st.text(max_size=10),
    ),
    st.builds(
        Infographic,
        st.text(max_size=10),
        data=st.lists(st.builds(InfographData, st.text(max_size=5), st.text(max_size=5)), min_size=1, max_size=2),
    ),
)
rows = st.builds(Row, st.lists(simple_elements, min_size=1, max_size=3))
cards = st.one_of(
    st.builds(Card, st.text(max_size=10), st.lists(simple_elements | rows, max_size=4), st.text(max_size=10)),
    st.builds(Container, st.text(max_size=10), st.lists(simple_elements, max_size=2), visible=st.booleans()),
)
sections = st.builds(Section, st.text(max_size=10), st.lists(cards, max_size=3), st.text(max_size=10))
pages = st.builds(Page, st.text(max_size=10), st.lists(sections, max_size=3))


@settings(max_examples=60, deadline=None)
@given(page=pages)
def test_random_pages_round_trip(page: Page) -> None:
    loaded = Page.from_json(json.loads(json.dumps(page.to_json(), allow_nan=False)))
    assert loaded == page
    assert [e.id for e in loaded.elements] == [e.id for e in page.elements]
    assert [type(e) for e in loaded.elements] == [type(e) for e in page.elements]
    assert [s.title for s in loaded.sections] == [s.title for s in page.sections]


# --- text rendering --------------------------------------------------------------------------------


def test_render_page_text_shows_titles_values_and_tables() -> None:
    page = sample_page()
    frame = pd.DataFrame({"id": range(25), "score": [i / 4 for i in range(25)]})
    figure = go.Figure([go.Scatter(x=[1], y=[2]), go.Bar(x=[1], y=[2]), go.Bar(x=[2], y=[3])])
    figure.update_layout(title="Scores")
    upload = page.get_element_by_title("Upload data here!")
    upload.set_value(DataSource.describe_upload("data.csv", b"x" * 2048, "2024-05-01T00:00:00+00:00"))
    page.add_card_to_section(
        Card(
            "Details",
            [
                Table(frame, title="Scores table"),
                PlotlyPlot(figure, title="Score plot"),
                NumericRange(0, 10, 2, None, title="Range"),
                DateTimeRange("2024-01-01", "2024-02-01", title="When"),
                Image(b"\x89PNG\r\n\x1a\n", title="Pic", description="a chart"),
                Infographic("Total", data=[InfographData("Users", "42", "all time", unit="users")]),
                Button(title="Go", label="Run it"),
                TextInput(title="Empty box"),
            ],
        ),
        "Results",
    )
    text = render_page_text(page, max_rows=5)
    for expected in [
        "Upload",
        "Upload data here!",
        "data.csv, 2.0 kB",
        "Target column",
        "churn  (options: churn, plan)",
        "Scores table",
        "25 rows x 2 columns",
        "... 20 more rows",
        "plot: 3 traces (scatter, bar)",
        "2 to 10  (range 0 to 10)",
        "2024-01-01 00:00:00 to 2024-02-01 00:00:00",
        "image image/png, 8 B, 'a chart'",
        "Users: 42 users, all time, info",
        "button 'Run it'",
        "Empty box",
        "(not set)",
    ]:
        assert expected in text, expected
    # only the first five rows of the scores table are shown
    shown_ids = [int(match[1]) for match in re.finditer(r"│\s+(\d+) │\s+[\d.]+\s", text)]
    assert shown_ids == [0, 1, 2, 3, 4]


def test_render_empty_page() -> None:
    assert "(empty page)" in render_page_text(Page("Nothing", []))
