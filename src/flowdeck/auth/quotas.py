"""Per-user quotas: how many runs, connections, asset versions and API tokens a user may own, and
how many users and groups one resource may be shared with.

A logged-in user is assumed hostile; without these limits one of them could fill the database.
Each check is one COUNT (``storage.records.quotas``) made inside the write transaction that
creates the thing, so the count and the insert commit together or not at all. The limits are
settings (``max_runs_per_user``, ... ; 0 means no limit). Going over is a
:class:`~flowdeck.errors.QuotaExceededError` (HTTP 422) naming the limit, the count and the fix.

Quotas follow the **owner**: an admin acting for someone (``--as``, ``?owner=``) uses that
person's quota. Things owned by an admin (role ``admin`` as stored) are not limited: admins are
trusted like the operator. The owner's role is read only when the count has reached the limit, so
the common case costs the COUNT alone.

A quota is exact on every backend: before counting, the check takes a lock of that quota and owner
(of that resource, for shares) until the transaction ends (``storage.records.quotas.lock_quota``),
so creations by one owner at the same moment are counted one after the other, each seeing the rows
of those before it. On SQLite write transactions run one at a time anyway. A creation waits at most
:data:`LOCK_TIMEOUT` seconds for the others; past that it is a :class:`QuotaBusyError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from flowdeck.config import get_settings
from flowdeck.errors import QuotaBusyError, QuotaExceededError
from flowdeck.storage.records import quotas as quota_records
from flowdeck.storage.records import users as user_records

__all__ = [
    "LOCK_TIMEOUT",
    "Quota",
    "require_room_for_asset_version",
    "require_room_for_connection",
    "require_room_for_run",
    "require_room_for_token",
    "require_share_quota",
]


#: Seconds a creation waits for the other creations of the same owner (or shares of the same
#: resource) to commit or roll back before it gives up with a :class:`QuotaBusyError`.
LOCK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Quota:
    """One per-user quota: its setting, what it counts (plural) and how a user makes room."""

    setting: str
    things: str
    fix: str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return f"FLOWDECK_{self.setting.upper()}"

    def limit(self) -> int:
        """The configured limit (0: no limit)."""
        return int(getattr(get_settings(), self.setting))


RUNS = Quota(
    "max_runs_per_user",
    "runs",
    "delete runs no longer needed (Delete in the web UI, DELETE /api/runs/{id}, or "
    "flowdeck.delete_run(flow_id, user=...))",
)
CONNECTIONS = Quota(
    "max_connections_per_user",
    "connections",
    "remove connections no longer needed (flowdeck connections remove NAME, DELETE /api/connections/{name})",
)
ASSET_VERSIONS = Quota(
    "max_asset_versions_per_user",
    "asset versions",
    "delete old versions or whole lineages (flowdeck assets delete ID [--all-versions], "
    "DELETE /api/assets/{id}), or save with overwrite=True to replace the newest version in place",
)
TOKENS = Quota(
    "max_tokens_per_user",
    "API tokens",
    "revoke tokens no longer used (the Account page, DELETE /api/tokens/{id}, or flowdeck users logout NAME "
    "to revoke them all)",
)
SHARES = Quota(
    "max_shares_per_resource",
    "shares",
    "unshare it from users or groups who no longer need it (flowdeck unshare / assets unshare / "
    "connections unshare, DELETE .../shares/{user|group}/{name}), or share it with one group instead of "
    "many users",
)


def _owner_is_admin(conn: Connection, owner: str) -> bool:
    row = user_records.get_user(conn, owner)
    return row is not None and row.role == "admin"


def _lock(conn: Connection, quota: Quota, subject: str, busy: str) -> None:
    """Hold ``quota``'s lock for ``subject`` until the transaction ends (before counting)."""
    if not quota_records.lock_quota(conn, quota.setting, subject, LOCK_TIMEOUT):
        raise QuotaBusyError(
            f"{busy} at this moment, and the check of {quota.setting} waited {LOCK_TIMEOUT:g} s for it; "
            "nothing was done: try again"
        )


def _require_room(conn: Connection, quota: Quota, owner: str, count: Callable[[Connection, str], int]) -> None:
    limit = quota.limit()
    if not limit:
        return
    _lock(conn, quota, owner, f"user {owner!r} is creating other {quota.things}")
    current = count(conn, owner)
    if current < limit or _owner_is_admin(conn, owner):
        return
    raise QuotaExceededError(
        f"user {owner!r} has {current:,} {quota.things}, the most their quota allows "
        f"({quota.setting} = {limit:,}); {quota.fix}, or ask the operator to raise {quota.env}",
        setting=quota.setting,
        limit=limit,
        count=current,
    )


def require_room_for_run(conn: Connection, owner: str) -> None:
    """``QuotaExceededError`` unless ``owner`` may own one more run (call before inserting it)."""
    _require_room(conn, RUNS, owner, quota_records.count_runs)


def require_room_for_connection(conn: Connection, owner: str) -> None:
    """``QuotaExceededError`` unless ``owner`` may own one more connection (call before inserting it)."""
    _require_room(conn, CONNECTIONS, owner, quota_records.count_connections)


def require_room_for_asset_version(conn: Connection, owner: str) -> None:
    """``QuotaExceededError`` unless ``owner`` may own one more asset version (call before inserting it).

    Versions are counted, not lineages: every version is a row and usually a blob of its own, and
    one lineage can hold any number of them. Overwriting a version in place adds nothing.
    """
    _require_room(conn, ASSET_VERSIONS, owner, quota_records.count_asset_versions)


def require_room_for_token(conn: Connection, owner: str) -> None:
    """``QuotaExceededError`` unless ``owner`` may have one more API token (call before inserting it)."""
    _require_room(conn, TOKENS, owner, quota_records.count_tokens)


def require_share_quota(
    conn: Connection, resource_kind: str, resource_id: str, owner: str, label: str, added: int
) -> None:
    """``QuotaExceededError`` when the resource is now shared with more users and groups than allowed.

    Called after ``added`` new shares were inserted in ``conn``'s transaction (so names shared
    with already, and names repeated in one request, count once); raising rolls them back.
    """
    limit = SHARES.limit()
    if not limit or not added:
        return
    _lock(conn, SHARES, f"{resource_kind}:{resource_id}", f"{label} is being shared by another request")
    total = quota_records.count_shares(conn, resource_kind, resource_id)
    if total <= limit or _owner_is_admin(conn, owner):
        return
    before = total - added
    raise QuotaExceededError(
        f"{label} is shared with {before:,} users and groups; sharing it with {added:,} more would pass the "
        f"most one {resource_kind} may be shared with ({SHARES.setting} = {limit:,}); {SHARES.fix}, or ask the "
        f"operator to raise {SHARES.env}",
        setting=SHARES.setting,
        limit=limit,
        count=before,
    )
