"""Live notices of runs (a callback changed a page, a comment was added): rows the event pollers read."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import run_notices

__all__ = ["insert_notice", "last_notice_id", "notices_after", "prune_notices"]


def insert_notice(conn: Connection, run_id: str, kind: str, payload: str) -> int:
    """Record one notice of a run; returns its id (ids grow with time)."""
    result = conn.execute(sa.insert(run_notices).values(run_id=run_id, kind=kind, payload=payload, created_at=utcnow()))
    return int(result.inserted_primary_key[0])


def prune_notices(conn: Connection, run_id: str | None, older_than: dt.datetime) -> None:
    """Delete the notices (of one run, or of all with None) recorded before ``older_than``."""
    query = sa.delete(run_notices).where(run_notices.c.created_at < older_than)
    if run_id is not None:
        query = query.where(run_notices.c.run_id == run_id)
    conn.execute(query)


def notices_after(conn: Connection, cursors: dict[str, int], limit: int = 1000) -> list[Row]:
    """Notices of each run in ``cursors`` with an id above that run's cursor, oldest first."""
    if not cursors:
        return []
    return conn.execute(
        sa.select(run_notices)
        .where(
            sa.or_(
                *[
                    sa.and_(run_notices.c.run_id == run_id, run_notices.c.id > cursor)
                    for run_id, cursor in cursors.items()
                ]
            )
        )
        .order_by(run_notices.c.id)
        .limit(limit)
    ).all()


def last_notice_id(conn: Connection, run_id: str) -> int:
    """The id of the run's newest notice (0 when it has none)."""
    value = conn.execute(sa.select(sa.func.max(run_notices.c.id)).where(run_notices.c.run_id == run_id)).scalar()
    return int(value or 0)
