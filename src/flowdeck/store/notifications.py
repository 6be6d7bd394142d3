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

from flowdeck.auth.users import resolve_principal
from flowdeck.config import get_settings
from flowdeck.errors import ConfigurationError, NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import notifications as records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import utcnow

__all__ = [
    "EVENTS",
    "Notification",
    "add_notification",
    "check_notifications",
    "list_notifications",
    "remove_notification",
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


def _send_email(to: str, payload: dict[str, Any]) -> None:
    settings = get_settings()
    if not settings.smtp_url:
        raise ConfigurationError("e-mail notifications need FLOWDECK_SMTP_URL (smtp://host:port)")
    url = urlsplit(settings.smtp_url)
    message = EmailMessage()
    message["From"], message["To"] = settings.smtp_from, to
    message["Subject"] = f"flowdeck: {payload['flow']} {payload['event']}" + (
        f" at step {payload['step']}" if payload["step"] else ""
    )
    lines = [f"{k}: {v}" for k, v in payload.items() if v is not None]
    message.set_content("\n".join(lines) + "\n")
    smtp_cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with smtp_cls(url.hostname or "localhost", url.port or (465 if url.scheme == "smtps" else 25), timeout=30) as smtp:
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)


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
