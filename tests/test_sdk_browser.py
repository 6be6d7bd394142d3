"""A page holding every element type, in real headless Chromium (FLOWDECK_TEST_BROWSER=1)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowdeck
from fixtures.server_support import PASSWORDS, ROOT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
GALLERY = Path(__file__).resolve().parent / "fixtures" / "sdk_gallery.py"
SHOTS = ROOT / "test-output" / "browser"
KINDS = [
    "DataSource", "TextInput", "Dropdown", "SingleDropdown", "MultiDropdown", "NumericRange", "NumericSlider",
    "NumericRangeSlider", "DateTimeRange", "Table", "PlotlyPlot", "Image", "RichText", "Infographic", "Button",
    "SegmentedControl", "Dashboard",
]  # fmt: skip


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    import uvicorn

    from flowdeck.server import create_app

    flowdeck.add_user("alice", password=PASSWORDS["alice"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app([f"{GALLERY}:gallery"]), port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "the test server did not start within 20 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=20)


def _gallery_started(browser: Any, server: str, errors: list[str]) -> Any:
    """A page of ``browser`` signed in as alice on a new run of the gallery (its script errors go to ``errors``)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=server)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_role("button", name="Start Element gallery").click()
    page.wait_for_url("**/steps/Gallery")
    return page


def test_a_page_with_every_element_type_renders(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors: list[str] = []
        page = _gallery_started(browser, server, errors)
        for kind in KINDS:
            expect(page.locator(f".element-{kind.lower()}").first).to_be_visible(timeout=20_000)
        expect(page.locator(".element").filter(has_text="elements are not shown")).to_have_count(0)
        expect(page.locator(".infograph-item .value").first).to_have_text("390")
        expect(page.locator(".sdk-button")).to_have_text("Export")
        expect(page.locator(".layout-row").first).to_be_visible()
        expect(page.get_by_text("Hidden until opened.")).to_have_count(0)  # a closed container
        expect(page.get_by_text("Shown second.")).to_be_hidden()
        page.get_by_role("tab", name="Second tab").click()
        expect(page.get_by_text("Shown second.")).to_be_visible()
        expect(page.locator(".plot .main-svg").first).to_be_visible(timeout=20_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / "sdk-every-element.png"), full_page=True)
        browser.close()
    assert not errors, errors


def test_a_one_moment_date_time_range_shows_one_field_and_stores_that_moment(server: str) -> None:
    import datetime as dt

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _gallery_started(browser, server, [])
        run_id = page.url.split("/runs/")[1].split("/")[0]
        day = page.locator(".element-datetimerange").filter(has_text="Day").locator("input")
        expect(day).to_have_count(1)  # one field: no "From" and "To"
        day.fill("2024-05-05T10:30")
        day.dispatch_event("change")
        store = flowdeck.StoreInterface(run_id, user="alice")
        deadline = time.monotonic() + 20
        while store.get_element_value("Gallery", "Day") != dt.datetime(2024, 5, 5, 10, 30):
            assert time.monotonic() < deadline, store.get_element_value("Gallery", "Day")
            time.sleep(0.1)
        browser.close()
