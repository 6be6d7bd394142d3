"""Web sessions, API tokens and login throttling of the server. Only hashes of the secrets are stored."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.storage.schema import api_tokens, login_throttle, users, web_sessions

__all__ = [
    "clear_throttle",
    "delete_expired_sessions",
    "delete_session",
    "delete_token",
    "delete_user_credentials",
    "find_session",
    "find_throttles",
    "find_token",
    "insert_session",
    "insert_token",
    "list_tokens",
    "mark_known",
    "record_login_failure",
    "throttle_locked_until",
    "touch_token",
]


def insert_session(conn: Connection, id_hash: str, user_name: str, csrf_token: str, expires_at: dt.datetime) -> None:
    """Record a new web session of ``user_name``."""
    conn.execute(
        sa.insert(web_sessions).values(
            id_hash=id_hash,
            user_name=user_name,
            csrf_token=csrf_token,
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )


def find_session(conn: Connection, id_hash: str) -> Row | None:
    """The unexpired session with this hash joined with its user's role, or None.

    The row has ``user_name``, ``csrf_token``, ``expires_at`` and ``role``.
    """
    row = conn.execute(
        sa.select(web_sessions.c.user_name, web_sessions.c.csrf_token, web_sessions.c.expires_at, users.c.role)
        .join(users, users.c.name == web_sessions.c.user_name)
        .where(web_sessions.c.id_hash == id_hash)
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return row


def delete_session(conn: Connection, id_hash: str) -> None:
    """End a session."""
    conn.execute(sa.delete(web_sessions).where(web_sessions.c.id_hash == id_hash))


def delete_expired_sessions(conn: Connection) -> int:
    """Remove sessions past their expiry; returns how many went."""
    result = conn.execute(sa.delete(web_sessions).where(web_sessions.c.expires_at <= utcnow()))
    return int(result.rowcount or 0)


def insert_token(
    conn: Connection, token_id: str, user_name: str, token_hash: str, label: str | None, scopes: str
) -> None:
    """Record a new API token of ``user_name`` with ``scopes`` (comma-separated)."""
    conn.execute(
        sa.insert(api_tokens).values(
            id=token_id,
            user_name=user_name,
            token_hash=token_hash,
            label=label,
            created_at=utcnow(),
            last_used_at=None,
            scopes=scopes,
        )
    )


def find_token(conn: Connection, token_hash: str) -> Row | None:
    """The token with this hash joined with its user's role (``id``, ``user_name``, ``scopes``, ``role``), or None."""
    return conn.execute(
        sa.select(api_tokens.c.id, api_tokens.c.user_name, api_tokens.c.last_used_at, api_tokens.c.scopes, users.c.role)
        .join(users, users.c.name == api_tokens.c.user_name)
        .where(api_tokens.c.token_hash == token_hash)
    ).first()


def touch_token(conn: Connection, token_id: str) -> None:
    """Record that a token was used now."""
    conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=utcnow()))


def list_tokens(conn: Connection, user_name: str) -> list[Row]:
    """A user's tokens (without their hashes), oldest first."""
    return conn.execute(
        sa.select(
            api_tokens.c.id, api_tokens.c.label, api_tokens.c.created_at, api_tokens.c.last_used_at, api_tokens.c.scopes
        )
        .where(api_tokens.c.user_name == user_name)
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    ).all()


def delete_token(conn: Connection, token_id: str, user_name: str) -> bool:
    """Revoke a token of ``user_name``; False when the user has no such token."""
    result = conn.execute(sa.delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_name == user_name))
    return bool(result.rowcount)


def delete_user_credentials(conn: Connection, user_name: str, *, tokens: bool = True) -> None:
    """End every session of ``user_name`` and, with ``tokens``, revoke every API token."""
    conn.execute(sa.delete(web_sessions).where(web_sessions.c.user_name == user_name))
    if tokens:
        conn.execute(sa.delete(api_tokens).where(api_tokens.c.user_name == user_name))


def find_throttles(conn: Connection, keys: list[str]) -> dict[str, Row]:
    """The throttle rows (``key``, ``failures``, ``last_at``, ``locked_until``) of ``keys`` that exist."""
    rows = conn.execute(sa.select(login_throttle).where(login_throttle.c.key.in_(keys))).all()
    return {row.key: row for row in rows}


def _upsert(conn: Connection, key: str, now: dt.datetime, *, count: bool) -> None:
    """Create ``key`` or refresh its time, adding one failure when ``count`` (atomic across processes)."""
    values = {"key": key, "failures": 1 if count else 0, "last_at": now, "locked_until": None}
    failures = login_throttle.c.failures + 1 if count else login_throttle.c.failures
    if conn.dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        conn.execute(
            mysql_insert(login_throttle).values(**values).on_duplicate_key_update(failures=failures, last_at=now)
        )
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(
        insert(login_throttle)
        .values(**values)
        .on_conflict_do_update(index_elements=[login_throttle.c.key], set_={"failures": failures, "last_at": now})
    )


def record_login_failure(
    conn: Connection, key: str, free: int, max_lock: dt.timedelta, forget_after: dt.timedelta = dt.timedelta(days=1)
) -> dt.datetime | None:
    """Count a failed login against ``key``; returns until when ``key`` is locked (None: not locked).

    The first ``free`` failures cost nothing; each further one locks the key for twice as long as
    the one before (1 s, 2 s, 4 s, ...), never longer than ``max_lock``. A key without failures
    for ``forget_after`` starts again from zero.
    """
    now = utcnow()
    conn.execute(
        sa.update(login_throttle)
        .where(login_throttle.c.key == key, login_throttle.c.last_at < now - forget_after)
        .values(failures=0, locked_until=None)
    )
    _upsert(conn, key, now, count=True)
    failures = conn.execute(sa.select(login_throttle.c.failures).where(login_throttle.c.key == key)).scalar_one()
    if failures < free:
        return None
    seconds = min(max_lock.total_seconds(), 2.0 ** min(failures - free, 40))
    until = now + dt.timedelta(seconds=seconds)
    conn.execute(sa.update(login_throttle).where(login_throttle.c.key == key).values(locked_until=until))
    return until


def clear_throttle(conn: Connection, key: str) -> None:
    """Forget the failures counted against ``key`` (after a successful login)."""
    conn.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))


def mark_known(conn: Connection, key: str) -> None:
    """Record that a user logged in from an address (``key`` is ``k:<address> <name>``)."""
    _upsert(conn, key, utcnow(), count=False)


def throttle_locked_until(row: Row | None) -> dt.datetime | None:
    """When the throttle row's lock ends, if it is locked now; else None."""
    if row is None or row.locked_until is None:
        return None
    until = as_utc(row.locked_until)
    return until if until > utcnow() else None
