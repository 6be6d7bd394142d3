"""Users and their roles and groups.

In the library the ``user`` argument is trusted (the caller is the platform or the flow writer's own
script); the server authenticates people and passes the authenticated name on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace

from flowdeck.errors import AlreadyExistsError, NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records import web as web_records

__all__ = [
    "ROLES",
    "Principal",
    "acting_as",
    "add_user",
    "check_name",
    "list_users",
    "lowered_to",
    "resolve_principal",
    "update_user",
]

ROLES = ("user", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user name with the role and groups that decide what they may see."""

    name: str
    role: str = "user"
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        """Admins see and manage everything."""
        return self.role == "admin"


#: The principal an action or callback is carried out for, in this thread (see :func:`acting_as`).
_acting: ContextVar[Principal | None] = ContextVar("flowdeck_acting_principal", default=None)


@contextlib.contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    """Within the block, looking ``principal.name`` up gives ``principal`` as it is.

    An action (a step, a callback) started through the server is carried out for the principal the
    server authenticated, whose role an API token may have lowered: the flow's own code, which makes
    its ``StoreInterface`` from the user's name, then gets that lowered role too, not the stored one.
    """
    token = _acting.set(principal)
    try:
        yield
    finally:
        _acting.reset(token)


def lowered_to(principal: Principal, role: str | None) -> Principal:
    """``principal`` with its role lowered to ``role`` when that is lower (None: unchanged); never raised."""
    if role is None or role == principal.role or role not in ROLES:
        return principal
    if ROLES.index(role) < ROLES.index(principal.role):
        return replace(principal, role=role)
    return principal


def _acting_for(user: str) -> Principal | None:
    acting = _acting.get()
    return acting if acting is not None and acting.name == user else None


def check_name(name: object, what: str = "user") -> str:
    """``name`` when it is a usable user or group name (non-empty, at most 200 characters); else ``ValidationError``."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"a {what} name must be a non-empty string, got {name!r}")
    if len(name) > 200:
        raise ValidationError(f"{what} name {name[:40]!r}... is longer than 200 characters")
    return name


def _group_names(groups: str | Iterable[str] | None) -> list[str]:
    """The checked names of ``groups``; a single string is one group name (as when sharing), not its letters."""
    items = [groups] if isinstance(groups, str) else list(groups or [])
    return [check_name(g, "group") for g in items]


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; use one of {list(ROLES)}")
    return role


def add_user(
    name: str, groups: Iterable[str] | None = None, role: str = "user", *, password: str | None = None
) -> Principal:
    """Create a user with ``role`` (``"user"`` or ``"admin"``) and ``groups``.

    Raises ``AlreadyExistsError`` when the name is taken; change an existing user with
    :func:`update_user`. ``password`` (optional) is stored as an argon2 hash for the web UI.
    """
    check_name(name)
    _check_role(role)
    group_list = _group_names(groups)
    password_hash = _hash_password(password) if password is not None else None
    storage = get_storage()
    with storage.db.write() as conn:
        if not user_records.insert_user(conn, name, role):
            raise AlreadyExistsError(
                f"user {name!r} exists already; use flowdeck.update_user({name!r}, ...) to change it"
            )
        user_records.set_groups(conn, name, group_list)
        if password_hash is not None:
            user_records.set_password_hash(conn, name, password_hash)
    return Principal(name, role, tuple(sorted(set(group_list))))


def update_user(
    name: str, *, groups: Iterable[str] | None = None, role: str | None = None, password: str | None = None
) -> Principal:
    """Change an existing user's groups, role or password; arguments left None stay as they are.

    Setting a password ends every web session of the user and revokes their API tokens.
    """
    check_name(name)
    if role is not None:
        _check_role(role)
    password_hash = _hash_password(password) if password is not None else None
    storage = get_storage()
    with storage.db.write() as conn:
        row = user_records.get_user(conn, name)
        if row is None:
            raise NotFoundError(f"no user {name!r}; create it with flowdeck.add_user({name!r})")
        if role is not None:
            user_records.set_role(conn, name, role)
        if groups is not None:
            user_records.set_groups(conn, name, _group_names(groups))
        if password_hash is not None:
            user_records.set_password_hash(conn, name, password_hash)
            # A new password ends every session and token made with the old one.
            web_records.delete_user_credentials(conn, name)
        return Principal(name, role or row.role, tuple(user_records.groups_of(conn, name)))


def list_users() -> list[Principal]:
    """Every user of the deployment, by name."""
    with get_storage().db.read() as conn:
        return [Principal(r.name, r.role, tuple(g)) for r, g in user_records.list_users(conn)]


def peek_principal(user: str | None) -> Principal:
    """The principal ``resolve_principal`` would return, without registering a first-seen name."""
    if user is None:
        return resolve_principal(None)
    check_name(user)
    acting = _acting_for(user)
    if acting is not None:
        return acting
    with get_storage().db.read() as conn:
        found = user_records.get_user_with_groups(conn, user)
        if found is not None:
            return Principal(found[0].name, found[0].role, tuple(found[1]))
    return Principal(user, "user", ())


def resolve_principal(user: str | Principal | None) -> Principal:
    """The principal for ``user``, registering a name seen for the first time with role ``user``.

    ``user=None`` is allowed only while the deployment has at most one user (then it is that user,
    or ``"local"`` on a fresh deployment). A :class:`Principal` is returned as it is: the server
    passes the one it authenticated, whose role an API token may have lowered (an admin's token
    without the ``admin`` scope acts as a plain user), so that looking the name up again cannot
    raise it. So is the principal of the action being carried out in this thread (see
    :func:`acting_as`), when ``user`` is its name.
    """
    if isinstance(user, Principal):
        return user
    acting = None if user is None else _acting_for(user)
    if acting is not None:
        return acting
    storage = get_storage()
    if user is None:
        with storage.db.read() as conn:
            only = user_records.only_user(conn)
            count = user_records.count_users(conn) if only is None else 1
        if only is None and count > 1:
            raise ValidationError(
                "this deployment has several users: say who is asking (--user NAME on the command line, "
                "user=... from Python)"
            )
        user = only or "local"
    check_name(user)
    with storage.db.read() as conn:
        found = user_records.get_user_with_groups(conn, user)
        if found is not None:
            return Principal(found[0].name, found[0].role, tuple(found[1]))
    with storage.db.write() as conn:
        user_records.ensure_user(conn, user)
    return Principal(user, "user", ())


def _hash_password(password: str) -> str:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ValidationError("passwords need the server extra: pip install 'flowdeck[server]'") from exc
    if len(password) < 8:
        raise ValidationError("a password needs at least 8 characters")
    return PasswordHasher().hash(password)
