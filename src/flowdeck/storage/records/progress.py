"""Progress events of step attempts."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import progress_events

__all__ = ["events_after", "insert_event"]


def insert_event(
    conn: Connection,
    run_id: str,
    step_name: str,
    attempt: int,
    completion: float,
    message: str,
    page_update: bool,
) -> int:
    """Record one progress event; returns its id (ids grow with time)."""
    result = conn.execute(
        sa.insert(progress_events).values(
            run_id=run_id,
            step_name=step_name,
            attempt=attempt,
            completion=completion,
            message=message,
            page_update=page_update,
            created_at=utcnow(),
        )
    )
    return int(result.inserted_primary_key[0])


def events_after(conn: Connection, run_id: str, after_id: int = 0, limit: int = 1000) -> list[Row]:
    """Progress events of a run with an id above ``after_id``, oldest first."""
    return conn.execute(
        sa.select(progress_events)
        .where(progress_events.c.run_id == run_id, progress_events.c.id > after_id)
        .order_by(progress_events.c.id)
        .limit(limit)
    ).all()
