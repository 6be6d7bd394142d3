"""Who runs, asset lineages and connections are shared with: one table for the three kinds.

A share row is (resource kind, resource id, principal kind, principal): the principal kind is
``user`` or ``group``. The rules built on these rows (who may view, act or manage) live in
``flowdeck.auth.access``; this module only reads and writes the rows and expresses "shared with
this audience" as SQL for listings.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowdeck.storage.records._util import insert_ignoring_duplicate
from flowdeck.storage.schema import shares

__all__ = [
    "PRINCIPAL_KINDS",
    "RESOURCE_KINDS",
    "Audience",
    "add_share",
    "delete_shares",
    "is_shared_with",
    "remove_share",
    "shares_of",
    "visible_clause",
]

RESOURCE_KINDS = ("run", "asset", "connection")
PRINCIPAL_KINDS = ("user", "group")


@dataclass(frozen=True)
class Audience:
    """Who is looking: a user, their groups, and whether they see everything (admins)."""

    user: str
    groups: tuple[str, ...] = ()
    everyone: bool = False


def _check(resource_kind: str) -> None:
    if resource_kind not in RESOURCE_KINDS:  # a programming error, not user input
        raise ValueError(f"unknown resource kind {resource_kind!r}; one of {RESOURCE_KINDS}")


def _principal_match(audience: Audience) -> sa.ColumnElement[bool]:
    cond = sa.and_(shares.c.principal_kind == "user", shares.c.principal == audience.user)
    if audience.groups:
        cond = sa.or_(cond, sa.and_(shares.c.principal_kind == "group", shares.c.principal.in_(list(audience.groups))))
    return cond


def add_share(conn: Connection, resource_kind: str, resource_id: str, principal_kind: str, principal: str) -> bool:
    """Share a resource with a user or group; False when it was shared with them already."""
    _check(resource_kind)
    return insert_ignoring_duplicate(
        conn,
        shares,
        {
            "resource_kind": resource_kind,
            "resource_id": resource_id,
            "principal_kind": principal_kind,
            "principal": principal,
        },
    )


def remove_share(conn: Connection, resource_kind: str, resource_id: str, principal_kind: str, principal: str) -> bool:
    """Stop sharing a resource with a user or group; False when it was not shared with them."""
    _check(resource_kind)
    result = conn.execute(
        sa.delete(shares).where(
            shares.c.resource_kind == resource_kind,
            shares.c.resource_id == resource_id,
            shares.c.principal_kind == principal_kind,
            shares.c.principal == principal,
        )
    )
    return result.rowcount > 0


def delete_shares(conn: Connection, resource_kind: str, resource_id: str) -> None:
    """Remove every share of a resource (when the resource itself goes)."""
    _check(resource_kind)
    conn.execute(sa.delete(shares).where(shares.c.resource_kind == resource_kind, shares.c.resource_id == resource_id))


def shares_of(conn: Connection, resource_kind: str, resource_id: str) -> list[tuple[str, str]]:
    """(principal kind, principal) pairs a resource is shared with, sorted."""
    _check(resource_kind)
    rows = conn.execute(
        sa.select(shares.c.principal_kind, shares.c.principal)
        .where(shares.c.resource_kind == resource_kind, shares.c.resource_id == resource_id)
        .order_by(shares.c.principal_kind, shares.c.principal)
    )
    return [(r[0], r[1]) for r in rows]


def is_shared_with(conn: Connection, resource_kind: str, resource_id: str, audience: Audience) -> bool:
    """Whether the resource is shared with the audience's user or one of its groups."""
    _check(resource_kind)
    row = conn.execute(
        sa.select(shares.c.resource_id)
        .where(
            shares.c.resource_kind == resource_kind,
            shares.c.resource_id == resource_id,
            _principal_match(audience),
        )
        .limit(1)
    ).first()
    return row is not None


def visible_clause(
    resource_kind: str, audience: Audience, id_column: sa.ColumnElement, owner_column: sa.ColumnElement
) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting the resources the audience may see: owned, shared, or all for admins."""
    if audience.everyone:
        return sa.true()
    shared = sa.exists().where(
        shares.c.resource_kind == resource_kind,
        shares.c.resource_id == id_column,
        _principal_match(audience),
    )
    return sa.or_(owner_column == audience.user, shared)
