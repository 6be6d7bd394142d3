"""Web sessions and API tokens of the server. Only hashes of the secrets are stored."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.storage.schema import api_tokens, users, web_sessions

__all__ = [
    "delete_expired_sessions",
    "delete_session",
    "delete_token",
    "find_session",
    "find_token",
    "insert_session",
    "insert_token",
    "list_tokens",
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


def insert_token(conn: Connection, token_id: str, user_name: str, token_hash: str, label: str | None) -> None:
    """Record a new API token of ``user_name``."""
    conn.execute(
        sa.insert(api_tokens).values(
            id=token_id,
            user_name=user_name,
            token_hash=token_hash,
            label=label,
            created_at=utcnow(),
            last_used_at=None,
        )
    )


def find_token(conn: Connection, token_hash: str) -> Row | None:
    """The token with this hash joined with its user's role (``id``, ``user_name``, ``role``), or None."""
    return conn.execute(
        sa.select(api_tokens.c.id, api_tokens.c.user_name, api_tokens.c.last_used_at, users.c.role)
        .join(users, users.c.name == api_tokens.c.user_name)
        .where(api_tokens.c.token_hash == token_hash)
    ).first()


def touch_token(conn: Connection, token_id: str) -> None:
    """Record that a token was used now."""
    conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=utcnow()))


def list_tokens(conn: Connection, user_name: str) -> list[Row]:
    """A user's tokens (without their hashes), oldest first."""
    return conn.execute(
        sa.select(api_tokens.c.id, api_tokens.c.label, api_tokens.c.created_at, api_tokens.c.last_used_at)
        .where(api_tokens.c.user_name == user_name)
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    ).all()


def delete_token(conn: Connection, token_id: str, user_name: str) -> bool:
    """Revoke a token of ``user_name``; False when the user has no such token."""
    result = conn.execute(sa.delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_name == user_name))
    return bool(result.rowcount)
