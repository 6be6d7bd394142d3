"""Who may view, act on and manage runs, assets and connections: the one place the rules live.

- **manage** (share, unshare, delete, overwrite, change): the resource's owner or an admin.
- **view** (see it in lists, read it): whoever may manage it, and the users and groups it is
  shared with.
- **act** (continue a run, load an asset's object, use a connection): the same people as view;
  sharing grants using, never managing.

To anyone else a resource does not exist: services raise ``NotFoundError`` with the same words
as for an unknown id, so existence does not leak. A shared user who tries to manage gets
``AccessError``.

Shares live in one table (``storage.records.shares``) keyed by resource kind: a run by its id, an
asset by its lineage id (sharing covers every version), a connection by its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import Connection

from flowdeck.auth import quotas
from flowdeck.auth.users import Principal, check_name
from flowdeck.errors import AccessError, NotFoundError
from flowdeck.storage.records import shares as share_records
from flowdeck.storage.records import users as user_records

__all__ = [
    "Resource",
    "ResourceKind",
    "audience",
    "can_act",
    "can_manage",
    "can_view",
    "require_manage",
    "share",
    "shares_of",
    "unshare",
]

ResourceKind = Literal["run", "asset", "connection"]


@dataclass(frozen=True)
class Resource:
    """What access is asked for: its kind, the id shares are keyed by, its owner and how to name it."""

    kind: ResourceKind
    id: str
    owner: str
    label: str

    def __str__(self) -> str:
        return self.label


def audience(who: Principal) -> share_records.Audience:
    """The principal as the storage layer filters listings by (admins see everything)."""
    return share_records.Audience(who.name, tuple(who.groups), who.is_admin)


def can_manage(who: Principal, resource: Resource) -> bool:
    """Whether ``who`` may share, unshare, delete or change the resource: its owner or an admin."""
    return who.is_admin or resource.owner == who.name


def can_view(conn: Connection, who: Principal, resource: Resource) -> bool:
    """Whether ``who`` may see the resource: a manager, or someone it is shared with (or their group)."""
    return can_manage(who, resource) or share_records.is_shared_with(conn, resource.kind, resource.id, audience(who))


def can_act(conn: Connection, who: Principal, resource: Resource) -> bool:
    """Whether ``who`` may use the resource (continue a run, load an asset, query a connection)."""
    return can_view(conn, who, resource)


def require_manage(who: Principal, resource: Resource, action: str) -> None:
    """``AccessError`` unless ``who`` may manage the resource (call after checking they may view it)."""
    if not can_manage(who, resource):
        raise AccessError(
            f"user {who.name!r} may not {action} {resource}: only its owner {resource.owner!r} or an admin may"
        )


def _names(values: str | Iterable[str] | None, what: str) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [check_name(item, what) for item in items]


def _known(conn: Connection, users: list[str]) -> None:
    """``NotFoundError`` for a user the deployment does not have: sharing creates nobody."""
    for name in users:
        if user_records.get_user(conn, name) is None:
            raise NotFoundError(
                f"no user {name!r}: a resource can be shared only with an existing user; "
                f"check the name, or create the user first (flowdeck users add {name})"
            )


def share(
    conn: Connection,
    who: Principal,
    resource: Resource,
    users: str | Iterable[str] | None = None,
    groups: str | Iterable[str] | None = None,
    *,
    register_users: bool = False,
) -> None:
    """Share the resource with ``users`` and ``groups`` (``who`` must manage it).

    A user name the deployment does not know is a ``NotFoundError`` unless ``register_users``
    (the library's trusted callers, whose ``user=`` names are registered on first use, too). A
    group needs no members yet: sharing with it lets whoever joins it later in.
    """
    user_names, group_names = _names(users, "user"), _names(groups, "group")
    require_manage(who, resource, "share")
    if register_users:
        for name in user_names:
            user_records.ensure_user(conn, name)
    else:
        _known(conn, user_names)
    added = 0
    for name in user_names:
        added += share_records.add_share(conn, resource.kind, resource.id, "user", name)
    for group in group_names:
        added += share_records.add_share(conn, resource.kind, resource.id, "group", group)
    quotas.require_share_quota(conn, resource.kind, resource.id, resource.owner, resource.label, added)


def unshare(
    conn: Connection,
    who: Principal,
    resource: Resource,
    users: str | Iterable[str] | None = None,
    groups: str | Iterable[str] | None = None,
) -> None:
    """Stop sharing the resource with ``users`` and ``groups`` (``who`` must manage it).

    Revoking a share that does not exist is a no-op, so a revocation can be repeated safely. A
    user who can still see the resource through one of their groups keeps seeing it until that
    group's share is revoked too.
    """
    user_names, group_names = _names(users, "user"), _names(groups, "group")
    require_manage(who, resource, "unshare")
    for name in user_names:
        share_records.remove_share(conn, resource.kind, resource.id, "user", name)
    for group in group_names:
        share_records.remove_share(conn, resource.kind, resource.id, "group", group)


def shares_of(conn: Connection, resource: Resource) -> list[tuple[str, str]]:
    """(``user``/``group``, name) pairs the resource is shared with, sorted."""
    return share_records.shares_of(conn, resource.kind, resource.id)
