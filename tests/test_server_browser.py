"""The web UI in real headless Chromium: the churn example end to end, a bad upload, hostile content.

Runs only with FLOWDECK_TEST_BROWSER=1 (CI installs Debian's chromium). Screenshots of every page
go to test-output/browser/ (git-ignored).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.server_support import CHURN_CSV, PASSWORDS, ROOT, add_people, make_app, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "test-output" / "browser"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    """A uvicorn server on loopback serving the churn example and the test flows; yields its URL."""
    add_people()
    with serving(make_app()) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh 1280-px-wide page with script errors collected on ``page.errors``.

    Console messages about failed requests are left out: the tests make some requests fail on purpose.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: (
            tab.errors.append(msg.text) if msg.type == "error" and "Failed to load resource" not in msg.text else None
        ),
    )
    yield tab
    context.close()


def shot(page: Any, name: str, full: bool = True) -> Path:
    """Save a screenshot of the page under test-output/browser/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    if full:  # the sticky header would otherwise be drawn where the window was scrolled to
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full)
    return path


def log_in(page: Any, name: str = "alice") -> None:
    """Sign in through the login form."""
    page.goto("/")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_churn_example_end_to_end_in_the_browser(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to flowdeck")).to_be_visible()
    shot(page, "01-login")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
    log_in(page)

    expect(page.get_by_role("heading", name="Flows", exact=True)).to_be_visible()
    shot(page, "02-home")
    page.get_by_role("button", name="Start Customer churn").click()
    page.wait_for_url("**/steps/Upload%20customers")
    expect(page.locator("#step-title")).to_have_text("Upload customers")

    # Next with nothing uploaded: the required-input message appears next to the upload.
    page.get_by_role("button", name="Next →").click()
    upload_block = page.locator(".element-datasource")
    expect(upload_block.locator(".field-error")).to_have_text("Upload a file here before going on.")
    expect(upload_block).to_have_class("element element-datasource invalid")
    shot(page, "03-missing-input")

    # A file that is not a CSV: the server's reason shows on the page.
    file_input = page.get_by_label("Customer data")
    file_input.set_input_files(
        files=[
            {
                "name": "customers.csv",
                "mimeType": "text/csv",
                "buffer": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
            }
        ]
    )
    expect(upload_block.locator(".field-error")).to_contain_text("customers.csv")
    shot(page, "04-bad-upload")

    file_input.set_input_files(str(CHURN_CSV))
    expect(page.locator(".current-file")).to_contain_text("customers.csv")
    expect(upload_block.locator(".field-error")).to_have_text("")
    page.get_by_role("button", name="Next →").click()

    page.wait_for_url("**/steps/Choose%20analysis")
    expect(page.locator("#step-title")).to_have_text("Choose analysis")
    expect(page.get_by_label("Segment by")).to_be_visible()
    with page.expect_response(lambda r: "/value" in r.url and r.request.method == "PUT") as answer:
        page.get_by_label("Segment by").select_option(label="region")
    assert answer.value.status == 200
    expect(page.locator(".element-table table tbody tr")).to_have_count(10)
    shot(page, "05-choose-analysis")

    # Watch the progress bar while the analysis runs.
    page.evaluate("""() => {
        window.__progressSeen = [];
        new MutationObserver(records => records.forEach(r => {
            if (r.attributeName === 'aria-valuenow')
                window.__progressSeen.push(Number(r.target.getAttribute('aria-valuenow')));
        })).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['aria-valuenow']});
    }""")
    page.get_by_role("button", name="Next →").click()
    expect(page.get_by_role("progressbar", name="Step progress")).to_be_visible()
    page.wait_for_url("**/steps/Analyse%20churn")
    expect(page.locator("#step-title")).to_have_text("Analyse churn", timeout=20_000)
    seen = page.evaluate("window.__progressSeen")
    assert len(set(seen)) >= 2 and seen[-1] == 100, seen

    plot = page.locator(".plot .main-svg").first
    expect(plot).to_be_visible(timeout=20_000)
    results = page.locator(".element-table").filter(has_text="Churn by segment table")
    expect(results.locator("thead")).to_contain_text("region")
    expect(results.locator("tbody tr")).to_have_count(4)
    expect(page.locator(".infographic .value")).not_to_have_text("—")
    # Sorting by a column reorders the rows.
    results.get_by_role("button", name="region").click()
    first = results.locator("tbody tr").first.locator("td").first.text_content()
    results.get_by_role("button", name="region").click()
    assert results.locator("tbody tr").first.locator("td").first.text_content() != first
    shot(page, "06-results")

    page.get_by_role("button", name="Next →").click()
    page.wait_for_url("**/steps/Summary")
    expect(page.locator(".markdown")).to_contain_text("Overall churn is")
    shot(page, "07-summary")
    page.get_by_role("link", name="See the chart").click()
    page.wait_for_url("**/steps/Analyse%20churn#element-*")
    chart = page.locator(".element-plotlyplot")
    expect(chart).to_be_in_viewport()

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator(".plot .main-svg").first).to_be_visible(timeout=20_000)
    shot(page, "08-results-narrow")
    assert not page.errors, page.errors


def test_a_failed_step_shows_its_error_and_can_be_rerun(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page)
    page.get_by_role("button", name="Start Fragile").click()
    page.wait_for_url("**/steps/Ask")
    with page.expect_response(lambda r: "/value" in r.url):
        page.get_by_label("Word").fill("fail")
        page.get_by_label("Word").press("Tab")
    page.get_by_role("button", name="Next →").click()
    page.wait_for_url("**/steps/Answer")
    error = page.locator("#step-error")
    expect(error).to_contain_text("This step failed")
    expect(error).to_contain_text("the word was 'fail'")
    expect(page.get_by_role("button", name="Re-run this step")).to_be_visible()
    shot(page, "09-failed-step")


def test_a_running_step_can_be_cancelled_and_a_run_forked(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page)
    page.get_by_role("button", name="Start Fragile").click()
    page.wait_for_url("**/steps/Ask")
    with page.expect_response(lambda r: "/value" in r.url):
        page.get_by_label("Word").fill("long")
        page.get_by_label("Word").press("Tab")
    page.get_by_role("button", name="Next →").click()
    cancel = page.get_by_role("button", name="Cancel")
    expect(cancel).to_be_visible(timeout=10_000)
    expect(page.locator("#progress-message")).to_contain_text("round")
    cancel.click()
    page.wait_for_url("**/steps/Answer")
    cancelled = page.locator("#step-cancelled")
    expect(cancelled).to_contain_text("This step was cancelled")
    expect(cancelled).to_contain_text("cancelled by alice")
    expect(page.get_by_role("button", name="Re-run this step")).to_be_visible()
    shot(page, "10-cancelled-step")

    first_run = page.url.split("/runs/")[1].split("/")[0]
    page.get_by_role("link", name="Ask").first.click()
    page.wait_for_url("**/steps/Ask")
    page.get_by_role("button", name="Start a new run from here").click()
    page.wait_for_url(lambda url: "/steps/Ask" in url and first_run not in url)
    expect(page.get_by_label("Word")).to_have_value("long")
    expect(page.get_by_label("Word")).to_be_editable()
    expect(page.get_by_role("button", name="Next →")).to_be_enabled()
    assert not page.errors, page.errors


def test_hostile_text_and_titles_never_run_as_script(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page)
    page.get_by_role("button", name="Start Hostile").click()
    page.wait_for_url("**/steps/Hostile%20page")
    expect(page.locator(".markdown")).to_contain_text("<script>window.__pwned=2</script>")
    expect(page.locator(".card-title")).to_contain_text("<script>window.__pwned=7</script>Card")
    expect(page.locator(".element-dropdown label")).to_contain_text('<img src=x onerror="window.__pwned=6">')
    page.locator(".markdown strong").hover()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert (
        page.locator(
            "#page-body script, #page-body img, #page-body svg, #page-body [onerror], "
            "#page-body [onload], #page-body [onmouseover]"
        ).count()
        == 0
    )
    assert page.locator('#page-body a[href^="javascript"]').count() == 0
    page.goto("/")
    expect(page.locator(".flow-card").filter(has_text="Hostile")).to_contain_text("<b onmouseover")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    shot(page, "10-hostile")


def test_asset_and_connection_pages_render(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page)
    page.get_by_role("link", name="Assets").click()
    expect(page.get_by_role("heading", name="Assets", exact=True)).to_be_visible()
    expect(page.get_by_label("Label")).to_be_visible()
    shot(page, "11-assets")
    page.get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name="Add a connection")).to_be_visible()
    shot(page, "12-connections")
    page.get_by_label("User menu for alice").click()
    page.get_by_role("link", name="Account and API tokens").click()
    page.get_by_role("button", name="Create API token").click()
    expect(page.locator("code.token")).to_contain_text("fdt_")
    shot(page, "13-account")
