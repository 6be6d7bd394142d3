"""Accounts on the server: password checks, cookie sessions with CSRF tokens, and API tokens.

A session id and an API token are random secrets handed to the client once; the database keeps
only their SHA-256 hashes, so a leaked database does not let anyone in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from flowdeck.auth.users import Principal
from flowdeck.errors import FlowdeckError, NotFoundError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records import web as web_records
from flowdeck.storage.records._util import as_utc, utcnow

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "AuthError",
    "Identity",
    "authenticate",
    "create_token",
    "end_session",
    "identify",
    "list_tokens",
    "revoke_token",
    "start_session",
]

SESSION_COOKIE = "flowdeck_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = dt.timedelta(days=7)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DUMMY_HASH: str | None = None


class AuthError(FlowdeckError):
    """The request is not authenticated (401) or fails the CSRF check (403, ``status=403``)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Identity:
    """Who sent a request and how: ``via`` is ``"session"`` or ``"token"``."""

    principal: Principal
    via: str
    csrf_token: str | None = None
    session_hash: str | None = None


def _hash(secret: str) -> str:
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
        web_records.insert_session(conn, _hash(session_id), principal.name, csrf_token, expires_at)
    return session_id, csrf_token, expires_at


def end_session(identity: Identity) -> None:
    """Close the session a request came with (nothing to do for API tokens)."""
    if identity.session_hash is not None:
        _forget("s:" + identity.session_hash)
        with get_storage().db.write() as conn:
            web_records.delete_session(conn, identity.session_hash)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("the Authorization header must be 'Bearer <API token>'")
    return value.strip()


# Recently checked credentials, so busy clients cost one database read every few seconds instead
# of one per request. Logging out and revoking clear entries at once in this process; other server
# processes notice within CACHE_SECONDS.
CACHE_SECONDS = 5.0
_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, Identity]] = {}


def _cached(key: str) -> Identity | None:
    with _cache_lock:
        hit = _cache.get(key)
    if hit is None or hit[0] < time.monotonic():
        return None
    return hit[1]


def _remember(key: str, identity: Identity) -> Identity:
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (time.monotonic() + CACHE_SECONDS, identity)
    return identity


def _forget(key: str | None = None) -> None:
    with _cache_lock:
        if key is None:
            _cache.clear()
        else:
            _cache.pop(key, None)


def _check_csrf(request: Request, identity: Identity) -> Identity:
    if identity.via == "session" and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), (identity.csrf_token or "").encode()):
            raise AuthError(
                f"missing or wrong {CSRF_HEADER} header: send the csrf_token from GET /api/me", status=403
            )
    return identity


def identify(request: Request) -> Identity:
    """Authenticate a request by its bearer API token or its session cookie.

    A state-changing request made with a session cookie must carry the session's CSRF token in
    the ``X-CSRF-Token`` header; API tokens are not sent by browsers on their own, so they skip it.
    """
    token = _bearer(request)
    if token is not None:
        key = "t:" + _hash(token)
        hit = _cached(key)
        if hit is not None:
            return hit
        with get_storage().db.read() as conn:
            row = web_records.find_token(conn, _hash(token))
            groups = tuple(user_records.groups_of(conn, row.user_name)) if row is not None else ()
        if row is None:
            raise AuthError("unknown or revoked API token; create one with `flowdeck users token NAME`")
        last = as_utc(row.last_used_at)
        if last is None or utcnow() - last > dt.timedelta(minutes=1):
            with get_storage().db.write() as conn:  # at most once a minute: tokens drive busy scripts
                web_records.touch_token(conn, row.id)
        return _remember(key, Identity(Principal(row.user_name, row.role, groups), "token"))
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise AuthError("not logged in: log in at /login or send 'Authorization: Bearer <API token>'")
    id_hash = _hash(session_id)
    hit = _cached("s:" + id_hash)
    if hit is not None:
        return _check_csrf(request, hit)
    with get_storage().db.read() as conn:
        row = web_records.find_session(conn, id_hash)
        groups = tuple(user_records.groups_of(conn, row.user_name)) if row is not None else ()
    if row is None:
        raise AuthError("your session has expired or ended; log in again at /login")
    identity = Identity(Principal(row.user_name, row.role, groups), "session", row.csrf_token, id_hash)
    return _check_csrf(request, _remember("s:" + id_hash, identity))


def create_token(principal: Principal, label: str | None = None) -> tuple[str, str]:
    """Mint an API token for ``principal``; returns (token id, the token, shown only now)."""
    token_id = secrets.token_hex(8)
    token = f"fdt_{secrets.token_urlsafe(32)}"
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, principal.name)
        web_records.insert_token(conn, token_id, principal.name, _hash(token), label)
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
    _forget()
