"""Notifications: a failing step posts one webhook, with the run's link and the error, to a local server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import flowdeck
import headless_flows
from flowdeck.config import reconfigure
from flowdeck.errors import ValidationError
from flowdeck.triggers import run_scheduler


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_failing_step_posts_one_webhook_within_10_seconds(deployment, receiver) -> None:
    reconfigure(public_url="https://flowdeck.example.com")
    flowdeck.register_flow(headless_flows.failing)
    flowdeck.register_flow(headless_flows.one_step)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    flowdeck.add_notification("alice", webhook_url=url, events=["failed"])
    flowdeck.add_notification("bob", webhook_url=url, events=["failed", "completed"])  # not about alice's runs
    stop = threading.Event()
    scheduler = threading.Thread(target=run_scheduler, args=(0.2, stop))
    scheduler.start()
    try:
        started = time.monotonic()
        ok_run = flowdeck.run_headless("One step", "alice")  # completes: alice asked only for failures
        flow_id = flowdeck.run_headless("Failing", "alice")
        while not receiver.received and time.monotonic() - started < 10:
            time.sleep(0.1)
        time.sleep(1.0)  # further polls must not tell it again
    finally:
        stop.set()
        scheduler.join(30)
    assert len(receiver.received) == 1, receiver.received
    message = receiver.received[0]
    assert message == {
        "event": "failed",
        "flow": "Failing",
        "flow_id": flow_id,
        "user": "alice",
        "state": "failed",
        "step": "Boom",
        "error": "RuntimeError: the warehouse is on fire",
        "link": f"https://flowdeck.example.com/runs/{flow_id}",
    }
    assert ok_run != flow_id
    assert flowdeck.check_notifications() == 0


def test_bad_subscriptions_are_refused(deployment) -> None:
    with pytest.raises(ValidationError, match=r"unknown notification events \['exploded'\]"):
        flowdeck.add_notification("alice", webhook_url="http://127.0.0.1:1/", events=["exploded"])
    with pytest.raises(ValidationError, match="must be an http:// or https:// URL"):
        flowdeck.add_notification("alice", webhook_url="file:///etc/passwd")
    with pytest.raises(ValidationError, match="needs webhook_url= or email="):
        flowdeck.add_notification("alice")
