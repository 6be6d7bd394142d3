"""Sharing in the web UI: the share dialog lists whom a resource is shared with and revokes a share.

Runs only with FLOWDECK_TEST_BROWSER=1, like tests/test_server_browser.py (whose fixtures it uses).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import flowdeck
from flowdeck.store.connections import list_connections
from test_server_browser import browser, log_in, page, server  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]


def test_the_share_dialog_lists_shares_and_removes_one(page: Any, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    from flowdeck.config import get_settings

    get_settings().sqlite_dir.mkdir(parents=True, exist_ok=True)
    path = get_settings().sqlite_dir / "sales.db"  # sqlite connections live in FLOWDECK_SQLITE_DIR
    sqlite3.connect(path).close()
    flowdeck.add_connection("sales", "sqlite", "alice", database=str(path))
    flowdeck.share_connection("sales", owner="alice", users=["bob"])
    log_in(page)
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("button", name="Share").click()
    shared = page.get_by_role("list", name="Shared with")
    expect(shared).to_contain_text("user bob")

    page.get_by_role("button", name="Stop sharing with user bob").click()
    expect(shared).to_contain_text("Not shared with anyone.")
    assert list_connections("bob") == []

    page.get_by_label("Users (comma-separated)").fill("carol")
    page.get_by_role("button", name="Share", exact=True).last.click()
    expect(shared).to_contain_text("user carol")
    assert [c.name for c in list_connections("carol")] == ["sales"]
    page.get_by_label("Users (comma-separated)").fill("nobody-here")
    page.get_by_role("button", name="Share", exact=True).last.click()
    expect(page.get_by_role("alert").filter(has_text="no user 'nobody-here'")).to_be_visible()
    assert page.errors == []
