"""Notifications: a failing step posts one webhook, with the run's link and the error, to a local server."""

from __future__ import annotations

import json
import threading
import time
import warnings
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


class _Mailbox:
    """An aiosmtpd handler that keeps every message, behind a login checked against one password."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.messages: list[Any] = []
        self.logins: list[tuple[str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> Any:  # the authenticator
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"mailer" and auth_data.password == self.password.encode()
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok)

    async def handle_DATA(self, server, session, envelope) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Mailbox, int]]:
    """A real SMTP server on loopback (aiosmtpd) that asks for a login; yields its mailbox and port."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = _Mailbox("s3cret-pw!")
    with warnings.catch_warnings():  # AUTH without TLS: fine on loopback
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(
            mailbox, hostname="127.0.0.1", port=port, authenticator=mailbox, auth_require_tls=False, auth_required=True
        )
        controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # loopback only
@pytest.mark.parametrize("deployment", ["sqlite", "postgres"], indirect=True)
def test_a_failing_step_sends_one_email_through_the_stored_smtp_server(deployment, smtp_server, caplog) -> None:
    import socket

    import sqlalchemy as sa

    from flowdeck.config import get_settings

    mailbox, port = smtp_server
    reconfigure(public_url="https://flowdeck.example.com")
    flowdeck.add_user("root", role="admin")
    flowdeck.register_flow(headless_flows.failing)
    with pytest.raises(flowdeck.AccessError, match="only an admin may set the SMTP server"):
        flowdeck.set_smtp_server("127.0.0.1", port, username="mailer", password="x", security="none", user="alice")
    server = flowdeck.set_smtp_server(
        "127.0.0.1",
        port,
        username="mailer",
        password="s3cret-pw!",
        sender="flowdeck@example.com",
        security="none",
        user="root",
    )
    # encrypted at rest, never shown again
    assert "s3cret-pw!" not in repr(server) and "s3cret-pw!" not in str(flowdeck.get_smtp_server("alice").to_dict())
    assert flowdeck.get_smtp_server("alice").has_password
    engine = sa.create_engine(get_settings().database_url)
    with engine.connect() as conn:
        stored = [tuple(map(str, row)) for row in conn.execute(sa.text("SELECT * FROM smtp_servers"))]
    engine.dispose()
    assert len(stored) == 1 and not any("s3cret-pw!" in value for value in stored[0])

    flowdeck.add_notification("alice", email="alice@example.com", events=["failed"])
    started = time.monotonic()
    flow_id = flowdeck.run_headless("Failing", "alice")
    while not mailbox.messages and time.monotonic() - started < 10:
        flowdeck.check_notifications()
        time.sleep(0.1)
    assert flowdeck.check_notifications() == 0  # told once
    assert len(mailbox.messages) == 1 and mailbox.logins == [("mailer", True)]
    [message] = mailbox.messages
    assert message["To"] == "alice@example.com" and message["From"] == "flowdeck@example.com"
    assert message["Subject"] == "flowdeck: Failing failed at step Boom"
    body = message.get_content()
    for line in (
        "flow: Failing",
        "step: Boom",
        "error: RuntimeError: the warehouse is on fire",
        f"link: https://flowdeck.example.com/runs/{flow_id}",
    ):
        assert line in body, body

    # a server that cannot be reached: the failure is logged, never with the password
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    flowdeck.set_smtp_server(
        "127.0.0.1",
        closed_port,
        username="mailer",
        password="s3cret-pw!",
        sender="flowdeck@example.com",
        security="none",
        user="root",
    )
    with caplog.at_level("WARNING", logger="flowdeck.notifications"):
        flowdeck.run_headless("Failing", "alice")
        assert flowdeck.check_notifications() == 0
    assert len(mailbox.messages) == 1
    assert f"could not send e-mail through SMTP server 127.0.0.1:{closed_port}: ConnectionRefusedError" in caplog.text
    assert "s3cret-pw!" not in caplog.text


def test_flowdeck_smtp_stores_shows_and_removes_the_server_without_echoing_the_password(embedded) -> None:
    from typer.testing import CliRunner

    from flowdeck.cli import app

    flowdeck.add_user("root", role="admin")
    flowdeck.add_user("alice")
    cli = CliRunner()
    args = ["smtp", "set", "mail.example.com", "--port", "2525", "--security", "none", "--username", "mailer"]
    args += ["--password-stdin", "--sender", "flowdeck@example.com"]

    refused = cli.invoke(app, [*args, "--user", "alice"], input="s3cret-pw!\n")
    assert isinstance(refused.exception, flowdeck.AccessError)
    assert "only an admin may set the SMTP server" in str(refused.exception)
    assert flowdeck.get_smtp_server("root") is None

    stored = cli.invoke(app, [*args, "--user", "root"], input="s3cret-pw!\n")
    assert stored.exit_code == 0, stored.output
    assert "stored the SMTP server: mail.example.com:2525 (none), sender flowdeck@example.com" in stored.output
    assert "logs in as mailer with a stored password" in stored.output
    server = flowdeck.get_smtp_server("alice")
    assert (server.host, server.port, server.username, server.has_password) == (
        "mail.example.com",
        2525,
        "mailer",
        True,
    )

    shown = cli.invoke(app, ["smtp", "show", "--user", "alice"])
    assert shown.exit_code == 0 and "mail.example.com:2525 (none)" in shown.output
    assert "s3cret-pw!" not in stored.output + shown.output

    bad = cli.invoke(app, ["smtp", "set", "mail.example.com", "--security", "plain", "--user", "root"])
    assert isinstance(bad.exception, ValidationError) and "security must be one of" in str(bad.exception)

    assert cli.invoke(app, ["smtp", "remove", "--user", "root"]).exit_code == 0
    assert flowdeck.get_smtp_server("root") is None
    assert "no SMTP server is stored" in cli.invoke(app, ["smtp", "show", "--user", "root"]).output
