"""The asset catalogue: versions, lineage, sharing and access checks.

A lineage is (owner, label, type, name); every save is a new version with its own id unless it
overwrites one in place. Visibility: the owner, the users and groups the lineage is shared with,
and admins; to anyone else an asset does not exist (the same ``NotFoundError`` as for an unknown
id). Only the owner or an admin may overwrite, delete or share.

Objects are stored as follows: DataFrames and other plain values through the value store (Arrow for
frames, signed pickle for arbitrary objects); scikit-learn estimators as skops files, loaded with
the list of types trusted at save time, which is kept in the version's metadata together with an
HMAC over the bytes and that list (so neither can be swapped without the deployment's key).
Listing reads catalogue columns only; an object is read on its first use.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Row

from flowdeck.assets.asset import LINKS_KEY, Asset, _check_label, asset_class_name
from flowdeck.assets.types import AssetType
from flowdeck.auth import access, quotas
from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.errors import IntegrityError, NotFoundError, QuotaExceededError, ValidationError
from flowdeck.storage.codecs import Encoded
from flowdeck.storage.deployment import Storage, get_storage
from flowdeck.storage.records import assets as records
from flowdeck.storage.records import quotas as quota_records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.storage.values import StoredValue

__all__ = [
    "AssetDetails",
    "asset_shares",
    "check_serialization_method",
    "delete_asset",
    "describe_asset",
    "export_asset",
    "get_asset",
    "get_asset_by_id",
    "get_assets",
    "list_assets",
    "save_asset",
    "share_asset",
    "unshare_asset",
]

try:  # orjson parses catalogue metadata several times faster; the stdlib reads the same JSON.
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover - depends on the environment
    from json import loads as _json_loads

SKOPS_CODEC = "skops"
_TYPES = {member.value: member for member in AssetType}


# --------------------------------------------------------------------------- helpers


def _viewer(who: Principal) -> records.Viewer:
    return access.audience(who)


def _resource(row: Row) -> access.Resource:
    """A version's lineage as the access rules see it (sharing covers every version)."""
    return access.Resource(
        "asset", row.lineage_id, row.owner, f"asset {row.id!r} ({row.label!r}, version {row.version})"
    )


def _type_value(value: AssetType | str | None) -> str | None:
    return None if value is None else AssetType.parse(value).value


def _check_id(asset_id: object) -> str:
    if not isinstance(asset_id, str) or not asset_id:
        raise NotFoundError(f"no asset {asset_id!r}: an asset id is the string save_asset() returned")
    return asset_id


def _not_found(asset_id: str, who: Principal) -> NotFoundError:
    # The same words whether the id is unknown or only invisible: existence must not leak.
    return NotFoundError(
        f"no asset {asset_id!r} visible to user {who.name!r}; check the id, or ask its owner to share it"
    )


def _require_manager(row: Row, who: Principal, action: str) -> None:
    access.require_manage(who, _resource(row), action)


def _visible_row(conn: Connection, asset_id: str, who: Principal) -> Row:
    rows = records.search(conn, _viewer(who), asset_id=_check_id(asset_id), limit=1)
    if not rows:
        raise _not_found(asset_id, who)
    return rows[0]


def _names(values: str | Iterable[str] | None, what: str) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"a {what} name must be a non-empty string, got {item!r}")
    return items


# --------------------------------------------------------------------------- objects


class _ObjectRef:
    """Where a saved version's object is: enough to load it, or to save it again unread."""

    __slots__ = ("asset_id", "blob_key", "checksum", "codec", "info", "label", "size", "version")
    inline_data = None  # the bytes of an inline object are read from its row when needed

    def __init__(
        self,
        asset_id: str,
        label: str,
        version: int,
        codec: str,
        size: int,
        blob_key: str | None,
        checksum: str | None,
        info: dict[str, Any],
    ) -> None:
        self.asset_id, self.label, self.version = asset_id, label, version
        self.codec, self.size, self.blob_key, self.checksum, self.info = codec, size, blob_key, checksum, info

    def __call__(self) -> Any:
        return _load_object(get_storage(), self)


def _type_name(obj: Any) -> str:
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


@dataclass
class _EncodedObject:
    """An asset's object turned into bytes, not stored yet, and how to load it again."""

    encoded: Encoded
    inline: bool
    info: dict[str, Any]


def _encode_object(storage: Storage, obj: Any) -> _EncodedObject:
    """Encode ``obj`` for storing, writing nothing; ``ValidationError`` when it cannot be stored."""
    encoded = storage.codecs.encode_with(SKOPS_CODEC, obj)
    if encoded is not None:
        # A model file is always a blob, like an upload: exported and shared by its key.
        info = {"format": SKOPS_CODEC, **encoded.info, "python_type": _type_name(obj)}
        return _EncodedObject(encoded, False, info)
    try:
        encoded = storage.codecs.encode(obj)
    except ValidationError as exc:
        raise ValidationError(f"cannot save the asset's object: {exc}") from exc
    return _EncodedObject(encoded, True, {"format": "value", "python_type": _type_name(obj)})


def _load_object(storage: Storage, ref: _ObjectRef) -> Any:
    if ref.blob_key is None:
        with storage.db.read() as conn:
            data_row = records.object_data(conn, ref.asset_id)
        if data_row is None:
            raise NotFoundError(f"asset {ref.asset_id!r} ({ref.label!r}) was deleted; its object is gone")
    else:
        data_row = ref
    try:
        return storage.values.get(data_row, ref.info)
    except IntegrityError as exc:
        raise IntegrityError(
            f"asset {ref.asset_id!r} ({ref.label!r}, version {ref.version}) cannot be loaded: {exc}"
        ) from exc


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    raise TypeError(f"{_type_name(value)} is not JSON serialisable")


def _metadata_json(asset: Asset, info: dict[str, Any], metadata: Any = None) -> str:
    """The catalogue's metadata document of ``asset`` (``metadata``: its metadata as it will be stored)."""
    if metadata is None:
        metadata = asset.metadata
    if not isinstance(metadata, dict):
        raise ValidationError(f"asset {asset.label!r}: metadata must be a dict, got {_type_name(metadata)}")
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ValidationError(f"asset {asset.label!r}: metadata keys must be strings, got {key!r}")
        try:
            json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"asset {asset.label!r}: metadata {key!r} cannot be stored as JSON ({exc}); keep metadata to "
                "strings, numbers, booleans, lists and dicts and put objects in the asset itself"
            ) from None
    document = {"metadata": metadata, "extra": list(asset._extra), "object": info}
    return json.dumps(document, default=_json_default)


def _to_asset(row: Row) -> Asset:
    # Unpacked by position (the order of records.CATALOGUE_COLUMNS): much cheaper than attribute access
    # when a listing builds thousands of assets.
    (
        asset_id,
        _lineage_id,
        version,
        asset_class,
        description,
        metadata_json,
        codec,
        size,
        blob_key,
        checksum,
        flow_id,
        step_name,
        _created_by,
        time_created,
        time_updated,
        owner,
        label,
        asset_type,
        name,
    ) = row
    document = _json_loads(metadata_json)
    info = document.get("object") or {}
    ref = _ObjectRef(asset_id, label, version, codec, size, blob_key, checksum, info)
    return Asset.restore(
        asset_class,
        id=asset_id,
        label=label,
        type=_TYPES.get(asset_type) or AssetType.parse(asset_type),
        name=name or None,
        description=description,
        version=version,
        metadata=document.get("metadata") or {},
        extra=document.get("extra") or [],
        owner=owner,
        flow_id=flow_id,
        step_name=step_name,
        time_created=as_utc(time_created),
        time_updated=as_utc(time_updated),
        loader=ref,
        source=ref,
    )


# --------------------------------------------------------------------------- saving


def check_serialization_method(asset: Asset, method: Any) -> None:
    """Check that ``method`` (an ``AssetPersistenceMethod`` or its value) can write ``asset``'s object.

    The object is then stored with the codec that gives it back equal and of the same type, which
    for every method the SDK accepts is at least as exact as that method (a frame saved with
    ``"csv"`` keeps its dtypes). An unknown method, or one that cannot write the object, is a
    ``ValidationError``.
    """
    import pandas as pd

    from flowdeck.assets.types import AssetPersistenceMethod

    try:
        chosen = AssetPersistenceMethod(getattr(method, "value", method))
    except ValueError:
        valid = [m.value for m in AssetPersistenceMethod]
        raise ValidationError(
            f"unknown serialization_method {method!r}; use one of {valid} (or None to let flowdeck choose)"
        ) from None
    value = asset.object
    problem: str | None = None
    if chosen is AssetPersistenceMethod.BYTES and not isinstance(value, bytes | bytearray):
        problem = "needs bytes"
    elif chosen in (AssetPersistenceMethod.CSV, AssetPersistenceMethod.EXCEL, AssetPersistenceMethod.PARQUET):
        if not isinstance(value, pd.DataFrame | pd.Series):
            problem = "needs a DataFrame or Series"
    elif chosen is AssetPersistenceMethod.JSON and not isinstance(value, pd.DataFrame | pd.Series):
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            problem = "needs a JSON-safe value (dict, list, str, number, bool, None) or a frame"
    if problem is not None:
        raise ValidationError(
            f"asset {asset.label!r} holds {_type_name(value)}; serialization_method {chosen.value!r} {problem}; "
            "pass another method or None"
        )


@dataclass
class _Save:
    """One version a ``save_asset`` call writes: the asset given, or an unsaved asset it links to."""

    asset: Asset
    label: str
    asset_type: str
    name: str
    new_id: str  # the id if this save inserts a new version (an unsaved linked asset always does)
    metadata: dict[str, Any]
    metadata_json: str = ""
    encoded: _EncodedObject | None = None
    stored: StoredValue | None = None


def _identity(asset: Asset) -> tuple[str, str, str]:
    """The (label, type, name) of ``asset`` as the catalogue keeps them, checked."""
    label = _check_label(asset.label)
    asset_type = AssetType.parse(asset.type).value
    name = asset.name or ""
    if not isinstance(name, str):
        raise ValidationError(f"asset {label!r}: a name must be a string or None, got {name!r}")
    return label, asset_type, name


def _saving_order(asset: Asset) -> list[Asset]:
    """``asset`` and the unsaved assets it links to (at any depth), each once, each after those it links to."""
    order: list[Asset] = []

    def visit(current: Asset, path: tuple[Asset, ...]) -> None:
        for linked in current.unsaved_links():
            if any(linked is seen for seen in (*path, current)):
                raise ValidationError(
                    f"assets {current.label!r} and {linked.label!r} link to each other and neither is saved: "
                    "save one of them first, then link the other to it"
                )
            if not any(linked is done for done in order):
                visit(linked, (*path, current))
        order.append(current)

    visit(asset, ())
    return order


def _metadata_with_links(asset: Asset, ids: dict[int, str]) -> dict[str, Any]:
    """``asset``'s metadata with its links to assets not saved yet recorded by the ids they will get."""
    pending = asset.pending_links()
    if not pending:
        return asset.metadata
    links = dict(asset.metadata.get(LINKS_KEY, {}))
    for link_label, target in pending.items():
        links[link_label] = target.id or ids[id(target)]
    return {**asset.metadata, LINKS_KEY: links}


def _overwrite_target(conn: Connection, who: Principal, asset_id: str, save: _Save) -> Row:
    """The version ``asset_id`` that ``save`` may overwrite (visible, managed by ``who``, same lineage)."""
    target = _visible_row(conn, asset_id, who)
    _require_manager(target, who, "overwrite")
    if (target.label, target.asset_type, target.name) != (save.label, save.asset_type, save.name):
        raise ValidationError(
            f"asset {asset_id!r} is ({target.label!r}, {target.asset_type}, name "
            f"{target.name or None!r}); it cannot be overwritten with ({save.label!r}, {save.asset_type}, name "
            f"{save.name or None!r}). Save without asset_id= to start or extend that lineage"
        )
    return target


def save_asset(
    who: Principal,
    asset: Asset,
    *,
    overwrite: bool = False,
    asset_id: str | None = None,
    flow_id: str | None = None,
    step_name: str | None = None,
) -> str:
    """Save ``asset`` for ``who`` and return the id of the version written.

    A new save of the caller's (label, type, name) is the next version of that lineage.
    ``overwrite=True`` replaces the caller's newest version of it in place (same id and number,
    ``time_created`` kept); ``asset_id`` overwrites exactly that version (``NotFoundError`` when the
    caller may not see it, ``AccessError`` when it is only shared with them). ``asset`` is updated
    with its id, version, owner, run, step and times. Assets it links to (``link_asset``) that are
    not saved yet are saved with it, for ``who``, and linked by their ids.

    All or nothing: every check (names, metadata, objects, access, quota) is made before anything is
    written, and the versions are committed in one transaction; on failure no version is stored (a
    blob already written is left unreferenced, for ``flowdeck gc``) and the assets given are left
    unchanged.
    """
    if not isinstance(asset, Asset):
        raise ValidationError(
            f"save_asset() takes an Asset (Asset, Dataset, Model, Explainer, Schema), got {_type_name(asset)}"
        )
    if overwrite not in (None, True, False):  # overwrite="no" must not overwrite
        raise ValidationError(f"save_asset(): overwrite must be True or False, got {overwrite!r}")
    if asset_id is not None:
        _check_id(asset_id)
    storage = get_storage()
    saves = _prepare_saves(storage, who, asset, overwrite=bool(overwrite), asset_id=asset_id)
    for save in saves:
        if save.stored is None and save.encoded is not None:
            # A blob stored here and left unreferenced by a failure below is gc's to remove: deleting
            # it here could take it from a concurrent save of the same bytes.
            save.stored = storage.values.put_encoded(save.encoded.encoded, inline=save.encoded.inline)
            save.encoded = None  # the bytes are stored: let them go before the next object's
    rows = _write_versions(
        storage, who, saves, overwrite=bool(overwrite), asset_id=asset_id, flow_id=flow_id, step_name=step_name
    )
    for save, row in zip(saves, rows, strict=True):
        saved = _to_asset(row)
        target = save.asset
        declared = getattr(target, "declared_version", None) if target.id is None else None
        if declared is not None and declared != saved.version:
            warnings.warn(
                f"asset {save.label!r}: version={declared!r} is not used; the store numbers each lineage's "
                f"versions itself and this save is version {saved.version} (keep a version of your own in metadata)",
                UserWarning,
                stacklevel=3,
            )
        target.id, target.version, target.owner = saved.id, saved.version, saved.owner
        target.flow_id, target.step_name = saved.flow_id, saved.step_name
        target.time_created, target.time_updated = saved.time_created, saved.time_updated
        target._source = saved._source
    for save in saves:
        save.asset.settle_links()
    return saves[-1].asset.id or ""


def _prepare_saves(
    storage: Storage, who: Principal, asset: Asset, *, overwrite: bool, asset_id: str | None
) -> list[_Save]:
    """Check everything a save can be refused for and encode the objects, writing nothing.

    Returns the versions to write, the unsaved linked assets first and ``asset`` last.
    """
    order = _saving_order(asset)
    identities = [_identity(item) for item in order]
    ids = {id(item): uuid.uuid4().hex for item in order}
    saves = [
        _Save(item, *identity, ids[id(item)], _metadata_with_links(item, ids))
        for item, identity in zip(order, identities, strict=True)
    ]
    for save in saves:
        _metadata_json(save.asset, {}, save.metadata)  # bad metadata is refused before any object is encoded
    new_versions = len(saves) - (1 if overwrite or asset_id is not None else 0)
    if asset_id is not None or new_versions:
        with storage.db.read() as conn:
            if asset_id is not None:
                _overwrite_target(conn, who, asset_id, saves[-1])
            if new_versions:
                quotas.require_room_for_asset_version(conn, who.name)
                if new_versions > 1:
                    _require_room_for_linked(conn, who.name, saves[-1].label, new_versions)
    for save in saves:
        source = save.asset._source
        if not save.asset.is_loaded and isinstance(source, _ObjectRef):
            # The object was never read: the new row refers to the same stored bytes.
            save.stored, info = _stored_of(storage, source), source.info
        else:
            save.encoded = _encode_object(storage, save.asset.object)
            info = save.encoded.info
        save.metadata_json = _metadata_json(save.asset, info, save.metadata)
    return saves


def _require_room_for_linked(conn: Connection, owner: str, label: str, new_versions: int) -> None:
    """``QuotaExceededError`` unless ``owner`` may own ``new_versions`` more asset versions at once."""
    quota = quotas.ASSET_VERSIONS
    limit = quota.limit()
    if not limit:
        return
    current = quota_records.count_asset_versions(conn, owner)
    if current + new_versions <= limit:
        return
    row = user_records.get_user(conn, owner)
    if row is not None and row.role == "admin":
        return
    raise QuotaExceededError(
        f"user {owner!r} has {current:,} {quota.things}; saving {label!r} with the {new_versions - 1} unsaved "
        f"asset(s) it links to would make {current + new_versions:,}, more than their quota allows "
        f"({quota.setting} = {limit:,}); {quota.fix}, or ask the operator to raise {quota.env}",
        setting=quota.setting,
        limit=limit,
        count=current,
    )


def _write_versions(
    storage: Storage,
    who: Principal,
    saves: list[_Save],
    *,
    overwrite: bool,
    asset_id: str | None,
    flow_id: str | None,
    step_name: str | None,
) -> list[Row]:
    """Write every version of ``saves`` in one transaction; the rows written, in the same order."""
    rows: list[Row] = []
    with storage.db.write() as conn:
        user_records.ensure_user(conn, who.name)
        for save in saves:
            assert save.stored is not None
            content = {
                "asset_class": asset_class_name(save.asset),
                "description": save.asset.description,
                "metadata_json": save.metadata_json,
                "stored": save.stored,
                "flow_id": flow_id,
                "step_name": step_name,
                "created_by": who.name,
                "now": utcnow(),
            }
            if save is saves[-1]:
                written = _write_version(conn, who, save, content, overwrite=overwrite, asset_id=asset_id)
            else:
                written = _write_version(conn, who, save, content, overwrite=False, asset_id=None)
            row = records.get_version(conn, written)
            assert row is not None
            rows.append(row)
    return rows


def _write_version(
    conn: Connection,
    who: Principal,
    save: _Save,
    content: dict[str, Any],
    *,
    overwrite: bool,
    asset_id: str | None,
) -> str:
    """Insert or overwrite one version in ``conn``'s transaction; its id."""
    if asset_id is not None:
        _overwrite_target(conn, who, asset_id, save)
        records.update_version(conn, asset_id, **content)
        return asset_id
    label, asset_type, name = save.label, save.asset_type, save.name
    lineage_id = records.find_lineage(conn, who.name, label, asset_type, name)
    if overwrite and (lineage_id is None or records.newest_version_id(conn, lineage_id) is None):
        # overwrite=True replaces "the existing asset with the same label and type", whatever
        # its name; that asset takes the name given now.
        other = records.newest_lineage_of(conn, who.name, label, asset_type)
        if other is not None and other != lineage_id:
            if lineage_id is not None:
                records.delete_lineage(conn, lineage_id)
            records.rename_lineage(conn, other, name)
            lineage_id = other
    if lineage_id is None:
        lineage_id = records.ensure_lineage(conn, uuid.uuid4().hex, who.name, label, asset_type, name)
    records.lock_lineage(conn, lineage_id)
    newest = records.newest_version_id(conn, lineage_id) if overwrite else None
    if newest is not None:
        records.update_version(conn, newest, **content)
        return newest
    quotas.require_room_for_asset_version(conn, who.name)
    records.insert_version(conn, save.new_id, lineage_id, records.next_version(conn, lineage_id), **content)
    return save.new_id


def _stored_of(storage: Storage, ref: _ObjectRef) -> StoredValue:
    inline = None
    if ref.blob_key is None:
        with storage.db.read() as conn:
            data_row = records.object_data(conn, ref.asset_id)
        if data_row is None:
            raise NotFoundError(
                f"asset {ref.asset_id!r} ({ref.label!r}) was deleted before its object was read; "
                "set asset.object before saving it again"
            )
        inline = data_row.inline_data
    return StoredValue(ref.codec, ref.size, inline, ref.blob_key, ref.checksum)


# --------------------------------------------------------------------------- reading


def get_asset_by_id(who: Principal, asset_id: str) -> Asset:
    """Exactly the version with ``asset_id``; ``NotFoundError`` when it does not exist or ``who`` may not see it."""
    with get_storage().db.read() as conn:
        return _to_asset(_visible_row(conn, asset_id, who))


def get_assets(
    who: Principal,
    *,
    label: str | None = None,
    type: AssetType | str | None = None,
    name: str | None = None,
    asset_id: str | None = None,
) -> list[Asset]:
    """Every version ``who`` may see that matches all criteria given, newest first (none given: all)."""
    return _search(who, label=label, type=type, name=name, asset_id=asset_id)


def get_asset(
    who: Principal,
    *,
    label: str | None = None,
    type: AssetType | str | None = None,
    name: str | None = None,
    time_created: str | dt.datetime | None = None,
    asset_id: str | None = None,
) -> Asset | None:
    """The newest version ``who`` may see that matches, or None.

    ``ValidationError`` (a ``ValueError``) when label and type are both None and no asset_id is
    given. ``time_created`` (a datetime or an ISO string) matches the version created at that time,
    to the precision given (``"2024-05-01"`` matches that day, a full timestamp that instant).
    """
    if label is None and type is None and asset_id is None:
        raise ValidationError("get_asset() needs label=, type= or asset_id=; use get_assets() to list every asset")
    window = _created_window(time_created) if time_created is not None else (None, None)
    found = _search(who, label=label, type=type, name=name, asset_id=asset_id, window=window, limit=1)
    return found[0] if found else None


def _search(
    who: Principal,
    *,
    label: str | None,
    type: AssetType | str | None,
    name: str | None,
    asset_id: str | None,
    window: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
    limit: int | None = None,
) -> list[Asset]:
    for what, value in (("label", label), ("name", name), ("asset_id", asset_id)):
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"asset {what} must be a string or None, got {value!r}")
    with get_storage().db.read() as conn:
        rows = records.search(
            conn,
            _viewer(who),
            label=label,
            asset_type=_type_value(type),
            name=name,
            asset_id=asset_id,
            created_from=window[0],
            created_before=window[1],
            limit=limit,
        )
    return [_to_asset(row) for row in rows]


_TIME_PART = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?(?:[.,](\d+))?")


def _created_window(value: str | dt.datetime | dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the creation times ``value`` designates, in UTC."""
    if isinstance(value, dt.datetime):
        start = as_utc(value)
        return start, start + dt.timedelta(microseconds=1)
    if isinstance(value, dt.date):
        start = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        return start, start + dt.timedelta(days=1)
    if not isinstance(value, str):
        raise ValidationError(f"time_created must be an ISO date-time string or a datetime, got {value!r}")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"time_created {value!r} is not an ISO 8601 date-time (e.g. '2024-05-01T10:30:00+00:00')"
        ) from None
    start = as_utc(parsed)
    time_text = re.split(r"[T ]", text, maxsplit=1)[1] if re.search(r"\d[T ]\d", text) else ""
    match = _TIME_PART.match(time_text)
    if not match:
        step = dt.timedelta(days=1)
    elif match.group(4):
        step = dt.timedelta(microseconds=10 ** max(0, 6 - len(match.group(4))))
    elif match.group(3):
        step = dt.timedelta(seconds=1)
    elif match.group(2):
        step = dt.timedelta(minutes=1)
    else:
        step = dt.timedelta(hours=1)
    return start, start + step


# --------------------------------------------------------------------------- managing


def _principal(user: str | Principal | None) -> Principal:
    return user if isinstance(user, Principal) else resolve_principal(user)


def share_asset(
    asset_id: str,
    owner: str | None = None,
    users: str | Iterable[str] | None = None,
    groups: str | Iterable[str] | None = None,
    *,
    register_users: bool = True,
) -> None:
    """Let ``users`` and members of ``groups`` see every version of the asset's lineage.

    ``owner`` is who shares: the lineage's owner or an admin (a user it is only shared with gets
    ``AccessError``; one who cannot see it, ``NotFoundError``). As with ``user=`` arguments, a user
    name seen for the first time is registered; with ``register_users=False`` (the server and the
    CLI) an unknown user name is a ``NotFoundError``.
    """
    who = _principal(owner)
    user_names, group_names = _names(users, "user"), _names(groups, "group")
    with get_storage().db.write() as conn:
        row = _visible_row(conn, asset_id, who)
        access.share(conn, who, _resource(row), user_names, group_names, register_users=register_users)


def unshare_asset(
    asset_id: str,
    owner: str | None = None,
    users: str | Iterable[str] | None = None,
    groups: str | Iterable[str] | None = None,
) -> None:
    """Stop sharing the asset's lineage with ``users`` and ``groups`` (owner or admin only)."""
    who = _principal(owner)
    user_names, group_names = _names(users, "user"), _names(groups, "group")
    with get_storage().db.write() as conn:
        row = _visible_row(conn, asset_id, who)
        access.unshare(conn, who, _resource(row), user_names, group_names)


def asset_shares(asset_id: str, user: str | Principal | None = None) -> list[tuple[str, str]]:
    """(``user``/``group``, name) pairs the asset's lineage is shared with; its owner or an admin only."""
    who = _principal(user)
    with get_storage().db.read() as conn:
        row = _visible_row(conn, asset_id, who)
        _require_manager(row, who, "see the shares of")
        return access.shares_of(conn, _resource(row))


def delete_asset(asset_id: str, user: str | None = None, all_versions: bool = False) -> int:
    """Delete one version (or, with ``all_versions``, its whole lineage); returns how many versions went.

    Only the owner or an admin may delete. A lineage whose last version goes is removed with its
    shares. Stored bytes stay until ``flowdeck gc`` finds nothing else refers to them.
    """
    who = _principal(user)
    with get_storage().db.write() as conn:
        row = _visible_row(conn, asset_id, who)
        _require_manager(row, who, "delete")
        versions = records.lineage_versions(conn, row.lineage_id)
        if all_versions or len(versions) == 1:
            records.delete_lineage(conn, row.lineage_id)
            return len(versions)
        records.delete_version(conn, row.id)
        return 1


def list_assets(
    user: str | None = None,
    label: str | None = None,
    type: AssetType | str | None = None,
    name: str | None = None,
) -> list[Asset]:
    """The versions ``user`` may see that match, newest first."""
    return get_assets(_principal(user), label=label, type=type, name=name)


@dataclass(frozen=True)
class AssetDetails:
    """One version with its lineage: every version (newest first), shares, and how the object is stored."""

    asset: Asset
    versions: list[Asset]
    shares: list[tuple[str, str]] | None
    storage_format: str
    python_type: str | None
    size: int
    created_by: str


def describe_asset(asset_id: str, user: str | None = None) -> AssetDetails:
    """The version ``asset_id`` with its lineage's versions; shares only for its owner or an admin."""
    who = _principal(user)
    with get_storage().db.read() as conn:
        row = _visible_row(conn, asset_id, who)
        versions = [_to_asset(r) for r in records.lineage_versions(conn, row.lineage_id)]
        resource = _resource(row)
        shares = access.shares_of(conn, resource) if access.can_manage(who, resource) else None
    asset = _to_asset(row)
    info = asset._source.info if isinstance(asset._source, _ObjectRef) else {}
    return AssetDetails(asset, versions, shares, row.codec, info.get("python_type"), int(row.size), row.created_by)


#: The format a DataFrame (or Series) stored as Arrow is written in, by the export path's suffix.
_FRAME_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".xlsx": "xlsx",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
#: The suffix naming the format of other codecs' stored bytes, for the hint of a refused suffix.
_STORED_SUFFIXES = {"json": ".json", "str": ".txt", "npy": ".npy", "skops": ".skops", "pickle": ".pkl"}
#: Codecs whose stored bytes are whatever was saved: any suffix may name them.
_RAW_CODECS = frozenset({"bytes", "bytearray", "bytesio", "str"})
#: The most rows (header included) and columns an Excel sheet holds.
_EXCEL_ROWS, _EXCEL_COLUMNS = 1_048_576, 16_384


def export_asset(asset_id: str, path: str | Path, user: str | None = None) -> str:
    """Write the asset's object to ``path`` and return the format written.

    A DataFrame (or Series) is written in the format its path's suffix names: ``.parquet``/``.pq``,
    ``.csv``, ``.json`` (records), ``.xlsx`` (needs openpyxl) or ``.arrow``/``.feather``/``.ipc``
    (its stored Arrow IPC file); another suffix is refused. Anything else is written as its stored
    bytes (raw bytes as they are, the skops file of an estimator, the signed pickle otherwise);
    a suffix naming a table format it is not in (``.csv`` for a model) is refused. Nothing is
    unpickled. A refused or failed export writes nothing: the file appears whole or not at all.
    """
    who = _principal(user)
    target = Path(path).expanduser()
    storage = get_storage()
    with storage.db.read() as conn:
        row = _visible_row(conn, asset_id, who)
        data_row = records.object_data(conn, row.id)
    _check_export_target(target)
    if data_row is None:
        raise _not_found(asset_id, who)
    suffix = target.suffix.lower()
    is_frame = data_row.codec in ("arrow", "arrow-series")
    kind = _export_kind(asset_id, row, data_row.codec, suffix, is_frame)
    try:
        if is_frame and kind != "arrow":
            value = storage.values.get(data_row)
            frame = value.to_frame() if data_row.codec == "arrow-series" else value
            _write_whole(target, lambda part: _write_frame(frame, part, kind))
            return kind
        raw = storage.values.exported(data_row)
    except IntegrityError as exc:
        raise IntegrityError(
            f"asset {asset_id!r} ({row.label!r}, version {row.version}) cannot be exported: {exc}"
        ) from exc
    _write_whole(target, lambda part: part.write_bytes(bytes(raw)))
    return "arrow" if is_frame else data_row.codec


def _export_kind(asset_id: str, row: Any, codec: str, suffix: str, is_frame: bool) -> str:
    """The format an export to a path ending ``suffix`` writes; ValidationError when it cannot write that one."""
    if is_frame:
        kind = _FRAME_SUFFIXES.get(suffix)
        if kind is None:
            names = ", ".join(list(_FRAME_SUFFIXES)[:-1]) + f" or {list(_FRAME_SUFFIXES)[-1]}"
            shown = f"its suffix {suffix!r} is" if suffix else "a path without a suffix is"
            raise ValidationError(
                f"asset {asset_id!r} ({row.label!r}) is a DataFrame, written in the format its path's suffix "
                f"names: {names}; {shown} none of them, so nothing was written"
            )
        if kind == "xlsx" and importlib.util.find_spec("openpyxl") is None:
            raise ValidationError(
                "writing .xlsx needs the openpyxl package (pip install openpyxl); "
                "or give a path ending in .csv, .parquet or .json"
            )
        return kind
    own = _STORED_SUFFIXES.get(codec)
    if codec not in _RAW_CODECS and suffix in _FRAME_SUFFIXES and suffix != own:
        what = "a signed pickle, which export never unpickles" if codec == "pickle" else f"{codec!r}"
        raise ValidationError(
            f"asset {asset_id!r} ({row.label!r}) is not a DataFrame stored as Arrow (it is stored as {what}), "
            f"so it cannot be written as {suffix}; export its stored bytes to a path ending in {own or '.bin'}"
        )
    return codec


def _write_frame(frame: Any, target: Path, kind: str) -> None:
    """Write ``frame`` to ``target`` as ``kind`` (parquet, csv, json or xlsx); its index only when it is not 0..n-1."""
    import pandas as pd

    keep_index = not isinstance(frame.index, pd.RangeIndex)
    if kind == "parquet":
        frame.to_parquet(target)
    elif kind == "csv":
        frame.to_csv(target, index=keep_index)
    elif kind == "json":
        (frame.reset_index() if keep_index else frame).to_json(
            target, orient="records", date_format="iso", force_ascii=False
        )
    else:
        rows, columns = frame.shape[0] + 1, frame.shape[1] + (frame.index.nlevels if keep_index else 0)
        if rows > _EXCEL_ROWS or columns > _EXCEL_COLUMNS:
            raise ValidationError(
                f"the frame has {frame.shape[0]:,} rows and {columns:,} columns, more than an Excel sheet holds "
                f"({_EXCEL_ROWS - 1:,} rows, {_EXCEL_COLUMNS:,} columns); give a path ending in .parquet or .csv"
            )
        frame.to_excel(target, index=keep_index, engine="openpyxl")


def _write_whole(target: Path, write: Any) -> None:
    """Run ``write(part)`` on a file beside ``target``, then rename it to ``target``: a failed write leaves nothing."""
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        write(part)
        os.replace(part, target)
    except ValidationError:
        raise
    except OSError as exc:
        raise ValidationError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError, NotImplementedError) as exc:  # what the pandas writers refuse
        raise ValidationError(f"cannot write {str(target)!r}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)


def _check_export_target(target: Path) -> None:
    """Refuse, before anything is read, an export path that names a directory or lies in a missing one."""
    if target.is_dir():
        raise ValidationError(f"{str(target)!r} is a directory; give a file path to write, e.g. {target / 'asset.csv'}")
    parent = target.parent
    if not parent.is_dir():
        raise ValidationError(f"cannot write {str(target)!r}: the directory {str(parent)!r} does not exist")
