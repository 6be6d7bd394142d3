"""Stored connections (secrets only as encrypted tokens) and whom they are shared with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records import shares as share_records
from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import connections

__all__ = [
    "all_connections",
    "delete_connection",
    "get_connection",
    "insert_connection",
    "update_secret_params_token",
    "update_secret_token",
    "visible_connections",
]


def insert_connection(conn: Connection, values: dict[str, Any]) -> bool:
    """Create a connection row; False when the owner has one of that name already."""
    now = utcnow()
    return insert_ignoring_duplicate(conn, connections, {**values, "created_at": now, "updated_at": now})


def get_connection(conn: Connection, owner: str, name: str) -> Row | None:
    """The owner's connection called ``name``, or None."""
    return conn.execute(sa.select(connections).where(connections.c.owner == owner, connections.c.name == name)).first()


def visible_connections(conn: Connection, audience: share_records.Audience) -> list[Row]:
    """Connections the audience owns or that are shared with them (all for admins), by owner and name."""
    query = (
        sa.select(connections)
        .where(share_records.visible_clause("connection", audience, connections.c.id, connections.c.owner))
        .order_by(connections.c.owner, connections.c.name)
    )
    return conn.execute(query).all()


def all_connections(conn: Connection) -> list[Row]:
    """Every stored connection."""
    return conn.execute(sa.select(connections)).all()


def update_secret_token(conn: Connection, connection_id: str, token: str | None) -> None:
    """Replace a connection's encrypted secret."""
    conn.execute(
        sa.update(connections).where(connections.c.id == connection_id).values(secret_token=token, updated_at=utcnow())
    )


def delete_connection(conn: Connection, connection_id: str) -> None:
    """Delete a connection and its shares."""
    share_records.delete_shares(conn, "connection", connection_id)
    conn.execute(sa.delete(connections).where(connections.c.id == connection_id))


def update_secret_params_token(conn: Connection, connection_id: str, token: str | None) -> None:
    """Replace a connection's encrypted secret params."""
    conn.execute(
        sa.update(connections)
        .where(connections.c.id == connection_id)
        .values(secret_params_token=token, updated_at=utcnow())
    )
