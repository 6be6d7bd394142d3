"""Users, groups and their membership."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage import prepared
from flowdeck.storage.prepared import ResultRow
from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import groups, user_groups, users

__all__ = [
    "count_users",
    "ensure_user",
    "get_user",
    "get_user_with_groups",
    "groups_of",
    "insert_user",
    "list_users",
    "only_user",
    "set_groups",
    "set_password_hash",
    "set_role",
]


_GET_USER = sa.select(users).where(users.c.name == sa.bindparam("b_name"))
_GET_USER_WITH_GROUPS = (
    sa.select(users.c.name, users.c.role, user_groups.c.group_name)
    .select_from(users.outerjoin(user_groups, user_groups.c.user_name == users.c.name))
    .where(users.c.name == sa.bindparam("b_name"))
    .order_by(user_groups.c.group_name)
)


def get_user(conn: Connection, name: str) -> ResultRow | None:
    """The user row, or None."""
    return prepared.execute(conn, _GET_USER, {"b_name": name}).first()


def get_user_with_groups(conn: Connection, name: str) -> tuple[ResultRow, list[str]] | None:
    """The user's name and role, and the groups they belong to (sorted), in one query; None when unknown."""
    rows = prepared.execute(conn, _GET_USER_WITH_GROUPS, {"b_name": name}).all()
    if not rows:
        return None
    return rows[0], [r.group_name for r in rows if r.group_name is not None]


def ensure_user(conn: Connection, name: str) -> None:
    """Register ``name`` with role ``user`` if it is new."""
    if get_user(conn, name) is None:
        insert_ignoring_duplicate(conn, users, {"name": name, "role": "user", "created_at": utcnow()})


def insert_user(conn: Connection, name: str, role: str) -> bool:
    """Create a user; False if the name is taken."""
    return insert_ignoring_duplicate(conn, users, {"name": name, "role": role, "created_at": utcnow()})


def set_role(conn: Connection, name: str, role: str) -> None:
    """Change a user's role."""
    conn.execute(sa.update(users).where(users.c.name == name).values(role=role))


def set_password_hash(conn: Connection, name: str, password_hash: str | None) -> None:
    """Store a user's password hash (never the password)."""
    conn.execute(sa.update(users).where(users.c.name == name).values(password_hash=password_hash))


def set_groups(conn: Connection, name: str, group_names: list[str]) -> None:
    """Make ``group_names`` the user's groups, creating groups that are new."""
    for group in group_names:
        insert_ignoring_duplicate(conn, groups, {"name": group, "created_at": utcnow()})
    conn.execute(sa.delete(user_groups).where(user_groups.c.user_name == name))
    if group_names:
        conn.execute(sa.insert(user_groups), [{"user_name": name, "group_name": g} for g in sorted(set(group_names))])


def groups_of(conn: Connection, name: str) -> list[str]:
    """The groups a user belongs to, sorted."""
    rows = conn.execute(
        sa.select(user_groups.c.group_name).where(user_groups.c.user_name == name).order_by("group_name")
    )
    return [r[0] for r in rows]


def list_users(conn: Connection) -> list[tuple[Row, list[str]]]:
    """Every user with their groups, by name."""
    members: dict[str, list[str]] = {}
    for user_name, group_name in conn.execute(sa.select(user_groups.c.user_name, user_groups.c.group_name)):
        members.setdefault(user_name, []).append(group_name)
    rows = conn.execute(sa.select(users).order_by(users.c.name)).all()
    return [(r, sorted(members.get(r.name, []))) for r in rows]


def count_users(conn: Connection) -> int:
    """How many users the deployment has."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def only_user(conn: Connection) -> str | None:
    """The name of the deployment's one user, or None when there are none or several."""
    rows = conn.execute(sa.select(users.c.name).limit(2)).all()
    return rows[0][0] if len(rows) == 1 else None
