"""Registered flows (by name) and what started each run."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import registered_flows, run_origins

__all__ = [
    "delete_flow",
    "get_flow",
    "list_flows",
    "origins_of",
    "put_flow",
    "set_origin",
]


def put_flow(conn: Connection, name: str, ref: str, description: str | None, registered_by: str | None) -> bool:
    """Register ``name`` → ``ref`` (replacing an earlier registration); True when it is new."""
    now = utcnow()
    values = {"ref": ref, "description": description, "registered_by": registered_by, "updated_at": now}
    if insert_ignoring_duplicate(conn, registered_flows, {"name": name, "created_at": now, **values}):
        return True
    conn.execute(sa.update(registered_flows).where(registered_flows.c.name == name).values(**values))
    return False


def get_flow(conn: Connection, name: str) -> Row | None:
    """The registration of ``name``, or None."""
    return conn.execute(sa.select(registered_flows).where(registered_flows.c.name == name)).first()


def list_flows(conn: Connection) -> list[Row]:
    """Every registration, by name."""
    return list(conn.execute(sa.select(registered_flows).order_by(registered_flows.c.name)))


def delete_flow(conn: Connection, name: str) -> bool:
    """Forget ``name``; True when it was registered."""
    return conn.execute(sa.delete(registered_flows).where(registered_flows.c.name == name)).rowcount > 0


def set_origin(conn: Connection, run_id: str, started_by: str) -> None:
    """Record who or what started a run (the first record wins)."""
    insert_ignoring_duplicate(conn, run_origins, {"run_id": run_id, "started_by": started_by, "created_at": utcnow()})


def origins_of(conn: Connection, run_ids: list[str]) -> dict[str, str]:
    """``run_id → started_by`` for those of ``run_ids`` that have a record."""
    if not run_ids:
        return {}
    rows = conn.execute(
        sa.select(run_origins.c.run_id, run_origins.c.started_by).where(run_origins.c.run_id.in_(run_ids))
    )
    return {row.run_id: row.started_by for row in rows}
