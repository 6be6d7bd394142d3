"""Named database connections: stored with encrypted secrets, shared, and used to move DataFrames.

Only the owner (or an admin) manages a connection; whoever it is shared with may use it. To anyone
else it does not exist.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flowdeck.auth import access
from flowdeck.auth.secrets import SecretBox, new_key
from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.config import on_configure, reconfigure, secret_keys
from flowdeck.elements.inputs import register_connection_lister
from flowdeck.errors import AlreadyExistsError, NotFoundError, ValidationError
from flowdeck.storage import external_sql
from flowdeck.storage.connection_urls import SQL_CONNECTION_TYPES, ConnectionSpec, ConnectionType
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import connections as records
from flowdeck.storage.records import users as user_records

__all__ = [
    "ConnectionInfo",
    "KeyRotation",
    "add_connection",
    "connection_shares",
    "db_to_pandas",
    "get_boto3_s3_client",
    "list_connections",
    "pandas_to_db",
    "remove_connection",
    "rotate_key",
    "share_connection",
    "test_connection",
    "unshare_connection",
]

_engines = external_sql.EngineCache()
on_configure(lambda _settings: _engines.dispose_all())
# pandas.read_sql's and DataFrame.to_sql's own keywords are taken as pandas takes them; ``columns``
# (read_sql_table only) and ``method`` (flowdeck writes through its own bulk path) change nothing.
_READ_OPTIONS = {
    "params", "chunksize", "index_col", "parse_dates", "dtype", "http_path", "coerce_float", "columns", "dtype_backend",
}  # fmt: skip
_WRITE_OPTIONS = {"index", "chunksize", "dtype", "schema", "http_path", "index_label", "method"}


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """What anyone allowed to see a connection may know of it: everything but the secret."""

    name: str
    owner: str
    type: ConnectionType
    host: str | None
    port: int | None
    database: str | None
    username: str | None
    params: dict[str, Any]
    has_secret: bool
    shared_with: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (never containing the secret)."""
        data = dataclasses.asdict(self)
        data["type"] = self.type.value
        return data


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError(f"a connection name must be a non-empty string of at most 200 characters, got {name!r}")
    return name


def add_connection(
    name: str,
    type: str | ConnectionType,
    owner: str | None = None,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    username: str | None = None,
    password: str | None = None,
    **params: Any,
) -> ConnectionInfo:
    """Store a named connection of ``owner``'s; the password is encrypted before it is stored.

    Extra keyword arguments are kept as the connection's params (Databricks ``http_path``,
    Snowflake ``account``/``warehouse``, ...). ``AlreadyExistsError`` if the owner has one of that name.
    """
    _check_name(name)
    who = resolve_principal(owner)
    spec = ConnectionSpec(
        name=name,
        type=type,
        host=host,
        port=port,
        database=database,
        username=username,
        secret=password,
        params=params,
    )
    try:
        json.dumps(spec.params)
    except TypeError as exc:
        raise ValidationError(f"connection {name!r}: params must be JSON values ({exc})") from exc
    token = SecretBox(get_storage().settings).encrypt(password) if password is not None else None
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, who.name)
        created = records.insert_connection(
            conn,
            {
                "id": uuid.uuid4().hex,
                "owner": who.name,
                "name": name,
                "conn_type": spec.type.value,
                "host": host,
                "port": spec.port,
                "database": database,
                "username": username,
                "secret_token": token,
                "params_json": json.dumps(spec.params),
            },
        )
    if not created:
        raise AlreadyExistsError(
            f"user {who.name!r} has a connection named {name!r} already; remove it first or pick another name"
        )
    return _info_for(who, name, who.name)


def _resource(row: Any) -> access.Resource:
    """The connection as the access rules see it."""
    return access.Resource("connection", row.id, row.owner, f"connection {row.name!r}")


def _row_for(conn: Any, who: Principal, name: str, owner: str | None) -> Any:
    """The row of connection ``name`` (of ``owner``, default the asker) if ``who`` may use it."""
    _check_name(name)
    owner_name = owner or who.name
    row = records.get_connection(conn, owner_name, name)
    if row is None or not access.can_act(conn, who, _resource(row)):
        asked = f"{name!r}" if owner is None else f"{name!r} of user {owner!r}"
        raise NotFoundError(f"no connection {asked}")
    return row


def _info(conn: Any, row: Any) -> ConnectionInfo:
    shares = [f"{kind}:{principal}" for kind, principal in access.shares_of(conn, _resource(row))]
    return ConnectionInfo(
        name=row.name,
        owner=row.owner,
        type=ConnectionType(row.conn_type),
        host=row.host,
        port=row.port,
        database=row.database,
        username=row.username,
        params=json.loads(row.params_json or "{}"),
        has_secret=row.secret_token is not None,
        shared_with=shares,
    )


def _info_for(who: Principal, name: str, owner: str | None) -> ConnectionInfo:
    with get_storage().db.read() as conn:
        return _info(conn, _row_for(conn, who, name, owner))


def _manageable(conn: Any, who: Principal, name: str, owner: str | None, action: str) -> Any:
    row = _row_for(conn, who, name, owner)
    access.require_manage(who, _resource(row), action)
    return row


def share_connection(
    name: str,
    owner: str | None = None,
    users: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    *,
    user: str | None = None,
    register_users: bool = True,
) -> ConnectionInfo:
    """Let ``users`` and members of ``groups`` use ``owner``'s connection ``name``.

    ``user`` is who acts when it is not the owner (an admin); a user the connection is only
    shared with gets ``AccessError``. As with ``user=`` arguments, a user name seen for the first
    time is registered; with ``register_users=False`` (the server and the CLI) an unknown user name
    is a ``NotFoundError``.
    """
    who = resolve_principal(user or owner)
    with get_storage().db.write() as conn:
        row = _manageable(conn, who, name, owner, "share")
        access.share(conn, who, _resource(row), users, groups, register_users=register_users)
    return _info_for(who, name, owner)


def unshare_connection(
    name: str,
    owner: str | None = None,
    users: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    *,
    user: str | None = None,
) -> ConnectionInfo:
    """Stop letting ``users`` and members of ``groups`` use ``owner``'s connection ``name``.

    ``user`` is who acts when it is not the owner (an admin). Revoking a share that does not
    exist changes nothing.
    """
    who = resolve_principal(user or owner)
    with get_storage().db.write() as conn:
        row = _manageable(conn, who, name, owner, "unshare")
        access.unshare(conn, who, _resource(row), users, groups)
    return _info_for(who, name, owner)


def connection_shares(name: str, owner: str | None = None, *, user: str | None = None) -> list[tuple[str, str]]:
    """(``user``/``group``, name) pairs ``owner``'s connection is shared with; its owner or an admin only."""
    who = resolve_principal(user or owner)
    with get_storage().db.read() as conn:
        row = _manageable(conn, who, name, owner, "see the shares of")
        return access.shares_of(conn, _resource(row))


def remove_connection(name: str, owner: str | None = None, *, user: str | None = None) -> None:
    """Delete ``owner``'s connection ``name`` (its secret goes with it); ``user`` acts if not the owner."""
    who = resolve_principal(user or owner)
    with get_storage().db.write() as conn:
        row = _manageable(conn, who, name, owner, "remove")
        records.delete_connection(conn, row.id)
    _engines.dispose(name)


def list_connections(user: str | None = None) -> list[ConnectionInfo]:
    """Connections ``user`` owns or may use (admins: all), without secrets."""
    who = resolve_principal(user)
    with get_storage().db.read() as conn:
        rows = records.visible_connections(conn, access.audience(who))
        return [_info(conn, row) for row in rows]


def _spec(who: Principal, name: str, owner: str | None) -> ConnectionSpec:
    storage = get_storage()
    with storage.db.read() as conn:
        row = _row_for(conn, who, name, owner)
    secret = SecretBox(storage.settings).decrypt(row.secret_token, name) if row.secret_token else None
    return ConnectionSpec(
        name=row.name,
        type=row.conn_type,
        host=row.host,
        port=row.port,
        database=row.database,
        username=row.username,
        secret=secret,
        params=json.loads(row.params_json or "{}"),
    )


def _sql_engine(who: Principal, name: str, owner: str | None, http_path: str | None) -> Any:
    spec = _spec(who, name, owner)
    if spec.type not in SQL_CONNECTION_TYPES:
        raise ValidationError(f"connection {name!r} is of type {spec.type.value}, not a SQL database")
    overrides = {"http_path": http_path} if http_path else {}
    return _engines.get_engine(spec, **overrides)


def _check_options(kwargs: dict[str, Any], allowed: set[str], method: str) -> None:
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValidationError(f"{method}() got unknown options {unknown}; it takes {sorted(allowed)}")


def db_to_pandas(
    who: Principal, query: str, conn_name: str, connection_owner: str | None = None, **kwargs: Any
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Run ``query`` through a stored connection; a DataFrame (an iterator of them with ``chunksize``)."""
    _check_options(kwargs, _READ_OPTIONS, "db_to_pandas")
    engine = _sql_engine(who, conn_name, connection_owner, kwargs.get("http_path"))
    result = external_sql.read_frame(engine, query, params=kwargs.get("params"), chunksize=kwargs.get("chunksize"))
    shape = {
        k: kwargs[k]
        for k in ("index_col", "parse_dates", "dtype", "coerce_float", "dtype_backend")
        if kwargs.get(k) is not None
    }
    if not shape:
        return result
    if isinstance(result, pd.DataFrame):
        return _shape_frame(result, **shape)
    return (_shape_frame(chunk, **shape) for chunk in result)


def _shape_frame(
    frame: pd.DataFrame,
    index_col: Any = None,
    parse_dates: Any = None,
    dtype: Any = None,
    coerce_float: bool | None = None,
    dtype_backend: str | None = None,
) -> pd.DataFrame:
    if coerce_float:
        # As pandas does: decimal values become floats.
        for column in [c for c, kind in frame.dtypes.items() if kind == np.dtype(object)]:
            if frame[column].map(lambda v: isinstance(v, decimal.Decimal)).any():
                frame[column] = frame[column].map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v)
    if dtype_backend is not None:
        frame = frame.convert_dtypes(dtype_backend=dtype_backend)
    for column in [parse_dates] if isinstance(parse_dates, str) else (parse_dates or []):
        frame[column] = pd.to_datetime(frame[column])
    if dtype is not None:
        frame = frame.astype(dtype)
    if index_col is not None:
        frame = frame.set_index(index_col)
    return frame


def pandas_to_db(
    who: Principal,
    df: pd.DataFrame,
    table: str,
    conn_name: str,
    connection_owner: str | None = None,
    if_exists: str = "fail",
    **kwargs: Any,
) -> int:
    """Write ``df`` to ``table`` through a stored connection, whole or not at all; returns the row count."""
    _check_options(kwargs, _WRITE_OPTIONS, "pandas_to_db")
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"pandas_to_db() takes a DataFrame, got {type(df).__name__}")
    if not isinstance(table, str) or not table:
        raise ValidationError(f"pandas_to_db() needs a table name, got {table!r}")
    engine = _sql_engine(who, conn_name, connection_owner, kwargs.get("http_path"))
    target = f"{kwargs['schema']}.{table}" if kwargs.get("schema") else table
    if kwargs.get("index") and kwargs.get("index_label") is not None:
        label = kwargs["index_label"]
        df = df.rename_axis(list(label) if isinstance(label, list | tuple) else label)
    return external_sql.write_frame(
        engine,
        df,
        target,
        if_exists=if_exists,
        index=bool(kwargs.get("index", False)),
        chunksize=kwargs.get("chunksize"),
        dtype=kwargs.get("dtype"),
    )


def test_connection(name: str, user: str | None = None, connection_owner: str | None = None) -> str:
    """Connect through a stored connection and return the server's product and version."""
    who = resolve_principal(user)
    return external_sql.server_version(_sql_engine(who, name, connection_owner, None))


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def get_boto3_s3_client(who: Principal, name: str, owner: str | None = None) -> Any:
    """A boto3 S3 client made from a stored connection of type ``s3``."""
    from flowdeck.storage.object_store import boto3_client_from_connection

    spec = _spec(who, name, owner)
    if spec.type is not ConnectionType.s3:
        raise ValidationError(f"connection {name!r} is of type {spec.type.value}, not s3")
    return boto3_client_from_connection(
        {
            "host": spec.host,
            "port": spec.port,
            "username": spec.username,
            "secret": spec.secret,
            "params": spec.params,
        }
    )


@dataclasses.dataclass(frozen=True)
class KeyRotation:
    """The outcome of a key rotation: how many secrets were re-encrypted and where the keys now live."""

    reencrypted: int
    key_file: Path | None
    secret_key_setting: str | None


def rotate_key(key: str | None = None) -> KeyRotation:
    """Make ``key`` (default: a new one) the deployment's newest key and re-encrypt every secret with it.

    The old keys stay configured after the new one (they still verify values signed with them).
    When the keys come from ``$FLOWDECK_HOME/secret.key`` that file is rewritten; when they come
    from ``FLOWDECK_SECRET_KEY``, the returned ``secret_key_setting`` is the value to set there.
    """
    storage = get_storage()
    settings = storage.settings
    old_keys = secret_keys(settings)
    fresh = key or new_key()
    combined = ",".join([fresh, *[k for k in old_keys if k != fresh]])
    box = SecretBox(dataclasses.replace(settings, secret_key=combined))
    count = 0
    with storage.db.write() as conn:
        for row in records.all_connections(conn):
            if row.secret_token:
                records.update_secret_token(conn, row.id, box.rotate(row.secret_token, row.name))
                count += 1
    key_file = settings.home / "secret.key"
    from_file = (
        os.environ.get("FLOWDECK_SECRET_KEY") is None
        and key_file.exists()
        and (key_file.read_text().strip() == settings.secret_key)
    )
    if from_file:
        tmp = key_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(combined + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, key_file)
    reconfigure(secret_key=combined)
    _engines.dispose_all()
    return KeyRotation(count, key_file if from_file else None, None if from_file else combined)


register_connection_lister(list_connections)
