"""Web UI journeys in real headless Chromium: focus after moving between pages, the top bar on a phone,
the account page's token form and the connections page's test results.

Runs only with FLOWDECK_TEST_BROWSER=1, like tests/test_server_browser.py (whose fixtures it uses).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import pytest

import flowdeck
from test_server_browser import browser, log_in, page, server, shot  # noqa: F401  (shared fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

PAGE_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_focus_moves_to_the_heading_of_each_new_page(page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    log_in(page)
    expect(page.get_by_role("heading", name="Flows", exact=True)).to_be_focused()
    page.get_by_role("button", name="Start Customer churn").click()
    page.wait_for_url("**/steps/Upload%20customers")
    expect(page.locator("#next-button")).to_be_enabled(timeout=20_000)  # the first step has run
    # The step is drawn again when its first run ends: the heading keeps the focus through that.
    expect(page.locator("#step-title")).to_be_focused()
    page.get_by_role("link", name="Assets").click()
    expect(page.get_by_role("heading", name="Assets", exact=True)).to_be_focused()
    assert page.errors == []


def test_the_top_bar_fits_a_phone_screen(page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 360, "height": 780})
    log_in(page, "root")  # an admin's account page has the users table too
    for path, heading in (("/", "Flows"), ("/connections", "Connections"), ("/account", "Account")):
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert page.evaluate(PAGE_OVERFLOW) == 0, f"{path} is wider than the screen"
    expect(page.get_by_role("group").or_(page.locator("summary")).first).to_be_in_viewport()
    shot(page, "sweep-phone-account", full=False)
    assert page.errors == []


def test_the_token_form_resets_and_tokens_are_revoked_by_name(page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    log_in(page)
    page.goto("/account")
    read_only = page.get_by_label("read only")
    assert read_only.bounding_box()["width"] < 40  # a checkbox, not a 16rem-wide box
    label = page.get_by_role("textbox", name="Label")
    label.fill("nightly import")
    read_only.check()
    page.get_by_role("button", name="Create API token").click()
    expect(page.get_by_text("Copy this token now")).to_be_visible()
    expect(label).to_have_value("")
    expect(read_only).not_to_be_checked()
    revoke = page.get_by_role("button", name="Revoke token nightly import")
    expect(revoke).to_be_visible()
    shot(page, "sweep-account-token")

    # A failing revoke says why instead of failing silently.
    page.route(
        "**/api/tokens/*", lambda route: route.fulfill(status=503, json={"error": "Busy", "detail": "try later"})
    )
    revoke.click()
    expect(page.locator(".toast.show")).to_contain_text("try later")
    page.unroute("**/api/tokens/*")
    revoke.click()
    expect(page.get_by_text("No API tokens.")).to_be_visible()
    assert [e for e in page.errors if "503" not in e] == []


def test_a_long_connection_test_message_wraps_and_keeps_every_row_usable(page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    from flowdeck.config import get_settings

    get_settings().sqlite_dir.mkdir(parents=True, exist_ok=True)
    for name in ("alpha", "beta"):
        path = get_settings().sqlite_dir / f"{name}.db"
        sqlite3.connect(path).close()
        flowdeck.add_connection(name, "sqlite", "alice", database=str(path))
    message = "OperationalError: connection failed: " + "the server did not answer in time; " * 12
    page.route(
        "**/api/connections/beta/test",
        lambda route: route.fulfill(status=200, json={"ok": False, "message": message}),
    )
    log_in(page)
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("button", name="Test connection beta").click()
    result = page.get_by_role("row", name="beta").get_by_role("status")
    expect(result).to_contain_text("did not answer")
    width = page.viewport_size["width"]
    box = result.bounding_box()
    assert box["x"] + box["width"] <= width and box["height"] > 40  # wrapped onto lines, in the window
    for name in ("alpha", "beta"):
        for action in ("Test", "Share", "Remove"):
            expect(page.get_by_role("button", name=f"{action} connection {name}")).to_be_in_viewport()
    shot(page, "sweep-connection-test")
    assert page.errors == []
