"""The Triggers page and "started by" in the run list, in real headless Chromium."""

from __future__ import annotations

import time
from typing import Any

import flowdeck
import headless_flows
from flowdeck import Asset, StoreInterface
from flowdeck.triggers import AssetTrigger, check_triggers
from test_server_browser import browser, log_in, page, pytestmark, server, shot  # noqa: F401  (fixtures)


def test_triggers_page_lists_ticks_and_pauses(page: Any) -> None:  # noqa: F811 - the imported fixture
    from playwright.sync_api import expect

    flowdeck.register_flow(headless_flows.one_step)
    AssetTrigger(label="scores", name="new scores").configure("One step", user_id="alice").start()
    check_triggers()
    store = StoreInterface(flowdeck.run_headless("One step", "alice"), user="alice")
    store.save_asset(Asset({"x": 1}, label="scores", type="dataset"))
    check_triggers()
    # The server under test runs its own scheduler (every second): whichever looks first fires the
    # trigger, and the other finds the firing taken. Exactly one run starts either way.
    deadline = time.monotonic() + 30
    while True:
        fired = [t for t in flowdeck.triggers.get_trigger("new scores", "alice")[1] if t.outcome == "fired"]
        if fired or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(fired) == 1 and fired[0].run_id, fired

    log_in(page)
    runs = page.locator("table.data tbody tr")
    expect(runs.filter(has_text="trigger:new scores")).to_have_count(1)
    expect(runs.filter(has_text="headless:alice")).to_have_count(1)
    page.get_by_role("link", name="Triggers").click()
    expect(page.get_by_role("heading", name="Triggers", exact=True)).to_be_visible()
    page.get_by_role("button", name="Show ticks of new scores").click()
    ticks = page.locator("section[aria-live] table.data tbody tr")
    expect(ticks).to_have_count(1)
    expect(ticks.first).to_contain_text("fired")
    expect(ticks.first.get_by_role("link")).to_have_attribute("href", f"/runs/{fired[0].run_id}")
    shot(page, "20-triggers")
    page.get_by_role("button", name="Pause new scores").click()
    expect(page.get_by_role("button", name="Resume new scores")).to_be_visible()
    assert flowdeck.triggers.get_trigger("new scores", "alice")[0].active is False
    assert page.errors == []
