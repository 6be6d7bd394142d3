"""What every router shares: the server's state and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from flowdeck.auth.users import Principal
from flowdeck.errors import AccessError
from flowdeck.server.auth import Identity, identify, identify_cached
from flowdeck.server.catalogue import FlowCatalogue
from flowdeck.server.executor import StepExecutor

__all__ = ["ServerState", "admin_principal", "current_identity", "current_principal", "server_state"]


@dataclass
class ServerState:
    """The flows a server offers and the pool its steps run in."""

    catalogue: FlowCatalogue
    executor: StepExecutor
    max_upload_bytes: int


# The dependencies are coroutines: FastAPI runs plain functions on its thread pool, a hop to
# another thread and back for every dependency of every request.


async def server_state(request: Request) -> ServerState:
    """The state of the app that received ``request``."""
    return request.app.state.flowdeck


async def current_identity(request: Request) -> Identity:
    """The authenticated caller (401 when not logged in, 403 on a failed CSRF check).

    Recently checked credentials come from memory; others are looked up on the thread pool.
    """
    identity = identify_cached(request)
    if identity is None:
        identity = await run_in_threadpool(identify, request)
    return identity


async def current_principal(identity: Identity = Depends(current_identity)) -> Principal:
    """The authenticated user, with role and groups."""
    return identity.principal


async def admin_principal(principal: Principal = Depends(current_principal)) -> Principal:
    """The authenticated user, who must be an admin."""
    if not principal.is_admin:
        raise AccessError(f"user {principal.name!r} is not an admin; only admins manage users")
    return principal
