"""Accounts: password checks, sessions and API tokens (the service behind the server's login).

A session id and an API token are random secrets handed to the client once; the database keeps
only their SHA-256 hashes, so a leaked database does not let anyone in.

Password guessing is slowed down in the database, so every server process applies the same
limits: after ``login_free_failures`` wrong passwords an account is locked for 1 s, then 2 s,
4 s, ... up to ``login_max_lock_seconds`` (likewise per client address after
``login_address_free_failures``). A lock always ends, and an account lock does not stop a
client address the user has logged in from before, so guessing from elsewhere cannot keep the
real user out. At most ``max_concurrent_hashes`` password checks (argon2, 64 MiB each) run at
once in a process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from flowdeck.auth import quotas
from flowdeck.auth.users import Principal
from flowdeck.config import get_settings, on_configure
from flowdeck.errors import FlowdeckError, NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records import web as web_records
from flowdeck.storage.records._util import as_utc, utcnow

__all__ = [
    "DEFAULT_TOKEN_SCOPES",
    "SCOPES",
    "SESSION_LIFETIME",
    "AuthError",
    "Session",
    "TokenGrant",
    "authenticate",
    "change_password",
    "check_throttle",
    "create_token",
    "end_all_sessions",
    "end_session",
    "find_session",
    "find_token",
    "hash_secret",
    "list_tokens",
    "parse_scopes",
    "revoke_token",
    "session_exists",
    "start_session",
    "token_exists",
]

SESSION_LIFETIME = dt.timedelta(days=7)
#: How often a token's ``last_used_at`` is written; tokens drive busy scripts.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)
_DUMMY_HASH: str | None = None

#: What an API token may do: ``read`` (GET requests), ``write`` (every state-changing request) and
#: ``admin`` (the admin powers of an admin's token; without it an admin's token acts as a plain user).
SCOPES = ("read", "write", "admin")
DEFAULT_TOKEN_SCOPES = ("read", "write")


class AuthError(FlowdeckError):
    """Credentials not accepted (401), a failed CSRF or scope check (403), or too many logins (429, 503)."""

    def __init__(self, message: str, status: int = 401, retry_after: int | None = None) -> None:
        """``status`` is the HTTP status the server answers with; ``retry_after`` its Retry-After seconds."""
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenGrant:
    """What an API token lets its bearer do: act as ``principal`` within ``scopes``."""

    principal: Principal
    scopes: frozenset[str]


_hash_slots_lock = threading.Lock()
_hash_slots: tuple[int, threading.BoundedSemaphore] | None = None
#: How long a login waits for a free password-check slot before the server answers 503.
HASH_WAIT_SECONDS = 10.0


def _slots() -> threading.BoundedSemaphore:
    global _hash_slots
    size = max(1, get_settings().max_concurrent_hashes)
    with _hash_slots_lock:
        if _hash_slots is None or _hash_slots[0] != size:
            _hash_slots = (size, threading.BoundedSemaphore(size))
        return _hash_slots[1]


def _reset_slots(_settings: object) -> None:
    global _hash_slots
    with _hash_slots_lock:
        _hash_slots = None


on_configure(_reset_slots)


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


def _verify(stored: str | None, password: str) -> bool:
    """Check ``password`` against an argon2 hash, holding one of the process's password-check slots."""
    from argon2.exceptions import InvalidHashError, VerificationError

    slots = _slots()
    if not slots.acquire(timeout=HASH_WAIT_SECONDS):
        raise AuthError("the server is checking too many passwords at once; try again in a few seconds", 503, 5)
    try:
        _password_hasher().verify(stored or _dummy_hash(), password)
        return stored is not None
    except (VerificationError, InvalidHashError):
        return False
    finally:
        slots.release()


def _throttle_keys(name: str, address: str | None) -> tuple[str, str | None, str | None]:
    user_key = "u:" + name[:200]
    if not address:
        return user_key, None, None
    address = address[:45]
    return user_key, "a:" + address, f"k:{address} {name[:200]}"


def check_throttle(name: str, address: str | None) -> None:
    """Raise 429 when the account or the address is locked (a known address passes an account lock)."""
    user_key, address_key, known_key = _throttle_keys(name, address)
    keys = [k for k in (user_key, address_key, known_key) if k is not None]
    with get_storage().db.read() as conn:
        rows = web_records.find_throttles(conn, keys)
    until = web_records.throttle_locked_until(rows.get(address_key)) if address_key else None
    account_until = web_records.throttle_locked_until(rows.get(user_key))
    if account_until is not None and (known_key is None or known_key not in rows):
        until = max(until or account_until, account_until)
    if until is not None:
        wait = max(1, math.ceil((until - utcnow()).total_seconds()))
        raise AuthError(f"too many failed logins; try again in {wait} s", 429, wait)


def _record_failure(name: str, address: str | None) -> None:
    settings = get_settings()
    max_lock = dt.timedelta(seconds=max(1, settings.login_max_lock_seconds))
    user_key, address_key, _ = _throttle_keys(name, address)
    with get_storage().db.write() as conn:
        web_records.record_login_failure(conn, user_key, settings.login_free_failures, max_lock)
        if address_key is not None:
            web_records.record_login_failure(conn, address_key, settings.login_address_free_failures, max_lock)


def _record_success(name: str, address: str | None) -> None:
    # The address's own count stays: logging into one's own account must not reset a guesser's.
    user_key, _, known_key = _throttle_keys(name, address)
    with get_storage().db.write() as conn:
        web_records.clear_throttle(conn, user_key)
        if known_key is not None:
            web_records.mark_known(conn, known_key)


def authenticate(name: str, password: str, address: str | None = None) -> Principal:
    """The user ``name`` if ``password`` matches their stored argon2 hash; ``AuthError`` otherwise.

    Unknown users and users without a password cost the same hash check, so response times do
    not tell which user names exist. ``address`` is the client's address for throttling: while
    the account or the address is locked after too many failures, ``AuthError`` with status 429
    and ``retry_after`` is raised before any password is checked.
    """
    if not isinstance(name, str) or not name:
        raise AuthError("wrong user name or password")
    check_throttle(name, address)
    with get_storage().db.read() as conn:
        row = user_records.get_user(conn, name)
        groups = tuple(user_records.groups_of(conn, name)) if row is not None else ()
    ok = _verify(row.password_hash if row is not None else None, password)
    if not ok or row is None:
        _record_failure(name, address)
        raise AuthError(
            "wrong user name or password; an admin sets passwords with `flowdeck users update NAME --password`"
        )
    _record_success(name, address)
    return Principal(row.name, row.role, groups)


def change_password(principal: Principal, current: str, new: str, address: str | None = None) -> None:
    """Change ``principal``'s own password after checking ``current``; every session and API token ends.

    Wrong ``current`` passwords count towards the login back-off like failed logins (403).
    """
    from flowdeck.auth.users import update_user

    if not isinstance(new, str) or len(new) < 8:
        raise ValidationError("the new password must have at least 8 characters")
    try:
        authenticate(principal.name, current, address)
    except AuthError as exc:
        if exc.status != 401:
            raise
        # 403, not 401: the caller is logged in; only the password they confirmed is wrong.
        raise AuthError("the current password is wrong; the password was not changed", status=403) from None
    update_user(principal.name, password=new)  # ends every session and revokes every token


def end_all_sessions(user_name: str, *, tokens: bool = True) -> None:
    """Log ``user_name`` out everywhere: end every session and, with ``tokens``, revoke every API token."""
    with get_storage().db.write() as conn:
        web_records.delete_user_credentials(conn, user_name, tokens=tokens)


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


def session_exists(id_hash: str) -> bool:
    """Whether the session whose id hashes to ``id_hash`` is open."""
    with get_storage().db.read() as conn:
        return web_records.find_session(conn, id_hash) is not None


def token_exists(token_hash: str) -> bool:
    """Whether the API token that hashes to ``token_hash`` exists (was not revoked)."""
    with get_storage().db.read() as conn:
        return web_records.find_token(conn, token_hash) is not None


def end_session(id_hash: str) -> None:
    """Close the session whose id hashes to ``id_hash``."""
    with get_storage().db.write() as conn:
        web_records.delete_session(conn, id_hash)


def parse_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    """``scopes`` checked against :data:`SCOPES` (None: :data:`DEFAULT_TOKEN_SCOPES`), in canonical order."""
    if scopes is None:
        return DEFAULT_TOKEN_SCOPES
    wanted = set(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if unknown or not wanted:
        raise ValidationError(f"unknown or no token scopes {unknown}; choose from {list(SCOPES)}")
    return tuple(s for s in SCOPES if s in wanted)


def find_token(token: str) -> TokenGrant:
    """The user an API token acts for and its scopes (its last use is recorded); ``AuthError`` if unknown.

    A token of an admin without the ``admin`` scope acts as a plain user.
    """
    with get_storage().db.read() as conn:
        row = web_records.find_token(conn, hash_secret(token))
        groups = tuple(user_records.groups_of(conn, row.user_name)) if row is not None else ()
    if row is None:
        raise AuthError("unknown or revoked API token; create one with `flowdeck users token NAME`")
    last = as_utc(row.last_used_at)
    if last is None or utcnow() - last > TOKEN_TOUCH_INTERVAL:
        with get_storage().db.write() as conn:
            web_records.touch_token(conn, row.id)
    scopes = frozenset(s for s in str(row.scopes).split(",") if s)
    role = row.role if "admin" in scopes else "user"
    return TokenGrant(Principal(row.user_name, role, groups), scopes)


def create_token(
    principal: Principal, label: str | None = None, scopes: Iterable[str] | None = None
) -> tuple[str, str]:
    """Mint an API token for ``principal`` with ``scopes`` (default read and write); returns (id, token).

    The token is shown only now. ``admin`` is only granted to admins.
    """
    chosen = parse_scopes(scopes)
    if "admin" in chosen and not principal.is_admin:
        raise ValidationError(f"user {principal.name!r} is not an admin: a token of theirs cannot have the admin scope")
    token_id = secrets.token_hex(8)
    token = f"fdt_{secrets.token_urlsafe(32)}"
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, principal.name)
        quotas.require_room_for_token(conn, principal.name)
        web_records.insert_token(conn, token_id, principal.name, hash_secret(token), label, ",".join(chosen))
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
            "scopes": [s for s in str(r.scopes).split(",") if s],
        }
        for r in rows
    ]


def revoke_token(principal: Principal, token_id: str) -> None:
    """Revoke one of ``principal``'s API tokens; ``NotFoundError`` if they have no such token."""
    with get_storage().db.write() as conn:
        if not web_records.delete_token(conn, token_id, principal.name):
            raise NotFoundError(f"user {principal.name!r} has no API token {token_id!r}")
