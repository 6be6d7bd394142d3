"""Elements behave as the SDK 1.62 stubs' docstrings say (NumericRange, DateTimeRange, DataSource,
Button, Dashboard, PlotlyPlot, Infographic, InfographData, RichTextClickable), while
``StoreInterface.get_element_value`` keeps DESIGN §4's values; and, in headless Chromium, a
RichText's clickable parts marked ``data-virt-clickable`` run its ``on_click``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

import flowdeck
from flowdeck import (
    Button,
    Card,
    Dashboard,
    DataSource,
    DateTimeRange,
    Flow,
    InfographData,
    Infographic,
    NumericRange,
    NumericSlider,
    Page,
    PlotlyPlot,
    RichText,
    RichTextClickable,
    Section,
    Step,
    StoreInterface,
)
from flowdeck.elements import ButtonStyle, Element, Row
from flowdeck.errors import ValidationError

D1, D2 = dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)


# --- NumericRange -----------------------------------------------------------------------------------


def test_a_single_numeric_range_takes_max_selection_as_its_value() -> None:
    # ":param max_selection: ... For single sided sliders, this is the value to change to set defaults."
    assert NumericRange(0, 50, max_selection=10, single=True).get_value() == 10
    assert NumericRange(0, 50, min_selection=5, max_selection=10, single=True).get_value() == 10
    assert NumericRange(0, 50, min_selection=5, single=True).get_value() == 5
    assert NumericRange(0, 50, single=True).get_value() == 0
    assert NumericSlider(0, 50, selected=7).get_value() == 7
    loaded = Element.from_json(json.loads(json.dumps(NumericRange(0, 50, max_selection=10, single=True).to_json())))
    assert loaded.get_value() == 10


def test_a_single_numeric_range_is_set_by_one_number_or_the_high_end_of_a_pair() -> None:
    slider = NumericRange(0, 50, single=True, title="Slider")
    slider.set_value((None, 12))
    assert slider.get_value() == 12 and slider.value == (12, 12)
    slider.set_value(30)
    assert slider.get_value() == 30
    slider.set_value((4, 4))  # what the web UI sends
    assert slider.get_value() == 4
    with pytest.raises(ValueError, match=r"NumericRange 'Slider': selection 60 is outside the range \[0, 50\]"):
        slider.set_value(60)


def test_a_two_sided_numeric_range_is_unchanged() -> None:
    assert NumericRange(0, 50, max_selection=10).get_value() == (0, 10)
    assert NumericRange(0, 50, 5).get_value() == (5, 50)
    with pytest.raises(ValueError, match="takes a pair"):
        NumericRange(0, 50, title="r").set_value(10)


# --- DateTimeRange ----------------------------------------------------------------------------------


def test_datetime_range_update_selection_refuses_value_with_min_or_max() -> None:
    single = DateTimeRange(D1, D2, is_range=False, title="When")
    for kwargs in ({"min_value": dt.datetime(2020, 2, 1)}, {"max_value": dt.datetime(2020, 9, 1)}):
        with pytest.raises(
            ValueError,
            match=r"DateTimeRange 'When': update_selection takes either value or min_value/max_value, not both",
        ) as info:
            single.update_selection(value=dt.datetime(2020, 5, 1), **kwargs)
        assert isinstance(info.value, ValidationError)
    assert single.value is None  # nothing was changed


def test_datetime_range_update_selection_refuses_value_on_a_range() -> None:
    period = DateTimeRange(D1, D2, title="Period")
    with pytest.raises(
        ValueError,
        match=r"DateTimeRange 'Period': update_selection\(value=\.\.\.\) is for a single date \(is_range=False\)",
    ):
        period.update_selection(value=dt.datetime(2020, 5, 1))
    assert period.typed_value() == (D1, D2)


def test_datetime_range_update_selection_still_selects() -> None:
    period = DateTimeRange(D1, D2, title="Period")
    period.update_selection(min_value=dt.datetime(2020, 3, 1), max_value=dt.datetime(2020, 4, 1))
    assert period.typed_value() == (dt.datetime(2020, 3, 1), dt.datetime(2020, 4, 1))
    single = DateTimeRange(D1, D2, is_range=False, title="When")
    single.update_selection(value=dt.datetime(2020, 5, 1))
    assert single.typed_value() == dt.datetime(2020, 5, 1)


def test_datetime_range_get_value_has_the_sdk_shape_and_typed_value_keeps_datetimes() -> None:
    period = DateTimeRange(D1, D2, max_selection=dt.datetime(2020, 6, 1, 12, 30))
    assert period.get_value() == {"min": "2020-01-01T00:00:00", "max": "2020-06-01T12:30:00"}
    assert period.typed_value() == (D1, dt.datetime(2020, 6, 1, 12, 30))
    single = DateTimeRange(D1, D2, is_range=False, min_selection=dt.datetime(2020, 5, 1))
    assert single.get_value() == "2020-05-01T00:00:00"
    assert single.typed_value() == dt.datetime(2020, 5, 1)
    single.time_format = "%Y-%m-%d"
    assert single.get_value() == "2020-05-01"


class Ranges(Step):
    """A page with a DateTimeRange of each kind and a NumericRange."""

    def run(self, flow_metadata: Any) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Choose",
                [
                    DateTimeRange(D1, D2, title="Period"),
                    DateTimeRange(D1, D2, is_range=False, title="Moment"),
                    NumericRange(0, 50, max_selection=10, title="Amount"),
                ],
            ),
            "Main",
        )
        store.update_page(page)


ranges_flow = Flow(name="Ranges", description="range inputs").chain(
    [Ranges(title="Choose", page=Page("Choose", [Section("Main", [])]))]
)


def test_get_element_value_still_returns_start_and_end(embedded: Path) -> None:
    """DESIGN §4: get_element_value gives DateTimeRange → (start, end), NumericRange → (low, high)."""
    run = flowdeck.start(ranges_flow, user="alice")
    run.set_value("Period", ("2020-02-01", "2020-03-01"))
    run.set_value("Moment", ("2020-04-01", "2020-04-01"))
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_element_value("Choose", "Period") == (dt.datetime(2020, 2, 1), dt.datetime(2020, 3, 1))
    assert store.get_element_value("Choose", "Moment") == dt.datetime(2020, 4, 1)
    assert store.get_element_value("Choose", "Amount") == (0, 10)
    period = store.get_element("Choose", "Period")
    assert period.get_value() == {"min": "2020-02-01T00:00:00", "max": "2020-03-01T00:00:00"}


# --- Dashboard and Infographic ----------------------------------------------------------------------


def test_a_dashboard_without_content_is_refused() -> None:
    for content in ([], [Row([])]):
        with pytest.raises(
            ValueError, match=r"Dashboard 'Overview' has no content: give it at least one element"
        ) as info:
            Dashboard(content, title="Overview")
        assert isinstance(info.value, ValidationError)
    assert [e.title for e in Dashboard([RichText("x", title="Note")]).get_elements()] == ["Note"]


def test_a_dashboard_saved_empty_still_loads() -> None:
    document = Dashboard([RichText("x", title="Note")], title="Overview").to_json()
    document["content"]["elements"] = []
    loaded = Element.from_json(document)
    assert isinstance(loaded, Dashboard) and list(loaded.get_elements()) == []


def test_an_infographic_without_data_is_refused() -> None:
    for make in (
        lambda: Infographic("T", "D"),
        lambda: Infographic("T", "D", [], []),
        lambda: Infographic("T", "D", None, None),
    ):
        with pytest.raises(ValueError, match=r"Infographic 'T' has no data: give it InfographData items") as info:
            make()
        assert isinstance(info.value, ValidationError)


def test_an_infographic_needs_data_only_at_construction() -> None:
    figure = InfographData("Orders", "12")
    assert Infographic("T", recommendation=[figure]).recommendation == [figure]
    info = Infographic("T", data=[figure])
    info.data = []  # changed later, as update_infograph_data allows
    info.update_infograph_data()
    loaded = Element.from_json(json.loads(json.dumps(info.to_json())))  # saved empty: loads as saved
    assert isinstance(loaded, Infographic) and loaded.data == [] and loaded.recommendation == []


# --- Button -----------------------------------------------------------------------------------------


def test_button_defaults_follow_the_sdk() -> None:
    button = Button(title="Go")
    assert button.style is ButtonStyle.SECONDARY
    assert button.label == "Go" and button.to_json()["label"] == "Go"
    assert button.to_json()["style"] == "secondary"
    confirmed = Button(title="Go", confirmation_text="Sure?", description="desc")
    assert confirmed.description == "Sure?" and confirmed.to_json()["description"] == "Sure?"
    assert confirmed.confirmation_text == "Sure?"
    assert Button(title="Go", description="desc").description == "desc"
    explicit = Button(title="Go", label="Run it", style=ButtonStyle.PRIMARY)
    assert (explicit.label, explicit.style) == ("Run it", ButtonStyle.PRIMARY)
    assert Button(title="Go", style=None).style is ButtonStyle.SECONDARY
    loaded = Element.from_json(json.loads(json.dumps(confirmed.to_json())))
    assert (loaded.label, loaded.description, loaded.style) == ("Go", "Sure?", ButtonStyle.SECONDARY)


# --- InfographData ----------------------------------------------------------------------------------


def test_infograph_data_label_is_its_title() -> None:
    assert InfographData("Predicted Failures", "6").title == "Predicted Failures"
    assert InfographData("Predicted Failures", "6", title="Failures").title == "Failures"
    # The stubs list no icon names (icons.fonts has none), so icons are not checked.
    assert InfographData("a", "b", icon="no_such_icon_xyz").icon == "no_such_icon_xyz"


# --- PlotlyPlot -------------------------------------------------------------------------------------


def _figure(title: Any = None) -> go.Figure:
    layout = {} if title is None else {"title": title}
    return go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout=layout)


def test_plotly_plot_takes_the_figures_title_out_of_the_figure() -> None:
    given = _figure({"text": "Gapminder 2007", "font": {"size": 20}})
    plot = PlotlyPlot(given)
    assert plot.title == "Gapminder 2007"
    assert plot.fig.layout.title.text is None and "title" not in plot.figure_json["layout"]
    assert plot.to_figure().layout.title.text is None
    assert given.layout.title.text == "Gapminder 2007"  # the caller's figure is left alone
    assert PlotlyPlot({"data": [{"type": "bar", "y": [1]}], "layout": {"title": "Plain"}}).title == "Plain"
    as_dict = PlotlyPlot({"data": [{"type": "bar", "y": [1]}], "layout": {"title": {"text": "T"}, "height": 300}})
    assert as_dict.fig["layout"] == {"height": 300} and as_dict.figure_json["layout"] == {"height": 300}


def test_an_explicit_plotly_plot_title_wins_and_the_figures_is_still_removed() -> None:
    plot = PlotlyPlot(_figure("From the figure"), title="Given")
    assert plot.title == "Given"
    assert plot.fig.layout.title.text is None and "title" not in plot.figure_json["layout"]
    assert PlotlyPlot(_figure()).title == ""
    assert PlotlyPlot(_figure(), title="Only this").title == "Only this"


def test_plotly_plot_json_round_trips_and_old_titled_figures_load_as_saved() -> None:
    plot = PlotlyPlot(_figure("Sales"), height=300)
    loaded = Element.from_json(json.loads(json.dumps(plot.to_json())))
    assert loaded.title == "Sales" and loaded.figure_json == plot.figure_json
    old = plot.to_json()
    old["title"] = ""
    old["figure"]["layout"]["title"] = {"text": "Saved in the figure"}
    legacy = Element.from_json(old)
    assert legacy.title == "" and legacy.to_figure().layout.title.text == "Saved in the figure"


# --- RichTextClickable ------------------------------------------------------------------------------


def test_rich_text_clickable_marks_its_regions_with_data_virt_clickable() -> None:
    assert (
        RichTextClickable.wrap("Click me", {"page": 2})
        == '<span data-virt-clickable data-params="{&quot;page&quot;: 2}" class="fd-clickable">Click me</span>'
    )
    wrapped = RichTextClickable.wrap("<b>x</b>", {"a": 1}, element="div", style="color: red", css_class="mine")
    assert wrapped == (
        '<div data-virt-clickable data-params="{&quot;a&quot;: 1}" class="fd-clickable mine" '
        'style="color: red">&lt;b&gt;x&lt;/b&gt;</div>'
    )
    assert RichTextClickable.button("Save", {"action": "save"}, primary=True).startswith("<button data-virt-clickable ")
    assert RichTextClickable.link("View", {"item_id": 42}).startswith("<a data-virt-clickable ")


# --- DataSource -------------------------------------------------------------------------------------


def test_data_source_options_of_files_kept_as_bytes_imply_raw_upload() -> None:
    for option in ("pdf", "docx", "txt"):
        source = DataSource(title="x", options=[option])
        assert source.raw_upload is True and source.options == [option]
    assert DataSource(title="x", options=["pdf", "docx"]).raw_upload is True
    anything = DataSource(title="x", options=["*"])
    assert anything.raw_upload is True and anything.options == []  # "*": every file
    assert anything.check_upload("notes.bin", b"\x00\x01") is None
    assert DataSource(title="x", options=["*"], raw_upload=True).options == []
    assert DataSource(title="x", options=["csv", "json"]).raw_upload is False  # tables stay DataFrames


def test_data_source_mixing_tables_and_other_files_names_raw_upload() -> None:
    with pytest.raises(
        ValueError,
        match=r"DataSource 'x': 'pdf' files cannot be read into a DataFrame, unlike csv; "
        r"pass raw_upload=True to keep every upload as bytes",
    ) as info:
        DataSource(title="x", options=["csv", "pdf"])
    assert isinstance(info.value, ValidationError)
    assert DataSource(title="x", options=["csv", "pdf"], raw_upload=True).options == ["csv", "pdf"]


def test_data_source_s3_and_sql_say_what_to_use_instead() -> None:
    with pytest.raises(ValueError, match=r"option 's3' is a data source of the Virtualitics platform .*get_s3_asset"):
        DataSource(title="x", options=["s3"])
    with pytest.raises(ValueError, match=r"option 'sql' is a data source .*db_to_pandas.*raw_upload=True"):
        DataSource(title="x", options=["csv", "sql"])
    assert DataSource(title="x", options=["sql"], raw_upload=True).options == ["sql"]  # a .sql file


def test_data_source_value_text_is_refused_with_how_to_upload() -> None:
    with pytest.raises(
        ValueError, match=r"DataSource 'x': value='file.csv' cannot stand for a file: .*run.upload"
    ) as info:
        DataSource(title="x", value="file.csv")
    assert isinstance(info.value, ValidationError)
    assert DataSource(title="x", value="").value is None


def test_data_source_unknown_options_are_still_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown option 'cvs'; valid options are csv, tsv, xlsx, json, parquet"):
        DataSource(title="x", options=["cvs"])
    with pytest.raises(ValueError, match=r"unknown option 'cvs'"):
        DataSource(title="x", options=["pdf", "cvs"])


# --- in Chromium: clickable parts of a RichText -----------------------------------------------------

FLOW_SOURCE = '''
import json

from flowdeck import Button, Card, Flow, Page, RichText, RichTextClickable, Section, Step, StoreInterface
from flowdeck.elements.callbacks import page_update_callback


@page_update_callback
def clicked(store_interface, input_data=None, **step_clients):
    page = store_interface.get_page()
    page.get_card_by_title("Result").content = [
        RichText("params " + json.dumps(input_data, sort_keys=True), title="Result text")
    ]
    store_interface.update_page(page)


HAND = """Pick <span data-virt-clickable data-params='{"page": 2, "who": "hand"}'>page two</span> now."""
OLD = 'Old <span data-params="{&quot;old&quot;: 1}" class="fd-clickable">old marker</span>'


class Show(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Clicks",
                [
                    RichText(HAND, title="Hand", on_click=clicked),
                    RichText(OLD, title="Old", on_click=clicked),
                    RichText(
                        "Wrapped " + RichTextClickable.wrap("wrapped div", {"wrapped": True}, element="div"),
                        title="Wrapped",
                        on_click=clicked,
                    ),
                    Button(title="Go on", confirmation_text="Really go on?"),
                ],
            ),
            "Main",
        )
        page.add_card_to_section(Card("Result", [RichText("none yet", title="Result text")]), "Main")
        store.update_page(page)


rich_clicks = Flow(name="Rich clicks", description="clickable rich text").chain(
    [Show(title="Show", page=Page("Show", [Section("Main", [])]))]
)
'''

needs_browser = pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1")


@pytest.fixture(scope="module")
def rich_tab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium tab, alice signed in, on a server offering the flow above; errors on ``tab.errors``."""
    from fixtures.server_support import add_people, serving
    from flowdeck import configure
    from flowdeck.server import create_app
    from flowdeck.storage.deployment import reset_storage
    from test_server_browser import CHROMIUM, CHROMIUM_ARGS, log_in

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    folder = tmp_path_factory.mktemp("rich-clicks")
    flow_file = folder / "rich_clicks.py"
    flow_file.write_text(FLOW_SOURCE)
    configure(home=str(folder / "home"), database_url=None, blob_url=None)
    add_people()
    expect.set_options(timeout=15_000)
    try:
        with serving(create_app([f"{flow_file}:rich_clicks"])) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=url)
            tab = context.new_page()
            tab.errors = []
            tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
            log_in(tab)
            yield tab
            browser.close()
    finally:
        expect.set_options(timeout=5_000)
        reset_storage()


@pytest.fixture
def rich_page(rich_tab: Any) -> Iterator[Any]:
    """The tab on a fresh run of the flow, its page shown and live."""
    rich_tab.errors.clear()
    rich_tab.get_by_role("link", name="Flows", exact=True).first.click()
    rich_tab.get_by_role("button", name="Start Rich clicks").click()
    rich_tab.wait_for_url("**/steps/*")
    rich_tab.locator('[data-card-id] .card-title:text-is("Clicks")').wait_for()
    rich_tab.locator("#page-body[data-live=true]").wait_for()
    yield rich_tab
    assert not rich_tab.errors, rich_tab.errors


def _card(page: Any, title: str) -> Any:
    return page.locator("#page-body [data-card-id]").filter(has=page.locator(f'.card-title:text-is("{title}")'))


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("page two", {"page": 2, "who": "hand"}),  # hand-written <span data-virt-clickable data-params='...'>
        ("old marker", {"old": 1}),  # flowdeck's earlier fd-clickable form
        ("wrapped div", {"wrapped": True}),  # RichTextClickable.wrap(..., element="div")
    ],
)
def test_a_clickable_part_of_a_rich_text_fires_its_on_click(rich_page: Any, name: str, params: dict) -> None:
    from playwright.sync_api import expect

    clicks = _card(rich_page, "Clicks")
    button = clicks.get_by_role("button", name=name, exact=True)
    expect(button).to_be_enabled()
    assert "fd-clickable" in (button.get_attribute("class") or "").split()
    button.click()
    expect(_card(rich_page, "Result")).to_contain_text("params " + json.dumps(params, sort_keys=True))


@pytest.mark.browser
@needs_browser
def test_the_default_button_shows_its_title_as_secondary_with_its_confirmation(rich_page: Any) -> None:
    from playwright.sync_api import expect

    clicks = _card(rich_page, "Clicks")
    button = clicks.get_by_role("button", name="Go on", exact=True)
    expect(button).to_have_class("sdk-button style-secondary color-accent")
    expect(clicks).to_contain_text("Really go on?")


@pytest.mark.browser
@needs_browser
def test_only_marked_tags_become_clickable_and_nothing_else_of_the_markup_survives(rich_page: Any) -> None:
    rendered = rich_page.evaluate(
        """() => {
            const cases = [
                `<span data-virt-clickable data-params='{"a": 1}'>plain</span>`,
                `<em class="x" data-params="{&quot;b&quot;: 2}" data-virt-clickable=''>reordered</em>`,
                `<span data-virt-clickable onclick="alert(1)" style="color:red" data-params='{}'>`
                    + `<img src=x onerror=alert(1)><b>inner</b></span>`,
                `<div data-virt-clickable data-params='{"c": 3}'><img src="chart.png" alt="Chart"></div>`,
                `<span data-virt-clickable data-params='{}'>outer <span>nested</span> end</span> after`,
                `<span data-params='{"d": 4}'>no marker</span>`,
                "`<span data-virt-clickable>in code</span>`",
            ];
            return cases.map(function (source) {
                const root = window.FlowdeckMarkdown.render(source);
                return {
                    buttons: Array.from(root.querySelectorAll("button")).map(function (b) {
                        return { text: b.textContent, params: b.getAttribute("data-params"),
                                 attrs: b.getAttributeNames().sort(), cls: b.className };
                    }),
                    elements: Array.from(root.querySelectorAll("*")).map(function (e) { return e.tagName; }),
                    text: root.textContent,
                };
            });
        }"""
    )
    plain, reordered, hostile, image, nested, unmarked, code = rendered
    assert plain["buttons"] == [
        {
            "text": "plain",
            "params": '{"a": 1}',
            "attrs": ["class", "data-params", "data-virt-clickable", "type"],
            "cls": "fd-clickable",
        }
    ]
    assert reordered["buttons"][0]["text"] == "reordered" and reordered["buttons"][0]["params"] == '{"b": 2}'
    assert hostile["buttons"][0]["text"] == "inner"
    assert hostile["buttons"][0]["attrs"] == ["class", "data-params", "data-virt-clickable", "type"]
    assert "IMG" not in hostile["elements"]
    assert image["buttons"][0]["text"] == "Chart" and "IMG" not in image["elements"]
    assert nested["buttons"][0]["text"] == "outer nested end" and nested["text"].endswith(" after")
    assert unmarked["buttons"] == [] and "no marker" in unmarked["text"]
    assert code["buttons"] == [] and code["elements"] == ["P", "CODE"]
