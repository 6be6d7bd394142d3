"""How many of each thing a user owns: one COUNT each, for the per-user quotas, and the lock that
makes each count exact.

Each count runs inside the caller's write transaction, right before (or, for shares, right after)
the insert it guards, and uses an index: ``runs.owner``, the ``(owner, ...)`` unique key of
asset lineages with the ``(lineage_id, version)`` key of their versions, the ``(owner, name)`` key
of connections, the ``user_name`` index of API tokens and the primary key of shares.

Before counting, the caller takes :func:`lock_quota` for the quota and its owner (or, for shares,
the resource). It lasts until the transaction ends, so two creations by one owner count one after
the other and the second sees the first's row: a quota is exact on every backend. On SQLite there
is nothing to take (write transactions run one at a time already). On PostgreSQL it is a
transaction-level advisory lock; on MySQL/MariaDB a user-level lock (``GET_LOCK``), which belongs
to the session and is released when the connection goes back to the pool
(:class:`~flowdeck.storage.database.Database` does it, right after the commit or rollback). Both
servers run transactions at READ COMMITTED (see ``Database``), so the COUNT, made after the lock,
sees every row committed before it.
"""

from __future__ import annotations

import sqlalchemy as sa
import xxhash
from sqlalchemy.engine import Connection

from flowdeck.storage.database import HOLDS_SESSION_LOCKS
from flowdeck.storage.schema import api_tokens, asset_lineages, assets, connections, runs, shares

__all__ = [
    "count_asset_versions",
    "count_connections",
    "count_runs",
    "count_shares",
    "count_tokens",
    "lock_quota",
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


# lock_timeout bounds the wait, then goes back to what it was for the rest of the transaction, in
# one statement: each (materialized) CTE reads the one before it, so they run in this order.
_PG_LOCK = sa.text(
    """
    WITH previous AS MATERIALIZED (SELECT current_setting('lock_timeout') AS value),
         bounded AS MATERIALIZED (SELECT set_config('lock_timeout', :b_timeout, true) FROM previous),
         locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(:b_key) FROM bounded)
    SELECT set_config('lock_timeout', previous.value, true) FROM previous, locked
    """
)
_MYSQL_LOCK = sa.text("SELECT GET_LOCK(:b_name, :b_timeout)")
_PG_LOCK_NOT_AVAILABLE = "55P03"


def lock_quota(conn: Connection, quota: str, subject: str, timeout: float) -> bool:
    """Wait until no other transaction holds the lock of ``quota`` for ``subject``, then hold it
    until ``conn``'s transaction ends; False when ``timeout`` seconds went by first.

    ``subject`` is the owner (or, for shares, ``"kind:id"`` of the resource). Take it before the
    COUNT of that quota. After False the transaction must end (on PostgreSQL it is aborted). On
    SQLite it returns True at once without a statement: writers take turns there already.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        digest = xxhash.xxh3_64_intdigest(f"flowdeck quota\0{quota}\0{subject}".encode())
        key = digest - (1 << 64) if digest >= 1 << 63 else digest  # bigint is signed
        try:
            conn.execute(_PG_LOCK, {"b_key": key, "b_timeout": f"{max(1, round(timeout * 1000))}ms"})
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
                return False
            raise
        return True
    if dialect in ("mysql", "mariadb"):
        # User-level locks are server-wide: the database's name keeps two deployments on one server
        # apart. A lock's name is at most 64 characters, hence the hash.
        digest = xxhash.xxh3_128_hexdigest(f"{conn.engine.url.database}\0{quota}\0{subject}".encode())
        conn.info[HOLDS_SESSION_LOCKS] = True  # before GET_LOCK: its answer can be lost after it locked
        return conn.execute(_MYSQL_LOCK, {"b_name": f"flowdeck_quota_{digest}", "b_timeout": timeout}).scalar() == 1
    return True
