"""What every router shares: the server's state and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from flowdeck.auth.users import Principal
from flowdeck.errors import AccessError
from flowdeck.server.auth import Identity, check_scope, identify, identify_cached, still_valid, still_valid_cached
from flowdeck.server.catalogue import FlowCatalogue
from flowdeck.server.executor import CallbackPool, StepExecutor

__all__ = [
    "ServerState",
    "admin_principal",
    "current_identity",
    "current_principal",
    "server_state",
    "still_logged_in",
]


@dataclass
class ServerState:
    """The flows a server offers, the pool its steps run in and the threads its callbacks run on."""

    catalogue: FlowCatalogue
    executor: StepExecutor
    max_upload_bytes: int
    callbacks: CallbackPool = field(default_factory=CallbackPool)


# The dependencies are coroutines: FastAPI runs plain functions on its thread pool, a hop to
# another thread and back for every dependency of every request.


async def server_state(request: Request) -> ServerState:
    """The state of the app that received ``request``."""
    return request.app.state.flowdeck


async def current_identity(request: Request) -> Identity:
    """The authenticated caller (401 when not logged in, 403 on a failed CSRF or token scope check).

    Recently checked credentials come from memory; others are looked up on the thread pool. Every
    route depends on this, so an API token's scopes are enforced everywhere.
    """
    identity = identify_cached(request)
    if identity is None:
        identity = await run_in_threadpool(identify, request)
    return check_scope(request, identity)


async def current_principal(identity: Identity = Depends(current_identity)) -> Principal:
    """The authenticated user, with role and groups."""
    return identity.principal


async def admin_principal(principal: Principal = Depends(current_principal)) -> Principal:
    """The authenticated user, who must be an admin."""
    if not principal.is_admin:
        raise AccessError(f"user {principal.name!r} is not an admin; only admins manage users")
    return principal


async def still_logged_in(identity: Identity) -> bool:
    """Whether the credential of a long request (a live stream) still works: False after logout or revoke.

    From memory while it was checked recently; otherwise one read on the thread pool.
    """
    if still_valid_cached(identity):
        return True
    return await run_in_threadpool(still_valid, identity)
