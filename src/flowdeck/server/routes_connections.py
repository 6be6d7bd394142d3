"""Named database connections: list (never with secrets), add, test, share, unshare, remove.

Connection tests run on a pool of their own, never on the request threads, with at most
``connection_tests_per_user`` in flight per user (429 beyond). Non-admins get one generic answer
for any failure to connect, so that tests cannot tell open ports from closed ones; the server
adds and tests their connections with ``restricted=True`` (no loopback or link-local targets).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flowdeck.auth.users import Principal
from flowdeck.config import Settings, get_settings
from flowdeck.elements.base import to_jsonable
from flowdeck.errors import FlowdeckError, ValidationError
from flowdeck.server.deps import current_principal
from flowdeck.server.limits import InFlight, too_many_requests
from flowdeck.storage.connection_urls import ConnectionType

__all__ = ["router"]

router = APIRouter(prefix="/api/connections", tags=["connections"])

RESERVED_PARAM_NAMES = frozenset(
    {"name", "type", "owner", "host", "port", "database", "username", "password", "user", "restricted"}
)
_SECRET_WORDS = ("password", "secret", "token", "private_key", "credential")
GENERIC_FAILURE = (
    "the connection test failed: the database could not be reached or did not accept the login; "
    "check the connection's host, port, database and credentials, or ask an admin to test it for details"
)


class ConnectionBody(BaseModel):
    """A new named connection. The password is encrypted at rest and never returned."""

    name: str = Field(min_length=1, max_length=200)
    type: ConnectionType
    host: str | None = Field(default=None, max_length=500)
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = Field(default=None, max_length=1000)
    username: str | None = Field(default=None, max_length=500)
    password: str | None = Field(default=None, max_length=4096)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=50)


class ShareBody(BaseModel):
    """Users and groups to share a connection with."""

    users: list[str] = Field(default_factory=list, max_length=200)
    groups: list[str] = Field(default_factory=list, max_length=200)


def _service() -> Any:
    from flowdeck.store import connections

    return connections


def connection_json(item: Any) -> dict[str, Any]:
    """A connection as the API shows it, with anything secret left out."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        data = dataclasses.asdict(item)
    elif isinstance(item, dict):
        data = dict(item)
    elif hasattr(item, "to_dict"):
        data = item.to_dict()
    elif hasattr(item, "_asdict"):
        data = item._asdict()
    else:
        data = {k: v for k, v in vars(item).items() if not k.startswith("_")}

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not any(w in str(k).lower() for w in _SECRET_WORDS)}
        return value

    return to_jsonable(clean(data))


@router.get("")
def list_connections(principal: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """Connections the caller owns or that were shared with them (no secrets)."""
    return [connection_json(c) for c in _service().list_connections(principal)]


@router.post("", status_code=201)
def add_connection(body: ConnectionBody, principal: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Add a connection owned by the caller and answer with it as listed (no secrets); 409 when they
    have one of that name."""
    # These name add_connection's own arguments: as params they would say who acts, or lift a check.
    clashing = sorted(set(body.params) & RESERVED_PARAM_NAMES)
    if clashing:
        raise ValidationError(
            f"params {clashing} are not connection params; give host, port, database, username and "
            "password as fields of their own"
        )
    params = dict(body.params)
    _service().add_connection(
        body.name,
        body.type.value,
        principal.name,
        host=body.host,
        port=body.port,
        database=body.database,
        username=body.username,
        password=body.password,
        user=principal,
        restricted=True,
        **params,
    )
    added = next(
        c for c in _service().list_connections(principal.name) if c.name == body.name and c.owner == principal.name
    )
    return connection_json(added)


class ConnectionTests:
    """The pool connection tests run on, and how many each user has in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._workers = 0
        self._in_flight = InFlight()

    def pool(self, settings: Settings) -> ThreadPoolExecutor:
        """The test pool, sized by ``connection_test_workers`` (remade when that setting changes)."""
        with self._lock:
            if self._pool is None or self._workers != settings.connection_test_workers:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)  # its running tests finish on their own
                self._pool = ThreadPoolExecutor(
                    settings.connection_test_workers, thread_name_prefix="flowdeck-conntest"
                )
                self._workers = settings.connection_test_workers
            return self._pool

    def acquire(self, user: str, cap: int) -> bool:
        """Count one more test of ``user``'s; False (nothing counted) when they have ``cap`` in flight."""
        return self._in_flight.acquire(user, cap)

    def release(self, user: str, _future: Future[Any] | None = None) -> None:
        """One test of ``user``'s ended."""
        self._in_flight.release(user)

    def in_flight(self, user: str) -> int:
        """How many tests ``user`` has running."""
        return self._in_flight.in_flight(user)


TESTS = ConnectionTests()


@router.post("/{name}/test", response_model=None)
async def test_connection(
    name: str,
    owner: str | None = Query(default=None, max_length=200, description="The owner of a shared connection."),
    principal: Principal = Depends(current_principal),
) -> dict[str, Any] | JSONResponse:
    """Connect and ask the server its version; ``ok`` false when that fails (the reason for admins only).

    429 when the caller has ``connection_tests_per_user`` tests in flight already.
    """
    settings = get_settings()
    cap = settings.connection_tests_per_user
    if not TESTS.acquire(principal.name, cap):
        return too_many_requests(
            f"user {principal.name!r} has {cap} connection tests running already "
            "(the most one user may run at once); wait for them to finish and try again",
            max(1, round(settings.connection_test_timeout)),
        )
    started = time.monotonic()
    call = functools.partial(
        _service().test_connection, name, principal, connection_owner=owner or None, restricted=True
    )
    future = TESTS.pool(settings).submit(call)
    # The slot is freed when the test really ends, not when this request gives up waiting.
    future.add_done_callback(functools.partial(TESTS.release, principal.name))
    deadline = settings.connect_timeout + settings.connection_test_timeout + 5.0
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(future), timeout=deadline)
    except FlowdeckError:
        raise
    except Exception as exc:  # the database's own error (or no answer): the answer to the test
        if principal.is_admin:
            reason = "no answer in time" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            return {"name": name, "ok": False, "message": reason}
        # Failures all take at least connect_timeout, so a closed port answers no faster than a filtered one.
        await asyncio.sleep(max(0.0, settings.connect_timeout - (time.monotonic() - started)))
        return {"name": name, "ok": False, "message": GENERIC_FAILURE}
    return {"name": name, "ok": True, "message": str(result)}


_OWNER = Query(default=None, max_length=200, description="The connection's owner (admins acting for them).")


@router.post("/{name}/share", status_code=204)
def share_connection(
    name: str, body: ShareBody, owner: str | None = _OWNER, principal: Principal = Depends(current_principal)
) -> Response:
    """Let users and groups use a connection; its owner or an admin only (403 for those it is shared with)."""
    _service().share_connection(
        name, owner or principal.name, body.users, body.groups, user=principal, register_users=False
    )
    return Response(status_code=204)


@router.get("/{name}/shares")
def connection_shares(
    name: str, owner: str | None = _OWNER, principal: Principal = Depends(current_principal)
) -> list[dict[str, str]]:
    """Whom the connection is shared with, as ``{"kind", "name"}``; its owner or an admin only."""
    found = _service().connection_shares(name, owner or principal.name, user=principal)
    return [{"kind": kind, "name": who} for kind, who in found]


@router.delete("/{name}/shares/{kind}/{principal_name}", status_code=204)
def unshare_connection(
    name: str,
    kind: Literal["user", "group"],
    principal_name: str,
    owner: str | None = _OWNER,
    principal: Principal = Depends(current_principal),
) -> Response:
    """Stop letting one user or group use the connection; its owner or an admin only."""
    users, groups = ([principal_name], []) if kind == "user" else ([], [principal_name])
    _service().unshare_connection(name, owner or principal.name, users, groups, user=principal)
    return Response(status_code=204)


@router.delete("/{name}", status_code=204)
def remove_connection(
    name: str, owner: str | None = _OWNER, principal: Principal = Depends(current_principal)
) -> Response:
    """Remove a connection and its secret; its owner or an admin only."""
    _service().remove_connection(name, owner or principal.name, user=principal)
    return Response(status_code=204)
