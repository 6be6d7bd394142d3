"""Callback outcomes handed from the worker that carried a callback out to the process that fired it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import callback_results

__all__ = ["insert_result", "pop_result"]

#: Outcomes nobody collected (the firing process gave up waiting) are dropped after this long.
STALE_AFTER = dt.timedelta(hours=1)


def insert_result(
    conn: Connection,
    token: str,
    run_id: str,
    *,
    outcome: str | None = None,
    error_type: str | None = None,
    error: str | None = None,
    traceback: str | None = None,
) -> None:
    """Keep the outcome (JSON text) or the error of callback ``token`` of run ``run_id``."""
    now = utcnow()
    conn.execute(sa.delete(callback_results).where(callback_results.c.created_at < now - STALE_AFTER))
    conn.execute(
        sa.insert(callback_results).values(
            token=token,
            run_id=run_id,
            outcome=outcome,
            error_type=error_type[:40] if error_type else None,
            error=error,
            traceback=traceback,
            created_at=now,
        )
    )


def pop_result(conn: Connection, token: str) -> Row | None:
    """The result of callback ``token``, removed as it is read; None while there is none."""
    row = conn.execute(sa.select(callback_results).where(callback_results.c.token == token)).first()
    if row is not None:
        conn.execute(sa.delete(callback_results).where(callback_results.c.token == token))
    return row
