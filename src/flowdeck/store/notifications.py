"""Notifications: a webhook and/or an e-mail when a run fails, completes or awaits input.

Subscriptions are per user (that user's runs, optionally of one flow; an admin's cover every
user's runs). ``check_notifications()`` looks at runs that changed recently and tells each new
event once: a delivery row whose key is (subscription, run, event and step attempt) is claimed
before sending, so several pollers never send one event twice. ``flowdeck scheduler`` (and the
embedded ``flowdeck serve``) call it on every poll.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from flowdeck.auth.secrets import decrypt_secret, encrypt_secret
from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.config import get_settings
from flowdeck.errors import AccessError, ConfigurationError, NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import notifications as records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import utcnow

__all__ = [
    "EVENTS",
    "Notification",
    "SmtpServer",
    "add_notification",
    "check_notifications",
    "get_smtp_server",
    "list_notifications",
    "remove_notification",
    "remove_smtp_server",
    "set_smtp_server",
]

log = logging.getLogger("flowdeck.notifications")

#: run states that can be told, by the event name subscriptions use
EVENTS = {"failed": "failed", "completed": "complete", "awaiting_input": "awaiting_input"}
#: how far back each check looks for changed runs
LOOKBACK = dt.timedelta(minutes=15)
WEBHOOK_TIMEOUT = 10.0


@dataclass(frozen=True)
class Notification:
    """A subscription: whose runs, which flow, which events, where to tell."""

    id: str
    owner: str
    flow_name: str | None
    events: tuple[str, ...]
    webhook_url: str | None
    email: str | None


def _info(row: Any) -> Notification:
    return Notification(row.id, row.owner, row.flow_name, tuple(row.events.split(",")), row.webhook_url, row.email)


def add_notification(
    user: str | None = None,
    *,
    webhook_url: str | None = None,
    email: str | None = None,
    flow_name: str | None = None,
    events: Iterable[str] = ("failed",),
) -> str:
    """Tell ``webhook_url`` (a JSON POST) and/or ``email`` about ``user``'s runs; returns the subscription id.

    ``events``: any of ``failed``, ``completed``, ``awaiting_input``. ``flow_name`` limits it to one flow.
    """
    who = resolve_principal(user)
    chosen = [events] if isinstance(events, str) else list(events)
    unknown = [e for e in chosen if e not in EVENTS]
    if not chosen or unknown:
        raise ValidationError(f"unknown notification events {unknown or chosen}; use any of {sorted(EVENTS)}")
    if not webhook_url and not email:
        raise ValidationError("a notification needs webhook_url= or email= (or both)")
    if webhook_url and urlsplit(webhook_url).scheme not in ("http", "https"):
        raise ValidationError(f"webhook_url {webhook_url!r} must be an http:// or https:// URL")
    if email and "@" not in email:
        raise ValidationError(f"{email!r} is not an e-mail address")
    notification_id = uuid.uuid4().hex
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, who.name)
        records.insert_notification(
            conn,
            {
                "id": notification_id,
                "owner": who.name,
                "flow_name": flow_name,
                "events": ",".join(chosen),
                "webhook_url": webhook_url,
                "email": email,
            },
        )
    return notification_id


def list_notifications(user: str | None = None) -> list[Notification]:
    """A user's subscriptions (everyone's for an admin)."""
    who = resolve_principal(user)
    with get_storage().db.read() as conn:
        return [_info(r) for r in records.list_notifications(conn, None if who.is_admin else who.name)]


def remove_notification(notification_id: str, user: str | None = None) -> None:
    """Delete a subscription."""
    who = resolve_principal(user)
    with get_storage().db.write() as conn:
        if not records.delete_notification(conn, notification_id, None if who.is_admin else who.name):
            raise NotFoundError(f"no notification {notification_id!r} of user {who.name!r}")


def _message(run: Any, event: str, step: Any) -> dict[str, Any]:
    return {
        "event": event,
        "flow": run.flow_name,
        "flow_id": run.id,
        "user": run.owner,
        "state": run.state,
        "step": step.name if step is not None else None,
        "error": step.error if step is not None and event == "failed" else None,
        "link": f"{get_settings().public_url}/runs/{run.id}",
    }


def _post(url: str, payload: dict[str, Any]) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValidationError(f"webhook_url {url!r} must be an http:// or https:// URL")
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - scheme checked
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310 - scheme checked
        response.read()


#: how the connection to the SMTP server is secured
SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpServer:
    """The SMTP server e-mail notifications go through, as anyone may see it: never its password."""

    host: str
    port: int
    security: str
    username: str | None
    sender: str
    has_password: bool
    updated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (no password)."""
        return dict(self.__dict__)


def _require_admin(who: Principal, what: str) -> None:
    if not who.is_admin:
        raise AccessError(f"only an admin may {what}; user {who.name!r} is not one")


def set_smtp_server(
    host: str,
    port: int = 587,
    *,
    username: str | None = None,
    password: str | None = None,
    sender: str = "flowdeck@localhost",
    security: str = "starttls",
    user: str | None = None,
) -> SmtpServer:
    """Store the SMTP server e-mail notifications go through (admins only); returns it without its password.

    ``security``: ``starttls`` (upgrade the connection), ``ssl`` (TLS from the start, usually port
    465) or ``none`` (loopback or a trusted relay only). The password is encrypted at rest under the
    deployment's keys and never shown again. It takes precedence over ``FLOWDECK_SMTP_URL``.
    """
    who = resolve_principal(user)
    _require_admin(who, "set the SMTP server")
    if not isinstance(host, str) or not host.strip():
        raise ValidationError("set_smtp_server() needs the SMTP server's host name")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValidationError(f"port must be a whole number from 1 to 65535, got {port!r}")
    if security not in SECURITY:
        raise ValidationError(f"security must be one of {list(SECURITY)}, got {security!r}")
    if password is not None and not username:
        raise ValidationError("a password needs the username it belongs to (username=...)")
    if "@" not in sender:
        raise ValidationError(f"sender {sender!r} is not an e-mail address")
    token = encrypt_secret(get_settings(), password) if password is not None else None
    values = {
        "host": host.strip(),
        "port": port,
        "security": security,
        "username": username or None,
        "password_token": token,
        "sender": sender,
        "updated_by": who.name,
    }
    with get_storage().db.write() as conn:
        records.put_smtp_server(conn, values)
    return SmtpServer(values["host"], port, security, values["username"], sender, token is not None, who.name)


def get_smtp_server(user: str | None = None) -> SmtpServer | None:
    """The stored SMTP server (without its password), or None when none is stored."""
    resolve_principal(user)
    with get_storage().db.read() as conn:
        row = records.get_smtp_server(conn)
    if row is None:
        return None
    return SmtpServer(
        row.host, row.port, row.security, row.username, row.sender, row.password_token is not None, row.updated_by
    )


def remove_smtp_server(user: str | None = None) -> None:
    """Forget the stored SMTP server (admins only); ``FLOWDECK_SMTP_URL`` applies again."""
    who = resolve_principal(user)
    _require_admin(who, "remove the SMTP server")
    with get_storage().db.write() as conn:
        if not records.delete_smtp_server(conn):
            raise NotFoundError("no SMTP server is stored; see flowdeck.set_smtp_server()")


@dataclass(frozen=True)
class _Smtp:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str

    def __repr__(self) -> str:
        return f"SMTP server {self.host}:{self.port}"


def _smtp() -> _Smtp:
    """Where to send: the stored server (its password decrypted here only), else ``FLOWDECK_SMTP_URL``."""
    settings = get_settings()
    with get_storage().db.read() as conn:
        row = records.get_smtp_server(conn)
    if row is not None:
        password = decrypt_secret(settings, row.password_token, "smtp") if row.password_token else None
        return _Smtp(row.host, row.port, row.security, row.username, password, row.sender)
    if not settings.smtp_url:
        raise ConfigurationError(
            "e-mail notifications need an SMTP server: flowdeck.set_smtp_server(...) or FLOWDECK_SMTP_URL"
        )
    url = urlsplit(settings.smtp_url)
    ssl = url.scheme == "smtps"
    return _Smtp(
        url.hostname or "localhost",
        url.port or (465 if ssl else 25),
        "ssl" if ssl else "none",
        unquote(url.username) if url.username else None,
        unquote(url.password or "") if url.username else None,
        settings.smtp_from,
    )


def _send_email(to: str, payload: dict[str, Any]) -> None:
    server = _smtp()
    message = EmailMessage()
    message["From"], message["To"] = server.sender, to
    message["Subject"] = f"flowdeck: {payload['flow']} {payload['event']}" + (
        f" at step {payload['step']}" if payload["step"] else ""
    )
    lines = [f"{k}: {v}" for k, v in payload.items() if v is not None]
    message.set_content("\n".join(lines) + "\n")
    try:
        smtp_cls = smtplib.SMTP_SSL if server.security == "ssl" else smtplib.SMTP
        with smtp_cls(server.host, server.port, timeout=30) as smtp:
            if server.security == "starttls":
                smtp.starttls()
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(message)
    except Exception as exc:  # say what failed, never with the password
        text = f"{type(exc).__name__}: {exc}"
        if server.password:
            text = text.replace(server.password, "***")
        raise ConfigurationError(f"could not send e-mail through {server!r}: {text}") from None


def check_notifications() -> int:
    """Tell every subscription about the run events it has not been told yet; returns how many were sent."""
    storage = get_storage()
    sent = 0
    with storage.db.read() as conn:
        subscriptions = [(_info(r), user_records.get_user(conn, r.owner)) for r in records.list_notifications(conn)]
        if not subscriptions:
            return 0
        changed = records.recent_runs(conn, utcnow() - LOOKBACK, list(EVENTS.values()))
        events = []
        for run in changed:
            event = next(name for name, state in EVENTS.items() if state == run.state)
            step = records.step_of(conn, run.id, run.state, run.current_step)
            events.append((run, event, step))
    for run, event, step in events:
        key = f"{event}:{step.name if step is not None else ''}:{step.attempt if step is not None else 0}"
        for sub, owner_row in subscriptions:
            is_admin = owner_row is not None and owner_row.role == "admin"
            if event not in sub.events or (sub.flow_name and sub.flow_name != run.flow_name):
                continue
            if run.owner != sub.owner and not is_admin:
                continue
            with storage.db.write() as conn:
                if not records.claim_delivery(conn, sub.id, run.id, key):
                    continue
            payload = _message(run, event, step)
            try:
                if sub.webhook_url:
                    _post(sub.webhook_url, payload)
                if sub.email:
                    _send_email(sub.email, payload)
            except Exception as exc:  # a receiver that is down must not stop the others
                log.warning("notification %s for run %s failed: %s", sub.id, run.id, exc)
                status, error = "failed", f"{type(exc).__name__}: {exc}"
            else:
                status, error = "sent", None
                sent += 1
            with storage.db.write() as conn:
                records.finish_delivery(conn, sub.id, run.id, key, status, error)
    return sent
