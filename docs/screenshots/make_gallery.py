"""Photograph each element of docs/elements.md: one PNG per card of ``gallery_flow.py``.

Run by hand after a change to how elements look (not in CI)::

    python docs/screenshots/make_gallery.py [--chromium /usr/bin/chromium]

It starts the flow in a throw-away deployment, serves the web UI on loopback, opens the run in
headless Chromium (Playwright) and saves each card, cropped to the card, as
``docs/screenshots/elements/<Element>.png`` (it says which are over 60 KB).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "elements"
LIMIT = 60_000
PASSWORD = "gallery-password"  # noqa: S105 - a throw-away deployment on loopback


def _serve(app: object) -> tuple[str, object, threading.Thread]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def main(argv: list[str] | None = None) -> int:
    """Make the screenshots; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium executable")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    import gallery_flow
    from playwright.sync_api import sync_playwright

    import flowdeck
    from flowdeck.config import configure
    from flowdeck.server import create_app

    home = tempfile.mkdtemp(prefix="flowdeck-gallery-")
    configure(home=home, database_url=None, blob_url=None)
    flowdeck.add_user("writer", password=PASSWORD)
    flowdeck.add_connection("sales warehouse", "postgresql", owner="writer", host="db.example.com", database="sales")
    flowdeck.add_connection("local copy", "sqlite", owner="writer", database="copy.db")
    run = flowdeck.start(gallery_flow.gallery, user="writer")
    base, server, thread = _serve(create_app([]))
    OUT.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=base)
            page.goto("/login")
            page.get_by_label("User name").fill("writer")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(f"/runs/{run.flow_id}/steps/Gallery")
            page.locator(".plot .main-svg").first.wait_for(timeout=30_000)
            page.add_style_tag(content=".topbar, header { position: static !important; }")
            for title in gallery_flow.CARDS:
                card = page.locator("article.page-card").filter(has=page.locator("h3.card-title", has_text=title)).first
                card.scroll_into_view_if_needed()
                time.sleep(0.3)  # plots finish drawing
                data = card.screenshot(animations="disabled")
                (OUT / f"{title}.png").write_bytes(data)
                print(f"{title}.png {len(data) // 1024} KB" + ("  OVER 60 KB" if len(data) > LIMIT else ""))
            browser.close()
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
