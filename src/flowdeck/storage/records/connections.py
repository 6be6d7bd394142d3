"""Stored connections (secrets only as encrypted tokens) and whom they are shared with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import connection_shares, connections

__all__ = [
    "all_connections",
    "delete_connection",
    "get_connection",
    "insert_connection",
    "share_connection",
    "shared_with",
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


def _shared_condition(user: str, user_groups: Sequence[str]) -> Any:
    cond = sa.and_(connection_shares.c.principal_kind == "user", connection_shares.c.principal == user)
    if user_groups:
        cond = sa.or_(
            cond,
            sa.and_(
                connection_shares.c.principal_kind == "group",
                connection_shares.c.principal.in_(list(user_groups)),
            ),
        )
    return cond


def shared_with(conn: Connection, connection_id: str, user: str, user_groups: Sequence[str]) -> bool:
    """Whether the connection is shared with ``user`` or one of ``user_groups``."""
    row = conn.execute(
        sa.select(connection_shares.c.connection_id).where(
            connection_shares.c.connection_id == connection_id, _shared_condition(user, user_groups)
        )
    ).first()
    return row is not None


def visible_connections(conn: Connection, user: str, user_groups: Sequence[str], everyone: bool = False) -> list[Row]:
    """Connections ``user`` owns or that are shared with them (all with ``everyone``), by owner and name."""
    query = sa.select(connections).order_by(connections.c.owner, connections.c.name)
    if not everyone:
        shared = sa.select(connection_shares.c.connection_id).where(_shared_condition(user, user_groups))
        query = query.where(sa.or_(connections.c.owner == user, connections.c.id.in_(shared)))
    return conn.execute(query).all()


def all_connections(conn: Connection) -> list[Row]:
    """Every stored connection."""
    return conn.execute(sa.select(connections)).all()


def share_connection(conn: Connection, connection_id: str, kind: str, principal: str) -> None:
    """Share a connection with a user or a group."""
    insert_ignoring_duplicate(
        conn,
        connection_shares,
        {"connection_id": connection_id, "principal_kind": kind, "principal": principal},
    )


def shares_of(conn: Connection, connection_id: str) -> list[tuple[str, str]]:
    """(kind, principal) pairs a connection is shared with."""
    rows = conn.execute(
        sa.select(connection_shares.c.principal_kind, connection_shares.c.principal)
        .where(connection_shares.c.connection_id == connection_id)
        .order_by(connection_shares.c.principal_kind, connection_shares.c.principal)
    )
    return [(r[0], r[1]) for r in rows]


def update_secret_token(conn: Connection, connection_id: str, token: str | None) -> None:
    """Replace a connection's encrypted secret."""
    conn.execute(
        sa.update(connections).where(connections.c.id == connection_id).values(secret_token=token, updated_at=utcnow())
    )


def delete_connection(conn: Connection, connection_id: str) -> None:
    """Delete a connection and its shares."""
    conn.execute(sa.delete(connection_shares).where(connection_shares.c.connection_id == connection_id))
    conn.execute(sa.delete(connections).where(connections.c.id == connection_id))


def update_secret_params_token(conn: Connection, connection_id: str, token: str | None) -> None:
    """Replace a connection's encrypted secret params."""
    conn.execute(
        sa.update(connections)
        .where(connections.c.id == connection_id)
        .values(secret_params_token=token, updated_at=utcnow())
    )
