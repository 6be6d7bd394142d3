"""Log in and out, who am I, users (admins) and API tokens."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from flowdeck.auth import accounts
from flowdeck.auth import users as user_service
from flowdeck.auth.users import Principal
from flowdeck.server import auth
from flowdeck.server.auth import AuthError, Identity
from flowdeck.server.deps import admin_principal, current_identity, current_principal

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["accounts"])

Name = Field(min_length=1, max_length=200)


class LoginBody(BaseModel):
    """A user name and password."""

    name: str = Name
    password: str = Field(min_length=1, max_length=1024)


class NewUserBody(BaseModel):
    """A user to create."""

    name: str = Name
    role: Literal["user", "admin"] = "user"
    groups: list[str] = Field(default_factory=list, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class TokenBody(BaseModel):
    """A label to recognise a new API token by, and what it may do (default read and write)."""

    label: str | None = Field(default=None, max_length=200)
    scopes: list[Literal["read", "write", "admin"]] | None = Field(default=None, min_length=1, max_length=3)


class PasswordBody(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


def _address(request: Request) -> str | None:
    """The client's address (the proxy's forwarded one when ``flowdeck serve`` trusts the proxy)."""
    return request.client.host if request.client is not None else None


def _set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        auth.SESSION_COOKIE,
        session_id,
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def principal_json(principal: Principal) -> dict[str, object]:
    """A user as the API shows it."""
    return {"name": principal.name, "role": principal.role, "groups": list(principal.groups)}


@router.post("/login")
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, object]:
    """Check the password and start a session (an HttpOnly, SameSite=Lax cookie).

    The answer holds the session's CSRF token: send it as ``X-CSRF-Token`` on every
    state-changing request made with the cookie. Repeated wrong passwords for an account or from
    an address are answered 429 with ``Retry-After`` for a doubling delay (see docs/security.md).
    """
    address = _address(request)
    await run_in_threadpool(accounts.check_throttle, body.name, address)  # locked: 429 without queueing
    # Logins wait for a password-check slot here, on the event loop, not on a worker thread: a
    # flood of logins must not take the thread pool every other request needs.
    slots: asyncio.Semaphore = request.app.state.login_slots
    try:
        await asyncio.wait_for(slots.acquire(), accounts.HASH_WAIT_SECONDS)
    except TimeoutError:
        raise AuthError(
            "the server is checking too many passwords at once; try again in a few seconds", 503, 5
        ) from None
    try:
        principal = await run_in_threadpool(auth.authenticate, body.name, body.password, address)
    finally:
        slots.release()
    session_id, csrf_token, expires_at = await run_in_threadpool(auth.start_session, principal)
    _set_session_cookie(request, response, session_id)
    return {**principal_json(principal), "csrf_token": csrf_token, "expires_at": expires_at.isoformat()}


@router.post("/logout", status_code=204)
def logout(response: Response, identity: Identity = Depends(current_identity)) -> Response:
    """End the session (the cookie is cleared)."""
    auth.end_session(identity)
    response = Response(status_code=204)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.post("/logout-everywhere", status_code=204)
def logout_everywhere(identity: Identity = Depends(current_identity)) -> Response:
    """End every session of the caller's user and revoke all their API tokens (the cookie is cleared)."""
    auth.end_everywhere(identity)
    response = Response(status_code=204)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.post("/password")
def change_password(
    body: PasswordBody, request: Request, response: Response, identity: Identity = Depends(current_identity)
) -> dict[str, object]:
    """Change the caller's own password (from a session only); every session and API token ends.

    The browser that changed it gets a new session, whose CSRF token the answer holds.
    """
    if identity.via != "session":
        raise AuthError("change your password from a browser session, not with an API token", status=403)
    auth.change_password(identity, body.current_password, body.new_password, _address(request))
    session_id, csrf_token, expires_at = auth.start_session(identity.principal)
    _set_session_cookie(request, response, session_id)
    return {**principal_json(identity.principal), "csrf_token": csrf_token, "expires_at": expires_at.isoformat()}


@router.get("/me")
def me(identity: Identity = Depends(current_identity)) -> dict[str, object]:
    """The logged-in user, and the CSRF token of their session."""
    return {**principal_json(identity.principal), "via": identity.via, "csrf_token": identity.csrf_token}


@router.get("/users")
def list_users(_: Principal = Depends(admin_principal)) -> list[dict[str, object]]:
    """Every user (admins only)."""
    return [principal_json(p) for p in user_service.list_users()]


@router.post("/users", status_code=201)
def add_user(body: NewUserBody, _: Principal = Depends(admin_principal)) -> dict[str, object]:
    """Create a user (admins only); 409 when the name is taken."""
    principal = user_service.add_user(body.name, groups=body.groups, role=body.role, password=body.password)
    return principal_json(principal)


@router.get("/tokens")
def list_tokens(principal: Principal = Depends(current_principal)) -> list[dict[str, object]]:
    """The caller's API tokens (never the tokens themselves)."""
    return auth.list_tokens(principal)


@router.post("/tokens", status_code=201)
def create_token(body: TokenBody, identity: Identity = Depends(current_identity)) -> dict[str, object]:
    """Mint an API token for scripts (``Authorization: Bearer <token>``); it is shown only now.

    Only a browser session can mint tokens (a token cannot mint more). ``scopes``: ``read`` (GET
    requests), ``write`` (state-changing requests), ``admin`` (an admin's powers; admins only).
    """
    if identity.via != "session":
        raise AuthError("API tokens cannot create API tokens; create one from a browser session", status=403)
    token_id, token = auth.create_token(identity.principal, body.label, body.scopes)
    scopes = list(body.scopes) if body.scopes else ["read", "write"]
    return {"id": token_id, "label": body.label, "scopes": scopes, "token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, principal: Principal = Depends(current_principal)) -> Response:
    """Revoke one of the caller's API tokens."""
    auth.revoke_token(principal, token_id)
    return Response(status_code=204)
