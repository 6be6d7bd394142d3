"""The asset browser's API: list with filters, metadata, versions, download, share, unshare, delete."""

from __future__ import annotations

import io
import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from flowdeck.auth.users import Principal
from flowdeck.elements.base import to_jsonable
from flowdeck.errors import ValidationError
from flowdeck.server.deps import current_principal
from flowdeck.server.downloads import csv_text

__all__ = ["asset_json", "router"]

router = APIRouter(prefix="/api/assets", tags=["assets"])


class ShareBody(BaseModel):
    """Users and groups to share an asset's lineage with."""

    users: list[str] = Field(default_factory=list, max_length=200)
    groups: list[str] = Field(default_factory=list, max_length=200)


def _service() -> Any:
    from flowdeck.store import assets

    return assets


def _text(value: Any) -> Any:
    return getattr(value, "value", value)


def asset_json(asset: Any) -> dict[str, Any]:
    """An asset's metadata as the API shows it (never its object)."""
    fields = ("label", "name", "version", "owner", "description", "flow_id", "step_name")
    data: dict[str, Any] = {"id": getattr(asset, "id", None), "type": _text(getattr(asset, "type", None))}
    for field in fields:
        data[field] = to_jsonable(getattr(asset, field, None))
    data["metadata"] = to_jsonable(getattr(asset, "metadata", None) or {})
    for field in ("time_created", "time_updated"):
        data[field] = to_jsonable(getattr(asset, field, None))
    return data


@router.get("")
def list_assets(
    label: str | None = Query(default=None, max_length=500),
    type: str | None = Query(default=None, max_length=100),
    name: str | None = Query(default=None, max_length=500),
    principal: Principal = Depends(current_principal),
) -> list[dict[str, Any]]:
    """Assets the caller may see (every version, newest first), filtered by label, type and name."""
    found = _service().get_assets(principal, label=label or None, type=type or None, name=name or None)
    return [asset_json(a) for a in found]


@router.get("/{asset_id}")
def get_asset(asset_id: str, principal: Principal = Depends(current_principal)) -> dict[str, Any]:
    """One asset version's metadata."""
    return asset_json(_service().get_asset_by_id(principal, asset_id))


@router.get("/{asset_id}/versions")
def versions(asset_id: str, principal: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """Every version of the asset's lineage (owner, label, type, name) the caller may see, newest first."""
    service = _service()
    asset = service.get_asset_by_id(principal, asset_id)
    same = service.get_assets(principal, label=asset.label, type=_text(asset.type), name=asset.name)
    return [asset_json(a) for a in same if getattr(a, "owner", None) == getattr(asset, "owner", None)]


@router.get(
    "/{asset_id}/download",
    responses={200: {"content": {"text/csv": {}, "application/octet-stream": {}, "application/json": {}}}},
)
def download(
    asset_id: str,
    format: str = Query(default="csv", pattern="^(csv|parquet|json)$", description="How to write a table."),
    principal: Principal = Depends(current_principal),
) -> Response:
    """The asset's object as a file: tables as CSV, Parquet or JSON; bytes, text and JSON as they are."""
    import pandas as pd

    asset = _service().get_asset_by_id(principal, asset_id)
    obj = asset.get_object()
    # ASCII only: the name goes into a Content-Disposition header, which must be latin-1.
    stem = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in f"{asset.label}-v{asset.version}")
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    if isinstance(obj, pd.DataFrame):
        if format == "parquet":
            buffer = io.BytesIO()
            obj.to_parquet(buffer)
            body, media, ext = buffer.getvalue(), "application/vnd.apache.parquet", "parquet"
        elif format == "json":
            body, media, ext = obj.to_json(orient="records", date_format="iso"), "application/json", "json"
        else:
            body, media, ext = csv_text(obj), "text/csv", "csv"
    elif isinstance(obj, bytes | bytearray):
        body, media, ext = bytes(obj), "application/octet-stream", "bin"
    elif isinstance(obj, str):
        body, media, ext = obj, "text/plain; charset=utf-8", "txt"
    elif isinstance(obj, dict | list | int | float | bool) or obj is None:
        body, media, ext = json.dumps(to_jsonable(obj)), "application/json", "json"
    else:
        raise ValidationError(
            f"asset {asset_id!r} holds a {type(obj).__name__}, which has no file form; "
            "load it in Python with StoreInterface.get_asset_by_id()"
        )
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{ext}"'})


@router.post("/{asset_id}/share", status_code=204)
def share(asset_id: str, body: ShareBody, principal: Principal = Depends(current_principal)) -> Response:
    """Share every version of the asset's lineage; its owner or an admin only (403 for others who see it)."""
    service = _service()
    service.get_asset_by_id(principal, asset_id)  # 404 for those who may not see it
    service.share_asset(asset_id, owner=principal, users=body.users, groups=body.groups, register_users=False)
    return Response(status_code=204)


@router.get("/{asset_id}/shares")
def shares(asset_id: str, principal: Principal = Depends(current_principal)) -> list[dict[str, str]]:
    """Whom the asset's lineage is shared with, as ``{"kind", "name"}``; its owner or an admin only."""
    return [{"kind": kind, "name": name} for kind, name in _service().asset_shares(asset_id, principal)]


@router.delete("/{asset_id}/shares/{kind}/{name}", status_code=204)
def unshare(
    asset_id: str, kind: Literal["user", "group"], name: str, principal: Principal = Depends(current_principal)
) -> Response:
    """Stop sharing the asset's lineage with one user or group; its owner or an admin only."""
    users, groups = ([name], []) if kind == "user" else ([], [name])
    _service().unshare_asset(asset_id, owner=principal, users=users, groups=groups)
    return Response(status_code=204)


@router.delete("/{asset_id}", status_code=204)
def delete(asset_id: str, principal: Principal = Depends(current_principal)) -> Response:
    """Delete one asset version; its owner or an admin only."""
    service = _service()
    service.get_asset_by_id(principal, asset_id)
    service.delete_asset(asset_id, user=principal)
    return Response(status_code=204)
