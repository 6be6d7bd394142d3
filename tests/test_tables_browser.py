"""A big Table in real headless Chromium: the UI pages, sorts and filters through the server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.server_support import add_people, serving
from flowdeck.server import create_app
from test_server_browser import browser, log_in, page, shot  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

TABLE_FLOW = f"{Path(__file__).resolve().parent / 'fixtures' / 'table_flows.py'}:big_table"


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    """A uvicorn server on loopback offering the big-table flow; yields its URL."""
    add_people()
    with serving(create_app([TABLE_FLOW])) as url:
        yield url


def test_the_ui_pages_sorts_and_filters_a_big_table(page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    log_in(page)
    page.get_by_role("button", name="Start Big table").click()
    page.wait_for_url("**/steps/Show")
    table = page.locator("[data-paged=true]")
    expect(table.locator(".table-range")).to_have_text("Rows 1\u201325 of 3,000")
    expect(table.locator("tbody tr")).to_have_count(25)
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("0")

    table.get_by_role("button", name="Next \u203a").click()
    expect(table.locator(".table-range")).to_have_text("Rows 26\u201350 of 3,000")
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("25")

    table.get_by_role("button", name="id").click()  # ascending, back to page 1
    table.get_by_role("button", name="id").click()  # descending
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("2999")
    expect(table.locator("th").first).to_have_attribute("aria-sort", "descending")

    table.get_by_label("Filter").fill("HYPERLINK")
    table.get_by_label("Filter").press("Enter")
    expect(table.locator(".table-range")).to_contain_text("of 72")
    expect(table.locator("tbody tr").first.locator("td").nth(3)).to_have_text('=HYPERLINK("http://evil")')
    assert table.get_by_role("link", name="Download CSV").get_attribute("href").endswith("/download?format=csv")
    shot(page, "big-table")
    assert page.errors == []


def test_a_redraw_of_the_step_keeps_the_page_sort_and_filter_of_a_big_table(page: Any) -> None:  # noqa: F811
    """A status event on the run's stream draws the step again; the table stays where the user left it."""
    from playwright.sync_api import expect

    armed: list[bool] = []

    def events(route: Any) -> None:
        # Stands in for the run's event stream: one status event (the run's real status, or once the
        # test arms it, one that says the run moved), then the browser reconnects at once.
        from playwright.sync_api import Error

        try:
            status = page.request.get(route.request.url.split("/events")[0]).json()
        except Error:  # the page closes at the end of the test while the browser reconnects
            return
        if armed:
            armed.clear()
            status["state"] = "moved"
        body = f"retry: 100\n\nevent: status\ndata: {json.dumps(status)}\n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page.route("**/api/runs/*/events*", events)
    log_in(page)
    page.get_by_role("button", name="Start Big table").click()
    page.wait_for_url("**/steps/Show")
    table = page.locator("[data-paged=true]")
    table.get_by_role("button", name="id").click()
    table.get_by_role("button", name="id").click()  # descending
    table.get_by_role("button", name="Next \u203a").click()
    expect(table.locator(".table-range")).to_have_text("Rows 26\u201350 of 3,000")
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("2974")
    page.evaluate("document.querySelector('[data-paged=true]').dataset.before = 'yes'")

    armed.append(True)
    expect(page.locator("[data-paged=true][data-before=yes]")).to_have_count(0)  # drawn again
    expect(table.locator(".table-range")).to_have_text("Rows 26\u201350 of 3,000")
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("2974")
    expect(table.locator("th").first).to_have_attribute("aria-sort", "descending")
    assert page.errors == []
