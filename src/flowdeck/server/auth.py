"""How the server knows who sent a request: session cookies with CSRF tokens, and bearer API tokens.

Passwords, sessions and tokens themselves are the accounts service's (:mod:`flowdeck.auth.accounts`);
this module reads them off requests, checks CSRF, and caches recent answers.
"""

from __future__ import annotations

import datetime as dt
import hmac
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from flowdeck.auth import accounts
from flowdeck.auth.accounts import SESSION_LIFETIME, AuthError
from flowdeck.auth.users import Principal

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "AuthError",
    "Identity",
    "authenticate",
    "change_password",
    "check_scope",
    "create_token",
    "end_everywhere",
    "end_session",
    "identify",
    "identify_cached",
    "list_tokens",
    "revoke_token",
    "start_session",
    "still_valid",
    "still_valid_cached",
]

SESSION_COOKIE = "flowdeck_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Identity:
    """Who sent a request and how: ``via`` is ``"session"`` or ``"token"``.

    ``scopes`` are what the credential allows (a session allows everything its user may do);
    ``key`` names the credential in the cache of recently checked ones.
    """

    principal: Principal
    via: str
    csrf_token: str | None = None
    session_hash: str | None = None
    scopes: frozenset[str] = frozenset(accounts.SCOPES)
    key: str | None = None


def authenticate(name: str, password: str, address: str | None = None) -> Principal:
    """The user ``name`` if ``password`` is theirs; ``AuthError`` otherwise (see the accounts service)."""
    return accounts.authenticate(name, password, address)


def end_everywhere(identity: Identity) -> None:
    """Log the caller's user out everywhere: every session ends and every API token is revoked."""
    accounts.end_all_sessions(identity.principal.name)
    _forget()


def change_password(identity: Identity, current: str, new: str, address: str | None = None) -> None:
    """Change the caller's own password; every session and token of theirs ends (see the accounts service)."""
    accounts.change_password(identity.principal, current, new, address)
    _forget()


def still_valid(identity: Identity) -> bool:
    """Whether the credential ``identity`` came with still works (it was not ended, revoked or expired).

    Answered from memory for credentials checked in the last ``CACHE_SECONDS``.
    """
    if identity.key is None or _cached(identity.key) is not None:
        return True
    kind, _, digest = identity.key.partition(":")
    valid = accounts.session_exists(digest) if kind == "s" else accounts.token_exists(digest)
    if valid:
        _remember(identity.key, identity)
    return valid


def still_valid_cached(identity: Identity) -> bool:
    """True when the credential was checked in the last ``CACHE_SECONDS`` (reads no database)."""
    return identity.key is None or _cached(identity.key) is not None


def start_session(principal: Principal) -> tuple[str, str, dt.datetime]:
    """Open a session for ``principal``; returns (session id for the cookie, CSRF token, expiry)."""
    return accounts.start_session(principal)


def end_session(identity: Identity) -> None:
    """Close the session a request came with (nothing to do for API tokens)."""
    if identity.session_hash is not None:
        _forget("s:" + identity.session_hash)
        accounts.end_session(identity.session_hash)


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
            raise AuthError(f"missing or wrong {CSRF_HEADER} header: send the csrf_token from GET /api/me", status=403)
    return identity


def identify_cached(request: Request) -> Identity | None:
    """:func:`identify` for credentials checked in the last ``CACHE_SECONDS``; None when they were not.

    Reads no database, so it may run on the event loop; errors are those of :func:`identify`.
    """
    token = _bearer(request)
    if token is not None:
        return _cached("t:" + accounts.hash_secret(token))
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise AuthError("not logged in: log in at /login or send 'Authorization: Bearer <API token>'")
    hit = _cached("s:" + accounts.hash_secret(session_id))
    return _check_csrf(request, hit) if hit is not None else None


def identify(request: Request) -> Identity:
    """Authenticate a request by its bearer API token or its session cookie.

    A state-changing request made with a session cookie must carry the session's CSRF token in
    the ``X-CSRF-Token`` header; API tokens are not sent by browsers on their own, so they skip it.
    """
    hit = identify_cached(request)
    if hit is not None:
        return hit
    token = _bearer(request)
    if token is not None:
        key = "t:" + accounts.hash_secret(token)
        grant = accounts.find_token(token)
        return _remember(key, Identity(grant.principal, "token", scopes=grant.scopes, key=key))
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise AuthError("not logged in: log in at /login or send 'Authorization: Bearer <API token>'")
    key = "s:" + accounts.hash_secret(session_id)
    session = accounts.find_session(session_id)
    identity = Identity(session.principal, "session", session.csrf_token, session.id_hash, key=key)
    return _check_csrf(request, _remember(key, identity))


def check_scope(request: Request, identity: Identity) -> Identity:
    """403 unless the credential's scopes allow the request: ``read`` for GET/HEAD/OPTIONS, else ``write``."""
    needed = "read" if request.method in _SAFE_METHODS else "write"
    if needed not in identity.scopes:
        raise AuthError(
            f"this API token lacks the {needed!r} scope (it has {sorted(identity.scopes)}); "
            "create a token with that scope on the Account page",
            status=403,
        )
    return identity


def create_token(principal: Principal, label: str | None = None, scopes: list[str] | None = None) -> tuple[str, str]:
    """Mint an API token for ``principal`` with ``scopes``; returns (token id, the token, shown only now)."""
    return accounts.create_token(principal, label, scopes)


def list_tokens(principal: Principal) -> list[dict[str, object]]:
    """The API tokens of ``principal`` (ids, labels and times; never the tokens)."""
    return accounts.list_tokens(principal)


def revoke_token(principal: Principal, token_id: str) -> None:
    """Revoke one of ``principal``'s API tokens (and forget cached credentials at once)."""
    accounts.revoke_token(principal, token_id)
    _forget()
