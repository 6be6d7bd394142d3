"""A plot's data as a table (its text alternative, WCAG 2.1 SC 1.1.1) and calm progress announcements.

In real headless Chromium, with the keyboard: every plot has a "Show data" button, reached by Tab,
that shows a table of the figure's data (a caption naming the plot, column headers, a row per
point, at most 1,000 rows per trace with a note on the rest) built only when first shown; a table
trace (go.Table) is listed as the table it draws, with its own headers and cells; its text is
inserted as text, never as markup. A step that reports progress many times is announced when it
starts, on crossing 25, 50 and 75 % or after ten quiet seconds, and when it ends, not on every report.

Runs only with FLOWDECK_TEST_BROWSER=1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.plot_data_flows import BOLD, HOSTILE_NAME, HOSTILE_TEXT, HOSTILE_TITLE, MANY_POINTS, TABLE_ROWS
from fixtures.server_support import ROOT, add_people, serving
from test_web_accessibility import browser, check_screen, sign_in, start, tab_to  # noqa: F401 (browser is a fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

FLOWS_FILE = ROOT / "tests" / "fixtures" / "plot_data_flows.py"
FLOWS = [f"{FLOWS_FILE}:plots", f"{FLOWS_FILE}:progress"]

# The rows of a table as lists of cell texts (header cells included).
ROWS = "table => Array.from(table.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent))"
HEADS = "table => Array.from(table.tHead.rows[0].cells).map(c => [c.textContent, c.getAttribute('scope')])"

# From now on, record what the page adds to live regions (what a screen reader is told: text and
# nodes added, not removed) and count the changes of the visible progress message. A node's region
# is its nearest ancestor (or itself) with aria-live, or with a role that implies it.
RECORD_LIVE = """() => {
  window.__spoken = [];
  window.__progressChanges = 0;
  const politeness = (node) => {
    for (let n = node.nodeType === 1 ? node : node.parentElement; n; n = n.parentElement) {
      if (n.hasAttribute("aria-live")) return n.getAttribute("aria-live");
      const role = n.getAttribute("role");
      if (role === "status" || role === "log") return "polite";
      if (role === "alert") return "assertive";
    }
    return "off";
  };
  const said = (node, where) => {
    const text = node.textContent.trim();
    if (text && politeness(node) !== "off") window.__spoken.push([where ? where.id : "", text]);
  };
  new MutationObserver((records) => records.forEach((r) => {
    const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (el && el.id === "progress-message") window.__progressChanges += 1;
    if (r.type === "characterData") said(r.target, el);
    else r.addedNodes.forEach((node) => said(node, el));
  })).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The plot and progress flows, served on loopback."""
    from flowdeck import configure
    from flowdeck.server import create_app
    from flowdeck.storage.deployment import reset_storage

    configure(home=str(tmp_path_factory.mktemp("plot-data")), database_url=None, blob_url=None)
    add_people()
    try:
        with serving(create_app(FLOWS)) as url:
            yield url
    finally:
        reset_storage()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:  # noqa: F811 (the browser fixture imported above)
    """A fresh page that records script errors and content security policy violations (none may occur)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server)
    context.add_init_script(
        "window.__violations = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__violations.push(e.violatedDirective));"
    )
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    violations = tab.evaluate("window.__violations")
    context.close()
    assert not tab.errors, tab.errors
    assert violations == [], violations


def open_plots(page: Any) -> None:
    sign_in(page)
    start(page, "Plot data")
    page.locator(".plot .main-svg").first.wait_for()


def show(page: Any, plot: str) -> Any:
    """Tab to the plot's data button, press Enter; the table it shows."""
    from playwright.sync_api import expect

    named = page.get_by_role("button", name=f"Show data of {plot}", exact=True)
    toggle = page.locator(f"#{named.get_attribute('id')}")  # its name changes when pressed
    tab_to(page, toggle)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    panel = page.locator(f"#{toggle.get_attribute('aria-controls')}")
    expect(panel).to_be_visible()
    return panel.locator("table")


def test_the_data_button_is_reached_by_tab_and_shows_a_table_of_every_trace(page: Any) -> None:
    from playwright.sync_api import expect

    open_plots(page)
    toggles = page.locator("button.plot-data-toggle")
    expect(toggles).to_have_count(8)
    # Nothing is built before it is asked for.
    assert page.locator(".plot-data table").count() == 0
    assert page.locator(".plot-data:not([hidden])").count() == 0

    named = page.get_by_role("button", name="Show data of Known plot", exact=True)
    toggle = page.locator(f"#{named.get_attribute('id')}")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    panel_id = toggle.get_attribute("aria-controls")
    expect(page.locator(f"#{panel_id}")).to_be_hidden()
    table = show(page, "Known plot")
    expect(toggle).to_be_focused()
    expect(toggle).to_have_accessible_name("Hide data of Known plot")
    assert page.locator(".plot-data table").count() == 1  # the other plots' tables are still not built

    expect(table.locator("caption")).to_have_text("Data of Known plot")
    assert table.evaluate(HEADS) == [["Trace", "col"], ["x (Month)", "col"], ["y", "col"], ["Text", "col"]]
    assert table.evaluate(ROWS) == [
        ["North", "1", "10", ""],
        ["North", "2", "20", ""],
        ["North", "3", "30", ""],
        ["South", "1", "5.5", "low"],
        ["South", "2", "6.5", "mid"],
        ["South", "3", "7.5", "high"],
        ["Sales", "1", "100", ""],
        ["Sales", "2", "200", ""],
    ]
    expect(page.get_by_role("region", name="Data of Known plot")).to_be_visible()
    # The open table passes the screen checks (names, contrast, focus rings, live regions).
    problems: list[str] = []
    check_screen(page, "plot data", problems)
    assert not problems, "\n".join(problems)

    # Enter again hides it; the button keeps the focus and says so.
    tab_to(page, toggle, back=True)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_accessible_name("Show data of Known plot")
    expect(page.locator(f"#{panel_id}")).to_be_hidden()
    page.keyboard.press(" ")
    expect(page.locator(f"#{panel_id}")).to_be_visible()
    expect(page.locator(f"#{panel_id} table")).to_have_count(1)  # shown again, not built twice


def test_pie_labels_and_values_and_a_heatmap_read_from_typed_arrays(page: Any) -> None:
    open_plots(page)
    pie = show(page, "Pie plot")
    assert pie.evaluate(HEADS) == [["Trace", "col"], ["Label", "col"], ["Value", "col"]]
    assert pie.evaluate(ROWS) == [["Cities", "Oslo", "3"], ["Cities", "Lima", "7"]]
    heat = show(page, "Heat plot")
    assert [head for head, _ in heat.evaluate(HEADS)] == ["Trace", "x", "y", "z"]
    assert heat.evaluate(ROWS) == [
        ["Trace 1", "a", "r1", "1.5"],
        ["Trace 1", "b", "r1", "2.5"],
        ["Trace 1", "c", "r1", "3.5"],
        ["Trace 1", "a", "r2", "4.5"],
        ["Trace 1", "b", "r2", "5.5"],
        ["Trace 1", "c", "r2", "6.5"],
    ]


def test_a_trace_of_5000_points_lists_1000_and_says_how_many_are_left_out(page: Any) -> None:
    from playwright.sync_api import expect

    open_plots(page)
    table = show(page, "Many points")
    rows = table.evaluate(ROWS)
    assert len(rows) == 1000
    assert rows[0] == ["Many", "0", "0"]
    assert rows[-1] == ["Many", "999", "499.5"]
    note = page.locator(f"#{table.get_attribute('aria-describedby')}")
    expect(note).to_have_text(
        f"“Many”: the first 1,000 of its {MANY_POINTS:,} points are listed; {MANY_POINTS - 1000:,} are left out."
    )


def test_plot_text_is_shown_as_text_and_never_becomes_markup(page: Any) -> None:
    from playwright.sync_api import expect

    open_plots(page)
    table = show(page, HOSTILE_TITLE)
    expect(table.locator("caption")).to_have_text(f"Data of {HOSTILE_TITLE}")
    assert table.evaluate(ROWS) == [[HOSTILE_NAME, "1", "2", HOSTILE_TEXT]]
    dangerous = ".plot-data-block img, .plot-data-block script, .plot-data-block [onerror], .plot-data-block svg"
    assert page.locator(dangerous).count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_a_table_trace_lists_its_headers_and_cells_as_text(page: Any) -> None:
    from playwright.sync_api import expect

    open_plots(page)
    table = show(page, "Table plot")
    expect(table).to_have_count(1)
    expect(table.locator("caption")).to_have_text("Data of Table plot")
    # A string, two header lines joined by a space, a number, and the header of a single value.
    assert table.evaluate(HEADS) == [["Name", "col"], ["Score (points)", "col"], ["2024", "col"], ["Note", "col"]]
    # A shorter column ends in blank cells; a single value is one cell, as plotly draws it.
    assert table.evaluate(ROWS) == [[BOLD, "1.5", "x", "one"], ["Ann", "2", "", ""], ["Bo", "3.25", "", ""]]
    # The markup of a cell is shown as written: no element is made of it.
    cell = table.locator("tbody td").first
    expect(cell).to_have_text(BOLD)
    assert cell.evaluate("td => td.children.length") == 0
    assert page.locator(".plot-data-block b").count() == 0
    assert table.get_attribute("aria-describedby") is None  # nothing left out, no notes
    expect(page.get_by_role("region", name="Data of Table plot")).to_be_visible()
    problems: list[str] = []
    check_screen(page, "plot table data", problems)
    assert not problems, "\n".join(problems)


def test_a_numpy_table_of_2500_rows_lists_1000_and_says_how_many_are_left_out(page: Any) -> None:
    from playwright.sync_api import expect

    open_plots(page)
    table = show(page, "Numpy table")
    assert table.evaluate(HEADS) == [["i", "col"], ["half", "col"]]
    rows = table.evaluate(ROWS)
    assert len(rows) == 1000
    # The second column is decoded from the middle of the typed array (a column per row of it).
    assert rows[:3] == [["0", "0"], ["1", "0.5"], ["2", "1"]]
    assert rows[-1] == ["999", "499.5"]
    note = page.locator(f"#{table.get_attribute('aria-describedby')}")
    expect(note).to_have_text(
        f"The first 1,000 of the table's {TABLE_ROWS:,} rows are listed; {TABLE_ROWS - 1000:,} are left out."
    )


def test_a_figure_of_a_scatter_and_a_table_lists_both(page: Any) -> None:
    from playwright.sync_api import expect

    open_plots(page)
    tables = show(page, "Mixed plot")
    expect(tables).to_have_count(2)
    points, summary = tables.nth(0), tables.nth(1)
    expect(points.locator("caption")).to_have_text("Data of Mixed plot")
    assert points.evaluate(HEADS) == [["Trace", "col"], ["x", "col"], ["y", "col"]]
    assert points.evaluate(ROWS) == [["Line", "1", "3"], ["Line", "2", "4"]]
    expect(summary.locator("caption")).to_have_text("Data of Mixed plot: Summary")
    assert summary.evaluate(HEADS) == [["Key", "col"], ["Value", "col"]]
    assert summary.evaluate(ROWS) == [["a", "10"], ["b", "20"]]
    for name in ("Data of Mixed plot", "Data of Mixed plot: Summary"):
        region = page.get_by_role("region", name=name, exact=True)
        expect(region).to_be_visible()
        expect(region).to_have_attribute("tabindex", "0")


def test_progress_is_announced_at_the_start_each_quarter_after_quiet_seconds_and_the_end(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page)
    start(page, "Long progress")
    next_button = page.get_by_role("button", name="Next →")
    expect(next_button).to_be_enabled()
    page.wait_for_timeout(200)  # what the first step's end said is said
    page.evaluate(RECORD_LIVE)
    tab_to(page, next_button)
    page.keyboard.press("Enter")
    expect(page.locator("#progress-message")).to_contain_text("warming up")
    # The visible progress changes silently: it is inside the banner, but not a live part of it.
    region = page.locator("#progress-message").evaluate("el => el.closest('[aria-live]').getAttribute('aria-live')")
    assert region == "off"
    ended = re.compile(r"This run is complete\.|The step has finished\.")
    expect(page.locator("#announcer")).to_have_text(ended, timeout=40_000)
    page.wait_for_timeout(200)

    changes = page.evaluate("window.__progressChanges")
    spoken = page.evaluate("window.__spoken")
    said = [text for where, text in spoken if where == "announcer"]
    assert changes >= 100, changes  # every report was shown
    # The action of the step the user was on is said apart from the next step's start: one "Working on".
    assert said[:2] == ["Finishing Begin…", "Working on Crunch…"], said
    assert sum(text.startswith("Working on ") for text in said) == 1, said
    assert said[-1] in ("This run is complete.", "The step has finished."), said
    progress = [int(m.group(1)) for m in (re.match(r"(\d+)% done", t) for t in said) if m]
    quiet = [value for value in progress if value < 25]
    assert 1 <= len(quiet) <= 2, said  # about ten seconds below 25 %: said once, not 50 times
    for low, high in ((25, 50), (50, 75), (75, 101)):
        assert sum(low <= value < high for value in progress) == 1, said
    assert len(said) <= 8, said
    # Nothing else was said on the way: the progress panel came and went silently, and the page of
    # the finished step was drawn (its banner says nothing of a step that went well).
    assert [text for where, text in spoken if where != "announcer"] == [], spoken
