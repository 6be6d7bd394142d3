"""Accounts: password checks, sessions and API tokens (the service behind the server's login).

A session id and an API token are random secrets handed to the client once; the database keeps
only their SHA-256 hashes, so a leaked database does not let anyone in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flowdeck.auth.users import Principal
from flowdeck.errors import FlowdeckError, NotFoundError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records import web as web_records
from flowdeck.storage.records._util import as_utc, utcnow

__all__ = [
    "SESSION_LIFETIME",
    "AuthError",
    "Session",
    "authenticate",
    "create_token",
    "end_session",
    "find_session",
    "find_token",
    "hash_secret",
    "list_tokens",
    "revoke_token",
    "start_session",
]

SESSION_LIFETIME = dt.timedelta(days=7)
#: How often a token's ``last_used_at`` is written; tokens drive busy scripts.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)
_DUMMY_HASH: str | None = None


class AuthError(FlowdeckError):
    """Credentials not accepted (401), or a request failing the CSRF check (403, ``status=403``)."""

    def __init__(self, message: str, status: int = 401) -> None:
        """``status`` is the HTTP status the server answers with."""
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Session:
    """An open session: who it is for, its CSRF token, and the hash of its id."""

    principal: Principal
    csrf_token: str
    id_hash: str


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a session id or API token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _password_hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _password_hasher().hash(secrets.token_hex(16))
    return _DUMMY_HASH


def authenticate(name: str, password: str) -> Principal:
    """The user ``name`` if ``password`` matches their stored argon2 hash; ``AuthError`` otherwise.

    Unknown users and users without a password cost the same hash check, so response times do
    not tell which user names exist.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    with get_storage().db.read() as conn:
        row = user_records.get_user(conn, name) if isinstance(name, str) and name else None
        groups = tuple(user_records.groups_of(conn, name)) if row is not None else ()
    stored = row.password_hash if row is not None else None
    hasher = _password_hasher()
    try:
        hasher.verify(stored or _dummy_hash(), password)
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        raise AuthError(
            "wrong user name or password; an admin sets passwords with `flowdeck users update NAME --password`"
        )
    return Principal(row.name, row.role, groups)


def start_session(principal: Principal) -> tuple[str, str, dt.datetime]:
    """Open a session for ``principal``; returns (session id for the cookie, CSRF token, expiry)."""
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = utcnow() + SESSION_LIFETIME
    with get_storage().db.write() as conn:
        web_records.delete_expired_sessions(conn)
        web_records.insert_session(conn, hash_secret(session_id), principal.name, csrf_token, expires_at)
    return session_id, csrf_token, expires_at


def find_session(session_id: str) -> Session:
    """The open session with this id; ``AuthError`` when it expired, ended or never existed."""
    id_hash = hash_secret(session_id)
    with get_storage().db.read() as conn:
        row = web_records.find_session(conn, id_hash)
        groups = tuple(user_records.groups_of(conn, row.user_name)) if row is not None else ()
    if row is None:
        raise AuthError("your session has expired or ended; log in again at /login")
    return Session(Principal(row.user_name, row.role, groups), row.csrf_token, id_hash)


def end_session(id_hash: str) -> None:
    """Close the session whose id hashes to ``id_hash``."""
    with get_storage().db.write() as conn:
        web_records.delete_session(conn, id_hash)


def find_token(token: str) -> Principal:
    """The user an API token acts for (its last use is recorded); ``AuthError`` if unknown or revoked."""
    with get_storage().db.read() as conn:
        row = web_records.find_token(conn, hash_secret(token))
        groups = tuple(user_records.groups_of(conn, row.user_name)) if row is not None else ()
    if row is None:
        raise AuthError("unknown or revoked API token; create one with `flowdeck users token NAME`")
    last = as_utc(row.last_used_at)
    if last is None or utcnow() - last > TOKEN_TOUCH_INTERVAL:
        with get_storage().db.write() as conn:
            web_records.touch_token(conn, row.id)
    return Principal(row.user_name, row.role, groups)


def create_token(principal: Principal, label: str | None = None) -> tuple[str, str]:
    """Mint an API token for ``principal``; returns (token id, the token, shown only now)."""
    token_id = secrets.token_hex(8)
    token = f"fdt_{secrets.token_urlsafe(32)}"
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, principal.name)
        web_records.insert_token(conn, token_id, principal.name, hash_secret(token), label)
    return token_id, token


def list_tokens(principal: Principal) -> list[dict[str, object]]:
    """The API tokens of ``principal`` (ids, labels and times; never the tokens)."""
    with get_storage().db.read() as conn:
        rows = web_records.list_tokens(conn, principal.name)
    return [
        {
            "id": r.id,
            "label": r.label,
            "created_at": as_utc(r.created_at).isoformat(),
            "last_used_at": None if r.last_used_at is None else as_utc(r.last_used_at).isoformat(),
        }
        for r in rows
    ]


def revoke_token(principal: Principal, token_id: str) -> None:
    """Revoke one of ``principal``'s API tokens; ``NotFoundError`` if they have no such token."""
    with get_storage().db.write() as conn:
        if not web_records.delete_token(conn, token_id, principal.name):
            raise NotFoundError(f"user {principal.name!r} has no API token {token_id!r}")
