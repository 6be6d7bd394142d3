"""Web UI polish in real headless Chromium: scrolling, labels, uploads, toasts, tables and plots."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.server_support import CHURN_CSV, FLOW_SPECS, add_people, serving
from test_server_browser import browser, log_in, shot  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

UI_FLOWS = Path(__file__).resolve().parent / "fixtures" / "ui_flows.py"


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    """A uvicorn server on loopback with the usual test flows and the wide-table flow."""
    from flowdeck.server import create_app

    add_people()
    with serving(create_app([*FLOW_SPECS, f"{UI_FLOWS}:wide"])) as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:  # noqa: F811
    """A 1280 x 700 page with script errors collected on ``page.errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 700}, base_url=server)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    context.close()


def _start(page: Any, flow: str) -> None:
    page.get_by_role("button", name=f"Start {flow}").click()
    page.wait_for_url("**/steps/*")


def test_next_opens_the_new_step_at_its_top_and_the_toast_stays_behind(page: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 320})
    log_in(page)
    _start(page, "Customer churn")
    expect(page.locator("#next-button")).to_be_enabled(timeout=20_000)  # the page awaits input
    page.get_by_label("Customer data").set_input_files(str(CHURN_CSV))
    expect(page.locator(".toast.show")).to_contain_text("Uploaded customers.csv")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("window.scrollY") > 0
    page.get_by_role("button", name="Next →").click()
    page.wait_for_url("**/steps/Choose%20analysis")
    expect(page.locator("#step-title")).to_have_text("Choose analysis")
    assert page.evaluate("window.scrollY") == 0
    expect(page.locator(".toast.show")).to_have_count(0)
    assert not page.errors, page.errors


# In the page: an upload leaves one second after the file is chosen (it is "on its way"), and a
# redraw of the page whose page read started while an upload was on its way is held until that
# upload's answer has been handled. The upload then lands in the middle of the redraw: after the
# page it draws was read (without the upload) and before it is drawn. Counts the redraws it held.
UPLOAD_LANDS_MID_REDRAW = """
(() => {
  let onTheirWay = 0, landed = 0;
  window.__heldRedraws = 0;
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__url = String(url);
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (!this.__url.endsWith("/upload")) return send.apply(this, arguments);
    onTheirWay += 1;
    this.addEventListener("loadend", () => { onTheirWay -= 1; landed += 1; });
    const xhr = this, args = arguments;
    setTimeout(() => send.apply(xhr, args), 1000);
  };
  const fetch = window.fetch;
  window.fetch = async function (url) {
    const before = landed, racing = onTheirWay > 0 && String(url).endsWith("/page");
    const response = await fetch.apply(this, arguments);
    if (racing) {
      while (landed === before) await new Promise((resolve) => setTimeout(resolve, 20));
      window.__heldRedraws += 1;
    }
    return response;
  };
})();
"""


def test_a_file_chosen_as_soon_as_the_page_appears_is_shown(page: Any) -> None:
    from playwright.sync_api import expect

    page.add_init_script(UPLOAD_LANDS_MID_REDRAW)
    log_in(page)
    _start(page, "Customer churn")
    expect(page.locator("#next-button")).to_be_enabled(timeout=20_000)  # the page awaits input
    page.get_by_label("Customer data").set_input_files(str(CHURN_CSV))
    # The page is drawn again (as when its step finishes) while the file is on its way.
    page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")
    expect(page.locator(".toast.show")).to_contain_text("Uploaded customers.csv", timeout=10_000)
    page.wait_for_timeout(1000)  # every redraw has happened by now
    assert page.evaluate("window.__heldRedraws") == 1, "the upload did not land in the middle of a redraw"
    expect(page.locator(".current-file")).to_contain_text("customers.csv", timeout=5_000)
    assert not page.errors, page.errors


def test_the_stepper_follows_a_running_step_and_results_read_ready(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page)
    _start(page, "Fragile")
    page.get_by_label("Word").fill("slow")
    page.get_by_label("Word").blur()
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Next →").click()
    ask_badge = page.locator('#stepper li[data-step="Ask"] .badge')
    expect(ask_badge).not_to_have_text("awaiting input")
    page.wait_for_url("**/steps/Answer")
    answer_badge = page.locator('#stepper li[data-step="Answer"] .badge')
    expect(answer_badge).to_have_text("ready")
    shot(page, "ui-results-ready")
    page.get_by_role("button", name="Finish").click()
    expect(page.locator("#step-banner")).to_contain_text("This run is complete.")
    page.goto("/")
    row = page.locator("table.data tbody tr").filter(has_text="Fragile").first
    expect(row).to_contain_text("Finished")
    expect(row).not_to_contain_text("done")


def test_wide_tables_keep_words_whole_and_scroll_instead_of_clipping(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page)
    _start(page, "Wide")
    table = page.locator(".element-table").filter(has_text="Wide table")
    expect(table.locator("tbody tr")).to_have_count(2)
    shot(page, "ui-wide-table")
    geometry = table.evaluate(
        """(el) => {
            const wrap = el.querySelector('.table-wrap');
            const card = el.closest('.card');
            const cell = el.querySelector('tbody td');
            const range = document.createRange();
            range.selectNodeContents(cell);
            wrap.scrollLeft = wrap.scrollWidth;
            const heads = el.querySelectorAll('thead th');
            const last = heads[heads.length - 1].getBoundingClientRect();
            const box = wrap.getBoundingClientRect();
            return {
                lines: range.getClientRects().length,
                wrapRight: box.right, cardRight: card.getBoundingClientRect().right,
                lastRight: last.right, lastLeft: last.left, boxLeft: box.left, boxRight: box.right,
                scrolls: wrap.scrollWidth > wrap.clientWidth,
            };
        }"""
    )
    assert geometry["lines"] == 1, geometry  # the long word is not broken across lines
    assert geometry["scrolls"], geometry
    assert geometry["wrapRight"] <= geometry["cardRight"] + 1, geometry  # nothing sticks out of the card
    # Scrolled to the end, the last column is wholly inside the visible part of the table.
    assert geometry["boxLeft"] - 1 <= geometry["lastLeft"] and geometry["lastRight"] <= geometry["boxRight"] + 1


def test_plots_show_a_placeholder_while_loading_and_offer_no_cloud_sharing(page: Any) -> None:
    from playwright.sync_api import expect

    release = threading.Event()

    def slow_plotly(route: Any) -> None:
        release.wait(10)
        route.continue_()

    log_in(page)
    _start(page, "Customer churn")
    expect(page.locator("#next-button")).to_be_enabled(timeout=20_000)  # the first step has finished
    page.get_by_label("Customer data").set_input_files(str(CHURN_CSV))
    expect(page.locator(".current-file")).to_contain_text("customers.csv", timeout=10_000)
    page.get_by_role("button", name="Next →").click()
    page.wait_for_url("**/steps/Choose%20analysis")
    page.route("**/vendor/plotly.min.js", slow_plotly)
    page.get_by_role("button", name="Next →").click()
    page.wait_for_url("**/steps/Analyse%20churn")
    placeholder = page.locator(".plot.loading").first
    expect(placeholder).to_contain_text("Loading chart")
    release.set()
    expect(page.locator(".plot .main-svg").first).to_be_visible(timeout=20_000)
    expect(page.locator(".plot.loading")).to_have_count(0)
    page.locator(".plot").first.hover()
    expect(page.locator(".modebar-btn").first).to_be_attached()
    titles = page.locator(".modebar-btn").evaluate_all("(els) => els.map(e => e.getAttribute('data-title') || '')")
    assert titles and not [t for t in titles if "Chart Studio" in t or "Share" in t or "cloud" in t.lower()], titles
