"""Named database connections: list (never with secrets), add, test, share, unshare, remove."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from flowdeck.auth.users import Principal
from flowdeck.elements.base import to_jsonable
from flowdeck.errors import FlowdeckError
from flowdeck.server.deps import current_principal
from flowdeck.storage.connection_urls import ConnectionType

__all__ = ["router"]

router = APIRouter(prefix="/api/connections", tags=["connections"])

_SECRET_WORDS = ("password", "secret", "token", "private_key", "credential")


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
    return [connection_json(c) for c in _service().list_connections(principal.name)]


@router.post("", status_code=201)
def add_connection(body: ConnectionBody, principal: Principal = Depends(current_principal)) -> Response:
    """Add a connection owned by the caller; 409 when they have one of that name."""
    params = {
        k: v
        for k, v in body.params.items()
        if k not in {"name", "type", "owner", "host", "port", "database", "username", "password"}
    }
    _service().add_connection(
        body.name,
        body.type.value,
        principal.name,
        host=body.host,
        port=body.port,
        database=body.database,
        username=body.username,
        password=body.password,
        **params,
    )
    return Response(status_code=201)


@router.post("/{name}/test")
def test_connection(
    name: str,
    owner: str | None = Query(default=None, max_length=200, description="The owner of a shared connection."),
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Connect and ask the server its version; ``ok`` false with the driver's reason when that fails."""
    try:
        result = _service().test_connection(name, principal.name, connection_owner=owner or None)
    except FlowdeckError:
        raise
    except Exception as exc:  # the database's own error: the answer to the test, not a server fault
        return {"name": name, "ok": False, "message": f"{type(exc).__name__}: {exc}"}
    return {"name": name, "ok": True, "message": str(result)}


_OWNER = Query(default=None, max_length=200, description="The connection's owner (admins acting for them).")


@router.post("/{name}/share", status_code=204)
def share_connection(
    name: str, body: ShareBody, owner: str | None = _OWNER, principal: Principal = Depends(current_principal)
) -> Response:
    """Let users and groups use a connection; its owner or an admin only (403 for those it is shared with)."""
    _service().share_connection(
        name, owner or principal.name, body.users, body.groups, user=principal.name, register_users=False
    )
    return Response(status_code=204)


@router.get("/{name}/shares")
def connection_shares(
    name: str, owner: str | None = _OWNER, principal: Principal = Depends(current_principal)
) -> list[dict[str, str]]:
    """Whom the connection is shared with, as ``{"kind", "name"}``; its owner or an admin only."""
    found = _service().connection_shares(name, owner or principal.name, user=principal.name)
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
    _service().unshare_connection(name, owner or principal.name, users, groups, user=principal.name)
    return Response(status_code=204)


@router.delete("/{name}", status_code=204)
def remove_connection(
    name: str, owner: str | None = _OWNER, principal: Principal = Depends(current_principal)
) -> Response:
    """Remove a connection and its secret; its owner or an admin only."""
    _service().remove_connection(name, owner or principal.name, user=principal.name)
    return Response(status_code=204)
