"""Accessibility of the web UI (WCAG 2.1 AA) in real headless Chromium, with the keyboard alone.

The tests need no network, so axe-core is not loaded from anywhere: flowdeck does not ship a copy
of it. Instead, checks written here with Playwright run on every main screen (sign-in, flows and
runs, a step with every element kind, a big table, a failed step, a page with drilldowns, the asset
browser, connections, the account page, the share dialog):

* every control has an accessible name, as Chromium's accessibility tree computes it;
* every input, select and text area has a label (a placeholder is not one);
* one ``main`` landmark and one ``h1``; the page has a title;
* the status areas are live regions (the toast, the screen-reader announcer, the step banner, the
  field errors);
* every text on the screen has a contrast of at least 4.5:1 (3:1 when large) with the background
  computed from the CSS, as do the badges, notices and toasts of states the screen does not show;
  input borders and the focus ring have at least 3:1;
* every stop of the Tab order shows a focus ring;
* at 200 % zoom (a 640-px-wide window) nothing is wider than the window.

With ``FLOWDECK_TEST_AXE`` set to the path of an ``axe.min.js`` (from ``npm install axe-core``),
axe-core also runs on each screen, and no serious or critical violation may be found.

Keyboard-only journeys check what matters most: the skip link, signing in, starting a flow, a
missing input and a failed step announced, the user menu, table row menus, drilldown modals and
popovers (Escape, Tab, focus going back), tabs, and a saved value announced.

Runs only with FLOWDECK_TEST_BROWSER=1.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import flowdeck
from fixtures.server_support import CHURN_CSV, PASSWORDS, ROOT, add_people, serving
from test_server_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1"),
]

FIXTURES = ROOT / "tests" / "fixtures"
FLOWS = [
    f"{FIXTURES / 'sdk_gallery.py'}:gallery",
    f"{FIXTURES / 'server_flows.py'}:fragile",
    f"{FIXTURES / 'table_flows.py'}:big_table",
    str(ROOT / "examples" / "interactive" / "flow.py"),
]
AXE = os.environ.get("FLOWDECK_TEST_AXE")

# --- checks run in the page -----------------------------------------------------------------------

# Colours and contrast (WCAG 2.1 relative luminance); the background of an element is composed from
# its own and its ancestors' background colours over white. Elements over an image or a gradient
# are left out (their background is not one colour).
COLOUR = """
const parse = (c) => {
  const m = /rgba?\\(([^)]+)\\)/.exec(c || "");
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
const lum = (c) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const background = (el) => {
  const chain = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    const s = getComputedStyle(n);
    if (s.backgroundImage !== "none") return null;
    chain.push(parse(s.backgroundColor));
  }
  let colour = [255, 255, 255, 1];
  chain.reverse().forEach((c) => { if (c && c[3] > 0) colour = over(c, colour); });
  return colour;
};
const opacity = (el) => {
  let o = 1;
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) o *= Number(getComputedStyle(n).opacity);
  return o;
};
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\\s+/).join(".") : "");
"""

# Text whose contrast with its background is too low: [description, text, ratio].
LOW_CONTRAST = (
    "(root) => {"
    + COLOUR
    + """
  const bad = [];
  const scope = root ? document.querySelector(root) : document.body;
  scope.querySelectorAll("*").forEach((el) => {
    if (el.closest("svg, [hidden], :disabled, [aria-disabled=true], option")) return;
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) return;
    const box = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (box.width <= 1 || box.height <= 1 || s.visibility !== "visible") return;
    const bg = background(el);
    const fg = parse(s.color);
    if (!bg || !fg) return;
    const shown = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    const r = ratio(shown, bg);
    if (r < needed) bad.push([describe(el), el.textContent.trim().slice(0, 40), Math.round(r * 100) / 100]);
  });
  return bad;
}"""
)

# The same for samples of what a screen may not show right now: every state badge, notices,
# toasts, errors, links and buttons, drawn for a moment inside a card of the page.
SAMPLES = [
    *(f"span.badge.state-{state}" for state in ("complete", "failed", "running", "acting", "awaiting_input")),
    *(f"span.badge.state-{state}" for state in ("stale", "cancelled", "ready", "pending")),
    "p.notice",
    "p.notice.success",
    "p.notice.warning",
    "p.gate-badge",
    "p.gate-note",
    "p.field-error",
    "p.muted",
    "p.muted.small",
    "a",
    "button.button",
    "button.button.primary",
    "button.button.danger-outline",
    "button.sdk-button",
    "button.sdk-button.style-secondary",
    "button.fd-clickable.fd-clickable-button",
    "div.toast.show",
    "div.toast.show.error",
    "div.toast.show.message",
    "a.nav-link",
    "a.nav-link.active",
    "h2.section-title",
    "span.plot-placeholder",
]
SAMPLE_CONTRAST = (
    "(samples) => {"
    + COLOUR
    + """
  const host = document.createElement("div");
  host.className = "card";
  document.getElementById("main").appendChild(host);
  const out = [];
  samples.forEach((spec) => {
    const [tag, ...classes] = spec.split(".");
    const el = document.createElement(tag);
    el.className = classes.join(" ");
    el.textContent = "Sample text";
    host.appendChild(el);
    const s = getComputedStyle(el);
    const bg = background(el);
    out.push([spec, bg ? Math.round(ratio(over(parse(s.color), bg), bg) * 100) / 100 : null]);
  });
  host.remove();
  return out;
}"""
)

# Borders of text boxes and selects against what is around them (WCAG 1.4.11 non-text contrast).
FIELD_BORDERS = (
    "() => {"
    + COLOUR
    + """
  const bad = [];
  const boxes = "input:not([type=checkbox]):not([type=radio]):not([type=range]):not([type=file]), select, textarea";
  document.querySelectorAll(boxes).forEach((el) => {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || el.disabled || el.closest(".modebar, [hidden]")) return;
    const around = background(el.parentElement);
    const border = parse(getComputedStyle(el).borderTopColor);
    if (around && border && ratio(over(border, around), around) < 3) bad.push(describe(el));
  });
  return bad;
}"""
)

# The focused element: what it is, and the best contrast of its focus ring (box shadow or outline)
# with the background around it. A visually hidden control (the file input of an upload) shows its
# ring on the nearest ancestor that draws one (the drop zone).
FOCUS = (
    "() => {"
    + COLOUR
    + """
  const el = document.activeElement;
  const colours = (s) => (s.boxShadow.match(/rgba?\\([^)]+\\)/g) || [])
    .concat(s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 ? [s.outlineColor] : [])
    .map(parse).filter((c) => c && c[3] > 0);
  let ring = 0;
  for (let n = el; n && n.nodeType === 1 && n !== document.body; n = n.parentElement) {
    const box = n.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    const around = background(n.parentElement) || [255, 255, 255, 1];
    colours(getComputedStyle(n)).forEach((c) => { ring = Math.max(ring, ratio(over(c, around), around)); });
    if (ring || n === el) break;
  }
  const name = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim().slice(0, 40);
  // A part of a native control (the calendar button of a date box) has the focus, not the element:
  // the browser draws that ring itself.
  const inner = !el.matches(":focus");
  return { what: describe(el), name, ring: Math.round(ring * 100) / 100, body: el === document.body, inner };
}"""
)

# Inputs without a label: no <label>, aria-label or aria-labelledby (a placeholder is not a label).
UNLABELLED = """() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
  .filter((el) => !el.closest(".modebar"))
  .filter((el) => !(el.labels && el.labels.length))
  .filter((el) => !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
  .map((el) => el.outerHTML.slice(0, 120))"""

PAGE_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"

# Roles of controls and of named containers: each needs an accessible name.
NAMED_ROLES = {
    "button", "link", "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "slider", "spinbutton",
    "tab", "tabpanel", "menuitem", "menu", "switch", "dialog", "progressbar", "figure", "DisclosureTriangle",
}  # fmt: skip


def nameless_controls(page: Any) -> list[str]:
    """Controls in Chromium's accessibility tree that have no accessible name."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        bad = []
        for node in nodes:
            role = (node.get("role") or {}).get("value")
            if node.get("ignored") or role not in NAMED_ROLES or (node.get("name") or {}).get("value", "").strip():
                continue
            described = cdp.send("DOM.describeNode", {"backendNodeId": node["backendDOMNodeId"]})["node"]
            bad.append(f"{role}: <{described['localName']} {' '.join(described.get('attributes', [])[:6])}>")
        return bad
    finally:
        cdp.detach()


def tab_stops(page: Any, limit: int = 150) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until focus comes round again; the focus info of each stop."""
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(".skip-link").focus()
    page.keyboard.press("Shift+Tab")  # out of the page, so that the keyboard brings the focus back in
    page.keyboard.press("Tab")
    stops = [page.evaluate(FOCUS)]
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS)
        if info["body"] or info["what"].startswith("a.skip-link"):
            break
        stops.append(info)
    return stops


def check_screen(page: Any, name: str, problems: list[str], tab: bool = True) -> None:
    """Every check of the module docstring on the screen as it is now; problems are appended."""
    page.wait_for_timeout(150)  # transitions (the focus ring, the toast) have ended
    if page.locator('[role="dialog"][aria-modal="true"], dialog[open]').count() == 0:
        if page.locator("main").count() != 1:
            problems.append(f"{name}: {page.locator('main').count()} main landmarks")
        if page.locator("main h1").count() != 1:
            problems.append(f"{name}: {page.locator('main h1').count()} h1 headings in main")
    if not page.title():
        problems.append(f"{name}: the page has no title")
    for role in ("#toast", "#announcer"):
        if page.locator(f'{role}[role="status"][aria-live="polite"]').count() != 1:
            problems.append(f"{name}: {role} is not a polite live region")
    if page.locator("#step-banner").count() and page.locator('#step-banner[aria-live="polite"]').count() != 1:
        problems.append(f"{name}: the step banner is not a live region")
    quiet = page.locator('.element > .field-error:not([role="alert"]), #action-error:not([role="alert"])')
    if quiet.count():
        problems.append(f"{name}: {quiet.count()} field errors are not alerts")
    problems.extend(f"{name}: no name: {item}" for item in nameless_controls(page))
    problems.extend(f"{name}: no label: {item}" for item in page.evaluate(UNLABELLED))
    problems.extend(f"{name}: low contrast: {item}" for item in page.evaluate(LOW_CONTRAST, None))
    problems.extend(f"{name}: border below 3:1: {item}" for item in page.evaluate(FIELD_BORDERS))
    if AXE:
        problems.extend(f"{name}: axe: {item}" for item in axe_violations(page))
    if tab:
        for stop in tab_stops(page):
            if stop["ring"] < 3 and not stop["inner"]:
                problems.append(f"{name}: focus ring {stop['ring']}:1 on {stop['what']} {stop['name']!r}")


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations (WCAG 2.0/2.1 A and AA) on the page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(Path(AXE).read_text())  # evaluated by the browser's tools, which the page's CSP allows
    found = page.evaluate(
        """async () => (await axe.run(document, {
              runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }))
            .violations.filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => v.id + " " + v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", "))"""
    )
    return list(found)


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The flows showing every screen, served on loopback; alice has an asset and a connection."""
    from fixtures.server_flows import fragile
    from flowdeck import Dataset, StoreInterface, configure
    from flowdeck.config import get_settings
    from flowdeck.server import create_app
    from flowdeck.storage.deployment import reset_storage

    home = tmp_path_factory.mktemp("accessibility")
    configure(home=str(home), database_url=None, blob_url=None)
    add_people()
    run = flowdeck.start(fragile, user="alice")
    frame = pd.DataFrame({"id": [1, 2], "city": ["Oslo", "Lima"]})
    StoreInterface(run.flow_id, user="alice").save_asset(Dataset(frame, "customers", description="two rows"))
    get_settings().sqlite_dir.mkdir(parents=True, exist_ok=True)
    path = get_settings().sqlite_dir / "alpha.db"
    sqlite3.connect(path).close()
    flowdeck.add_connection("alpha", "sqlite", "alice", database=str(path))
    try:
        with serving(create_app(FLOWS)) as url:
            yield url
    finally:
        reset_storage()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
    expect.set_options(timeout=5_000)  # Playwright's default, for the modules that follow


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh 1280 x 900 page; script errors are collected on ``page.errors`` and must stay none."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    context.close()
    assert not tab.errors, tab.errors


def sign_in(page: Any, name: str = "alice") -> None:
    """Sign in with the keyboard only: the user name box has the focus when the form appears."""
    from playwright.sync_api import expect

    page.goto("/login")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS[name])
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.get_by_role("heading", name="Flows", exact=True)).to_be_focused()


def tab_to(page: Any, locator: Any, limit: int = 150, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until ``locator`` has the focus."""
    for _ in range(limit):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{locator} was not reached with the keyboard")


def start(page: Any, flow: str) -> None:
    """Start ``flow`` from the flows page with the keyboard; waits for its first step to be drawn."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Flows", exact=True).first.click()
    expect(page.get_by_role("heading", name="Flows", exact=True)).to_be_visible()
    button = page.get_by_role("button", name=f"Start {flow}")
    tab_to(page, button)
    page.keyboard.press("Enter")
    page.wait_for_url("**/steps/*")
    expect(page.locator("#step-title")).to_be_focused()


def live_interactive_page(page: Any) -> None:
    """Start the interactive example and wait until its page is drawn for good."""
    start(page, "Interactive orders")
    page.locator(".plot .main-svg").first.wait_for()
    page.locator("#page-body[data-live=true]").wait_for()


# --- every screen ---------------------------------------------------------------------------------


def test_every_screen_has_names_labels_live_regions_contrast_and_visible_focus(page: Any) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page.goto("/login")
    expect(page.get_by_label("User name")).to_be_focused()
    check_screen(page, "sign-in", problems)
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
    check_screen(page, "sign-in error", problems, tab=False)
    sign_in(page)
    check_screen(page, "flows", problems)
    page.get_by_label("User menu for alice").click()
    check_screen(page, "user menu", problems, tab=False)
    page.keyboard.press("Escape")

    start(page, "Element gallery")
    expect(page.locator(".plot .main-svg").first).to_be_visible()
    check_screen(page, "every element", problems)

    start(page, "Big table")
    expect(page.locator("table.data tbody tr").first).to_be_visible()
    check_screen(page, "big table", problems)

    start(page, "Fragile")
    expect(page.locator("#next-button")).to_be_enabled()
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#action-error")).to_contain_text("Fill in the highlighted inputs first.")
    check_screen(page, "missing input", problems, tab=False)
    with page.expect_response(lambda r: "/value" in r.url):
        page.get_by_label("Word").fill("fail")
        page.get_by_label("Word").press("Tab")
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#step-error")).to_contain_text("This step failed")
    check_screen(page, "failed step", problems)
    page.get_by_role("button", name="Share").click()
    expect(page.locator("dialog[open]")).to_contain_text("Not shared with anyone.")
    check_screen(page, "share dialog", problems, tab=False)
    page.keyboard.press("Escape")

    live_interactive_page(page)
    check_screen(page, "interactive page", problems)
    page.get_by_role("button", name="Actions for row 1").click()
    expect(page.get_by_role("menu")).to_be_visible()
    check_screen(page, "row menu", problems, tab=False)
    page.get_by_role("menuitem").first.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    check_screen(page, "drilldown", problems, tab=False)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Show help").click()
    expect(page.get_by_role("dialog", name="Help")).to_be_visible()
    check_screen(page, "container", problems, tab=False)
    page.keyboard.press("Escape")

    page.get_by_role("link", name="Assets").click()
    expect(page.get_by_role("heading", name="Assets", exact=True)).to_be_visible()
    page.get_by_role("button", name="customers").click()
    expect(page.locator("#asset-detail h2")).to_have_text("customers")
    check_screen(page, "assets", problems)
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("button", name="Test connection alpha").click()
    expect(page.get_by_role("row", name="alpha").get_by_role("status")).not_to_be_empty()
    check_screen(page, "connections", problems)
    page.goto("/account")
    page.get_by_role("button", name="Create API token").click()
    expect(page.locator("code.token")).to_be_visible()
    check_screen(page, "account", problems)
    page.goto("/runs/nothing-here/steps/x")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    check_screen(page, "not found", problems, tab=False)
    assert not problems, "\n".join(problems)


def test_states_not_on_screen_have_enough_contrast_and_so_do_the_focus_ring_and_borders(page: Any) -> None:
    sign_in(page)
    low = [(spec, ratio) for spec, ratio in page.evaluate(SAMPLE_CONTRAST, SAMPLES) if ratio is None or ratio < 4.5]
    assert not low, low
    # The focus ring (the accent colour) on cards and on the page, and input borders on cards.
    ring = page.evaluate(
        "() => {"
        + COLOUR
        + """
        const probe = (v) => {
          const d = document.createElement("i");
          d.style.color = v;
          document.body.appendChild(d);
          const c = parse(getComputedStyle(d).color);
          d.remove();
          return c;
        };
        const surface = probe("var(--surface)");
        return [ratio(probe("var(--accent)"), surface), ratio(probe("var(--accent)"), probe("var(--bg)")),
                ratio(probe("var(--field-border)"), surface)];
        }"""
    )
    assert min(ring) >= 3, ring


def test_at_200_percent_zoom_no_screen_is_wider_than_the_window(page: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 640, "height": 450})  # a 1280 x 900 window at 200 %
    sign_in(page)
    assert page.evaluate(PAGE_OVERFLOW) == 0, "flows"
    live_interactive_page(page)
    assert page.evaluate(PAGE_OVERFLOW) == 0, "interactive page"
    start(page, "Element gallery")
    expect(page.locator(".plot .main-svg").first).to_be_visible()
    assert page.evaluate(PAGE_OVERFLOW) == 0, "every element"
    for path, heading in (("/assets", "Assets"), ("/connections", "Connections"), ("/account", "Account")):
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert page.evaluate(PAGE_OVERFLOW) == 0, path
    # The brand link keeps its name where its text is not shown.
    page.set_viewport_size({"width": 360, "height": 640})
    expect(page.get_by_role("link", name="flowdeck")).to_be_visible()


# --- the keyboard alone ---------------------------------------------------------------------------


def test_the_skip_link_shows_on_focus_and_moves_to_the_content(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page)
    page.locator(".skip-link").focus()
    expect(page.locator(".skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Start Element gallery")).to_be_focused()


def test_a_step_is_filled_in_and_its_failure_read_with_the_keyboard_alone(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page)
    start(page, "Fragile")
    next_button = page.get_by_role("button", name="Next →")
    expect(next_button).to_be_enabled()
    tab_to(page, next_button)
    page.keyboard.press("Enter")
    # A missing input: said in an alert, and the focus goes to the input.
    expect(page.get_by_role("alert").filter(has_text="Fill in the highlighted inputs first.")).to_be_visible()
    word = page.get_by_label("Word")
    expect(word).to_be_focused()
    page.keyboard.type("fail")
    page.keyboard.press("Tab")
    expect(page.locator("#announcer")).to_have_text("Saved Word")  # a saved value is announced
    tab_to(page, next_button)
    page.keyboard.press(" ")
    page.wait_for_url("**/steps/Answer")
    failure = page.get_by_role("alert").filter(has_text="This step failed")
    expect(failure).to_contain_text("the word was 'fail'")
    rerun = page.get_by_role("button", name="Re-run this step")
    tab_to(page, rerun)
    details = failure.locator("summary")
    tab_to(page, details, back=True)
    page.keyboard.press("Enter")
    expect(failure.locator("pre.traceback")).to_be_visible()


def test_an_upload_is_announced(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page)
    start(page, "Element gallery")
    upload = page.locator(".element-datasource input[type=file]")
    tab_to(page, upload)
    assert page.evaluate(FOCUS)["ring"] >= 3  # drawn around the drop zone
    upload.set_input_files(str(CHURN_CSV))
    expect(page.get_by_role("status").filter(has_text="Uploaded customers.csv")).to_be_visible()


def test_the_user_menu_opens_and_closes_with_the_keyboard(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page)
    summary = page.get_by_label("User menu for alice")
    menu = page.locator("details.user-menu")
    tab_to(page, summary, back=True)
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Account and API tokens")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(3):  # past the link and the log-out button: focus leaving closes the menu
        page.keyboard.press("Tab")
    expect(menu).not_to_have_attribute("open", "")


def test_row_menus_drilldowns_popovers_and_tabs_work_with_the_keyboard(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page)
    live_interactive_page(page)
    toggle = page.get_by_role("button", name="Actions for row 1")
    tab_to(page, toggle)

    # A row menu: the first item has the focus; arrows, Home and End move; Escape goes back.
    page.keyboard.press("Enter")
    items = page.get_by_role("menuitem")
    expect(items.first).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("End")
    expect(items.last).to_be_focused()
    page.keyboard.press("Home")
    expect(items.first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    # Tab leaves the menu closed, for the control after its button.
    page.keyboard.press("Enter")
    expect(items.first).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(page.get_by_role("checkbox", name="Select row 2")).to_be_focused()

    # A drilldown modal: focus inside, Tab kept inside, Escape closes it and focus goes back.
    page.keyboard.press("Shift+Tab")
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("el => el.contains(document.activeElement)")
    for _ in range(4):
        page.keyboard.press("Tab")
        assert dialog.evaluate("el => el.contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(toggle).to_be_focused()

    # A popover from a key figure (Space on a role=button item): Tab past its last control closes
    # it and carries on after the item.
    figure = page.locator(".infograph-item.clickable").filter(has_text="Revenue")
    tab_to(page, figure, back=True)
    page.keyboard.press(" ")
    popover = page.get_by_role("dialog", name="Revenue by region")
    expect(popover).to_be_visible()
    page.keyboard.press("Tab")
    expect(popover.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Tab")
    expect(popover).to_have_count(0)
    expect(page.get_by_role("button", name="Recalculate")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(figure).to_be_focused()
    page.keyboard.press("Enter")
    expect(popover).to_be_visible()
    page.keyboard.press("Escape")
    expect(popover).to_have_count(0)
    expect(figure).to_be_focused()

    # A container modal opened by a button closes with Escape, focus back on the button.
    help_button = page.get_by_role("button", name="Show help")
    tab_to(page, help_button)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Help")).to_have_count(0)
    expect(help_button).to_be_focused()

    # Tabs: arrow keys choose the next tab and show its panel.
    first_tab = page.get_by_role("tab").first
    tab_to(page, first_tab, back=True)
    page.keyboard.press("ArrowRight")
    second = page.get_by_role("tab").nth(1)
    expect(second).to_be_focused()
    expect(second).to_have_attribute("aria-selected", "true")
    expect(page.locator(f"#{second.get_attribute('aria-controls')}")).to_be_visible()
