"""Datastore assets: large tables kept queryable in SQL, recorded in the asset catalogue.

``save_datastore_asset`` writes a frame to a table named after the asset (bulk COPY on
PostgreSQL; an overwrite swaps the new rows in atomically) and records a new catalogue version of
type ``DATASTORE`` describing it. ``query_datastore_asset`` runs a SQLAlchemy query in the
database and returns only its result. The catalogue's access rules apply: a datastore asset its
user may not see does not exist for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from flowdeck.assets import Asset, AssetType
from flowdeck.auth import quotas
from flowdeck.auth.users import Principal
from flowdeck.errors import AccessError, AlreadyExistsError, NotFoundError, ValidationError
from flowdeck.storage import datastore as tables
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.external_sql import index_columns
from flowdeck.storage.records.datastore import datastore_owners
from flowdeck.store import assets as asset_service

__all__ = ["query_datastore_asset", "save_datastore_asset"]


def _encode(frame: pd.DataFrame, encode_columns: Iterable[str] | None) -> tuple[pd.DataFrame, list[str]]:
    columns = [encode_columns] if isinstance(encode_columns, str) else list(encode_columns or [])
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise ValidationError(
            f"encode_columns {unknown} are not columns of the frame; its columns are {list(frame.columns)}"
        )
    if not columns:
        return frame, []
    frame = frame.copy()
    for column in columns:
        frame[column] = [None if v is None else json.dumps(v, default=str, sort_keys=True) for v in frame[column]]
    return frame, columns


def _decode(frame: pd.DataFrame, encoded: Sequence[str]) -> pd.DataFrame:
    for column in encoded:
        if column in frame.columns:
            frame[column] = [None if v is None else json.loads(v) for v in frame[column]]
    return frame


def save_datastore_asset(
    who: Principal,
    data: pd.DataFrame,
    name: str,
    *,
    asset_id: str | None = None,
    description: str = "",
    overwrite_if_exists: bool = True,
    encode_columns: Iterable[str] | None = None,
    indexes: Sequence[Sequence[str] | str | Mapping[str, Any]] | None = None,
    flow_id: str | None = None,
    step_name: str | None = None,
) -> str:
    """Write ``data`` to table ``name`` and record a new version of datastore asset ``name``; returns its id.

    ``overwrite_if_exists=False`` refuses (``AlreadyExistsError``) when the table exists.
    ``encode_columns`` are stored as JSON text (lists, dicts, other objects) and decoded on query.
    ``indexes`` are the indexes to make for fast ``where_`` queries: a column, a list of columns, or
    the SDK's ``{"columns": [...], "unique": bool}``.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(f"save_datastore_asset() takes a pandas DataFrame, got {type(data).__name__}")
    name = tables.check_table_name(name)
    with get_storage().db.read() as conn:
        owners = datastore_owners(conn, name)
        if asset_id is None:  # a new version: refuse one over the quota before the table is written
            quotas.require_room_for_asset_version(conn, who.name)
    others = [o for o in owners if o != who.name]
    if others and not who.is_admin:
        raise AccessError(
            f"table name {name!r} belongs to another user's datastore asset; table names are shared by "
            "everyone in the database, so choose another name"
        )
    engine = tables.datastore_engine()
    exists = tables.table_exists(engine, name)
    if exists and not owners:
        raise ValidationError(
            f"a table named {name!r} exists already in the datastore database and is not a datastore asset; "
            "choose another name"
        )
    if exists and not overwrite_if_exists:
        raise AlreadyExistsError(
            f"datastore asset {name!r} exists already; pass overwrite_if_exists=True to replace its rows"
        )
    frame, encoded = _encode(data, encode_columns)
    if isinstance(indexes, str | Mapping):
        indexes = [indexes]
    index_lists: list[Any] = []
    for spec in indexes or []:
        cols, unique = index_columns(spec)
        index_lists.append({"columns": cols, "unique": True} if unique else cols)
    rows = tables.write_table(engine, frame, name, replace=True, indexes=index_lists)
    descriptor = {
        "table": name,
        "rows": rows,
        "columns": [str(c) for c in data.columns],
        "dtypes": {str(c): str(t) for c, t in data.dtypes.items()},
        "encode_columns": encoded,
        "indexes": index_lists,
        "database": "datastore_url" if tables.uses_own_database() else "deployment",
    }
    asset = Asset(descriptor, label=name, type=AssetType.DATASTORE, name=name, description=description or None)
    return asset_service.save_asset(who, asset, asset_id=asset_id, flow_id=flow_id, step_name=step_name)


def _table_of(model: Any) -> sa.Table:
    if isinstance(model, sa.Table):
        return model
    table = getattr(model, "__table__", None)
    if isinstance(table, sa.Table):
        return table
    raise ValidationError(
        "query_datastore_asset() takes a SQLAlchemy model (a declarative class with __tablename__) or a Table, "
        f"got {model!r}"
    )


def _statement(table: sa.Table, select_: Any) -> sa.Select:
    """The SELECT that ``select_`` asks for: a Select, or the SDK's list of column expressions."""
    if select_ is None:
        return sa.select(table)
    if isinstance(select_, sa.Select):
        return select_
    columns = list(select_) if isinstance(select_, list | tuple) else [select_]
    if not columns:
        return sa.select(table)
    try:
        return sa.select(*columns).select_from(table)
    except sa.exc.ArgumentError as exc:
        raise ValidationError(
            "select_ is a SQLAlchemy Select (sqlalchemy.select(...)) or a list of column expressions "
            f"of the model (Model.column, sqlalchemy.func...); got {select_!r}"
        ) from exc


def _filtered(statement: sa.Select, where_: Any) -> sa.Select:
    """``statement`` with every condition of ``where_`` (one expression, or the SDK's list: all must hold)."""
    if where_ is None:
        return statement
    conditions = list(where_) if isinstance(where_, list | tuple) else [where_]
    try:
        return statement.where(*conditions) if conditions else statement
    except sa.exc.ArgumentError as exc:
        raise ValidationError(
            "where_ is a SQLAlchemy boolean expression of the model's columns (Model.column == value) "
            f"or a list of them; got {where_!r}"
        ) from exc


def query_datastore_asset(
    who: Principal,
    model: Any,
    select_: sa.Select | Sequence[Any] | None = None,
    where_: Any = None,
    name: str | None = None,
    asset_id: str | None = None,
) -> pd.DataFrame:
    """Run ``select_`` (default: every column of ``model``) filtered by ``where_`` in the database.

    ``select_`` is a ``sqlalchemy.select(...)`` or, as in the SDK, a list of column expressions
    (``[Model.a, sqlalchemy.func.sum(Model.b)]``); ``where_`` is one boolean expression or, as in
    the SDK, a list of them that must all hold. The asset is ``asset_id``, else the newest
    datastore asset called ``name`` (default: the model's table name) that ``who`` may see;
    ``NotFoundError`` when there is none.
    """
    table = _table_of(model)
    wanted = name or table.name
    if asset_id is not None:
        asset = asset_service.get_asset_by_id(who, asset_id)
        if asset.type != AssetType.DATASTORE:
            raise NotFoundError(f"asset {asset_id!r} is a {asset.type.value} asset, not a datastore asset")
    else:
        asset = asset_service.get_asset(who, label=wanted, type=AssetType.DATASTORE)
        if asset is None:
            raise NotFoundError(f"no datastore asset {wanted!r} visible to user {who.name!r}")
    descriptor = asset.object
    table_name = descriptor["table"]
    if table.name != table_name:
        raise ValidationError(
            f"the model describes table {table.name!r} but datastore asset {asset.label!r} is table {table_name!r}; "
            f"use a model with __tablename__ = {table_name!r}"
        )
    statement = _filtered(_statement(table, select_), where_)
    frame = tables.run_select(tables.datastore_engine(), statement, table_name)
    return _decode(frame, descriptor.get("encode_columns") or [])
