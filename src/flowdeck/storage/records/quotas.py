"""How many of each thing a user owns: one COUNT each, for the per-user quotas.

Each count runs inside the caller's write transaction, right before (or, for shares, right after)
the insert it guards, and uses an index: ``runs.owner``, the ``(owner, ...)`` unique key of
asset lineages with the ``(lineage_id, version)`` key of their versions, the ``(owner, name)`` key
of connections, the ``user_name`` index of API tokens and the primary key of shares.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowdeck.storage.schema import api_tokens, asset_lineages, assets, connections, runs, shares

__all__ = [
    "count_asset_versions",
    "count_connections",
    "count_runs",
    "count_shares",
    "count_tokens",
]

_COUNT_RUNS = sa.select(sa.func.count()).select_from(runs).where(runs.c.owner == sa.bindparam("b_owner"))
_COUNT_CONNECTIONS = (
    sa.select(sa.func.count()).select_from(connections).where(connections.c.owner == sa.bindparam("b_owner"))
)
_COUNT_ASSET_VERSIONS = (
    sa.select(sa.func.count())
    .select_from(assets.join(asset_lineages, asset_lineages.c.id == assets.c.lineage_id))
    .where(asset_lineages.c.owner == sa.bindparam("b_owner"))
)
_COUNT_TOKENS = (
    sa.select(sa.func.count()).select_from(api_tokens).where(api_tokens.c.user_name == sa.bindparam("b_owner"))
)
_COUNT_SHARES = (
    sa.select(sa.func.count())
    .select_from(shares)
    .where(shares.c.resource_kind == sa.bindparam("b_kind"), shares.c.resource_id == sa.bindparam("b_id"))
)


def count_runs(conn: Connection, owner: str) -> int:
    """How many runs ``owner`` owns (forks and headless runs included)."""
    return int(conn.execute(_COUNT_RUNS, {"b_owner": owner}).scalar_one())


def count_connections(conn: Connection, owner: str) -> int:
    """How many named connections ``owner`` owns."""
    return int(conn.execute(_COUNT_CONNECTIONS, {"b_owner": owner}).scalar_one())


def count_asset_versions(conn: Connection, owner: str) -> int:
    """How many asset versions ``owner`` owns, over all their lineages."""
    return int(conn.execute(_COUNT_ASSET_VERSIONS, {"b_owner": owner}).scalar_one())


def count_tokens(conn: Connection, owner: str) -> int:
    """How many API tokens ``owner`` has (revoked tokens are deleted, so these are the live ones)."""
    return int(conn.execute(_COUNT_TOKENS, {"b_owner": owner}).scalar_one())


def count_shares(conn: Connection, resource_kind: str, resource_id: str) -> int:
    """How many users and groups a run, asset lineage or connection is shared with."""
    return int(conn.execute(_COUNT_SHARES, {"b_kind": resource_kind, "b_id": resource_id}).scalar_one())
