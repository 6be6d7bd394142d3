"""Small helpers shared by the record modules."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["insert_ignoring_duplicate", "utcnow"]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime read back from any database, as timezone-aware UTC (SQLite drops the zone)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def insert_ignoring_duplicate(conn: Connection, table: sa.Table, values: dict) -> bool:
    """Insert a row unless its key exists already; True when this call inserted it."""
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(table).values(**values))
        return True
    except sa.exc.IntegrityError:
        return False
