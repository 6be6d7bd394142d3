"""Web hardening in real headless Chromium: log out everywhere, links disguised as relative, and the
API docs page loading nothing from other origins. Runs only with FLOWDECK_TEST_BROWSER=1.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from test_server_browser import browser, log_in, page, server, shot  # noqa: F401  (shared fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]


def test_log_out_everywhere_from_the_account_page(page: Any, browser: Any, server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    other = browser.new_context(base_url=server)
    other_tab = other.new_page()
    log_in(other_tab)
    assert other_tab.request.get("/api/me").status == 200
    log_in(page)
    page.goto("/account")
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    shot(page, "web-account-security")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Log out everywhere").click()
    page.wait_for_url("**/login*")
    assert page.request.get("/api/me").status == 401
    assert other_tab.request.get("/api/me").status == 401  # the other browser is logged out too
    other.close()
    assert page.errors == []


def test_links_disguised_as_relative_do_not_become_links(page: Any, server: str) -> None:  # noqa: F811
    log_in(page)
    hrefs = page.evaluate(
        """() => {
            const sources = ["[a](\\\\\\\\evil.example)", "[b](/\\\\evil.example)", "[c](\\\\/evil.example)",
                             "[d](//evil.example)", "[e](/runs/1)"];
            return sources.map(function (s) {
                const link = window.FlowdeckMarkdown.render(s).querySelector("a");
                return link ? link.href : null;
            });
        }"""
    )
    assert hrefs[:4] == [None, None, None, None]
    assert hrefs[4] == server + "/runs/1"


def test_the_docs_page_loads_only_from_this_server(page: Any, server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("flowdeck")
    shot(page, "web-docs")
    foreign = [url for url in requested if not url.startswith((server, "data:", "blob:"))]
    assert requested and foreign == []
