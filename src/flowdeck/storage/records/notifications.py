"""Notification subscriptions, what was delivered, and the runs whose state they watch."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import notification_deliveries, notifications, runs, smtp_servers, steps

__all__ = [
    "claim_delivery",
    "delete_notification",
    "delete_smtp_server",
    "finish_delivery",
    "get_smtp_server",
    "insert_notification",
    "list_notifications",
    "put_smtp_server",
    "recent_runs",
    "step_of",
]


def insert_notification(conn: Connection, values: dict[str, Any]) -> None:
    """Store a subscription."""
    conn.execute(sa.insert(notifications).values(**values, created_at=utcnow()))


def list_notifications(conn: Connection, owner: str | None = None) -> list[Row]:
    """Every subscription (of ``owner`` when given)."""
    query = sa.select(notifications).order_by(notifications.c.created_at)
    if owner is not None:
        query = query.where(notifications.c.owner == owner)
    return list(conn.execute(query))


def delete_notification(conn: Connection, notification_id: str, owner: str | None) -> bool:
    """Remove a subscription (``owner``'s only, unless None); True when it existed."""
    query = sa.delete(notifications).where(notifications.c.id == notification_id)
    if owner is not None:
        query = query.where(notifications.c.owner == owner)
    return conn.execute(query).rowcount > 0


def recent_runs(conn: Connection, since: dt.datetime, states: list[str]) -> list[Row]:
    """Runs in one of ``states`` that changed since ``since``."""
    query = sa.select(runs).where(runs.c.updated_at >= since, runs.c.state.in_(states))
    return list(conn.execute(query))


def step_of(conn: Connection, run_id: str, state: str, current: str | None) -> Row | None:
    """The step a run's state is about: the failed step, the step awaiting input, or the last step."""
    query = sa.select(steps).where(steps.c.run_id == run_id)
    if state == "failed":
        query = query.where(steps.c.state == "failed")
    elif current is not None:
        query = query.where(steps.c.name == current)
    return conn.execute(query.order_by(steps.c.position.desc())).first()


def claim_delivery(conn: Connection, notification_id: str, run_id: str, event_key: str) -> bool:
    """Record that this event is being told; False when it was told (or is being told) already."""
    return insert_ignoring_duplicate(
        conn,
        notification_deliveries,
        {
            "notification_id": notification_id,
            "run_id": run_id,
            "event_key": event_key[:255],
            "created_at": utcnow(),
            "status": "sending",
        },
    )


def finish_delivery(
    conn: Connection, notification_id: str, run_id: str, event_key: str, status: str, error: str | None
) -> None:
    """Record how a delivery went."""
    conn.execute(
        sa.update(notification_deliveries)
        .where(
            notification_deliveries.c.notification_id == notification_id,
            notification_deliveries.c.run_id == run_id,
            notification_deliveries.c.event_key == event_key[:255],
        )
        .values(status=status, error=error)
    )


def get_smtp_server(conn: Connection, name: str = "default") -> Row | None:
    """The stored SMTP server (its password encrypted), or None."""
    return conn.execute(sa.select(smtp_servers).where(smtp_servers.c.name == name)).first()


def put_smtp_server(conn: Connection, values: dict[str, Any], name: str = "default") -> None:
    """Store (or replace) the SMTP server."""
    values = {**values, "updated_at": utcnow()}
    if get_smtp_server(conn, name) is None:
        conn.execute(sa.insert(smtp_servers).values(name=name, **values))
    else:
        conn.execute(sa.update(smtp_servers).where(smtp_servers.c.name == name).values(**values))


def delete_smtp_server(conn: Connection, name: str = "default") -> bool:
    """Forget the SMTP server; True when one was stored."""
    return conn.execute(sa.delete(smtp_servers).where(smtp_servers.c.name == name)).rowcount > 0
