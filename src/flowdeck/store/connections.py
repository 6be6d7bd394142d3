"""Named database connections: stored with encrypted secrets, shared, and used to move DataFrames.

Only the owner (or an admin) manages a connection; whoever it is shared with may use it. To anyone
else it does not exist.

Each connection type takes an allow-list of params; those naming files on the server are accepted
from admins only, and those whose names look secret are encrypted like the password and never shown.
SQLite connections stay inside the ``sqlite_dir`` setting. With ``restricted=True`` (the server, for
non-admin users) loopback and link-local targets are refused unless ``allow_private_targets`` is set;
a connection added that way is checked again on every use, by steps too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import decimal
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flowdeck.auth import access, quotas
from flowdeck.auth.secrets import SecretBox, new_key
from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.config import Settings, on_configure, reconfigure, secret_keys
from flowdeck.elements.inputs import register_connection_lister
from flowdeck.errors import (
    AccessError,
    AlreadyExistsError,
    FlowdeckError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)
from flowdeck.storage import external_sql
from flowdeck.storage.connection_urls import (
    SQL_CONNECTION_TYPES,
    ConnectionSpec,
    ConnectionType,
    Timeouts,
    check_params,
    private_target,
    target_hosts,
    unclear_targets,
)
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
    protected_params: list[str] = dataclasses.field(default_factory=list)

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
    *,
    user: str | None = None,
    restricted: bool = False,
    **params: Any,
) -> ConnectionInfo:
    """Store a named connection of ``owner``'s; the password is encrypted before it is stored.

    Extra keyword arguments are the connection's params (Databricks ``http_path``, Snowflake
    ``account``/``warehouse``, PostgreSQL ``sslmode``, ...), checked against the type's allow-list
    (``ValidationError`` naming the accepted ones). Params naming files on the server
    (``sslrootcert``, ``read_default_file``, ...) need an admin: ``user`` is who acts when it is
    not the owner. Params whose names look secret are encrypted like the password. ``restricted``
    refuses loopback and link-local targets to non-admins (the server sets it).
    ``AlreadyExistsError`` if the owner has one of that name.
    """
    _check_name(name)
    who = resolve_principal(owner)
    actor = resolve_principal(user) if user is not None and user != who.name else who
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
    checked = check_params(name, spec.type, spec.params)
    if checked.admin_only and not actor.is_admin:
        raise AccessError(
            f"connection {name!r}: params {checked.admin_only} name files or services on the server; "
            "only an admin may set them (an admin adds it with user=<admin>, or --by <admin> on the command line)"
        )
    settings = get_storage().settings
    if spec.type is ConnectionType.sqlite:
        _sqlite_path(settings, name, database)
    if restricted:
        _check_targets(settings, actor, spec)
    box = SecretBox(settings)
    token = box.encrypt(password) if password is not None else None
    params_token = box.encrypt(json.dumps(checked.secret)) if checked.secret else None
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, who.name)
        if records.get_connection(conn, who.name, name) is None:  # a duplicate name is AlreadyExistsError
            quotas.require_room_for_connection(conn, who.name)
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
                "secret_params_token": params_token,
                "params_json": json.dumps(checked.plain),
                "created_by": actor.name,
                "restricted": bool(restricted and not actor.is_admin),
            },
        )
    if not created:
        raise AlreadyExistsError(
            f"user {who.name!r} has a connection named {name!r} already; remove it first or pick another name"
        )
    return _info_for(actor, name, who.name)


def _sqlite_path(settings: Settings, name: str, database: str | None) -> str:
    """The real path of a sqlite connection's file, which must lie inside ``settings.sqlite_dir``.

    Relative paths are taken inside that directory; ``..`` and symbolic links are followed before
    the check, so neither can lead out of it.
    """
    root_setting = settings.sqlite_dir or settings.home / "sqlite"
    if database in (None, ""):
        raise ValidationError(f"connection {name!r} of type sqlite needs a database file path")
    if database == ":memory:":
        return database
    root = Path(os.path.realpath(root_setting))
    given = Path(str(database))
    real = Path(os.path.realpath(given if given.is_absolute() else root / given))
    if real != root and not real.is_relative_to(root):
        raise ValidationError(
            f"connection {name!r}: sqlite database {str(database)!r} is outside the sqlite directory {str(root)!r}; "
            "give a path inside it (a relative path is taken inside it) or change FLOWDECK_SQLITE_DIR"
        )
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(real)


def _check_targets(settings: Settings, who: Principal, spec: ConnectionSpec) -> None:
    """Refuse a target on this machine or its link to a non-admin, unless the deployment allows it."""
    if who.is_admin or settings.allow_private_targets:
        return
    unclear = unclear_targets(spec)
    if unclear:
        # What the driver would reach is not what the check below would look at.
        raise ValidationError(
            f"connection {spec.name!r}: {'; '.join(unclear)}; give a plain host name or IP address "
            "(and a plain http(s) URL for URL params)"
        )
    for host in target_hosts(spec):
        reason = private_target(host)
        if reason is not None:
            raise AccessError(
                f"connection {spec.name!r}: {reason}; this server does not let users reach loopback or "
                "link-local addresses or cloud metadata services (an admin may add the connection, or allow "
                "such targets with "
                "FLOWDECK_ALLOW_PRIVATE_TARGETS=true)"
            )


def _resource(row: Any) -> access.Resource:
    """The connection as the access rules see it."""
    return access.Resource("connection", row.id, row.owner, f"connection {row.name!r}")


def _row_for(conn: Any, who: Principal, name: str, owner: str | None, owner_param: str | None = None) -> Any:
    """The row of connection ``name`` (of ``owner``, default the asker) if ``who`` may use it.

    With ``owner_param`` (the caller's name for the owner argument) and no ``owner``, a miss says
    which users share a connection of that name with ``who``, and how to pass the owner.
    """
    _check_name(name)
    owner_name = owner or who.name
    row = records.get_connection(conn, owner_name, name)
    if row is None or not access.can_act(conn, who, _resource(row)):
        asked = f"{name!r}" if owner is None else f"{name!r} of user {owner!r}"
        hint = _shared_hint(conn, who, name, owner_param) if owner is None and owner_param else ""
        raise NotFoundError(f"no connection {asked}{hint}")
    return row


def _shared_hint(conn: Any, who: Principal, name: str, owner_param: str) -> str:
    """``"; 'x' is shared with you by 'alice': pass owner_param='alice'"``, or ``""`` when nobody shares it.

    Only connections shared with ``who`` (or a group of theirs) are named, admins included: an
    unshared connection of another user must stay invisible, as the NotFoundError it answers says.
    """
    shared_only = dataclasses.replace(access.audience(who), everyone=False)
    owners = [
        row.owner
        for row in records.visible_connections(conn, shared_only)
        if row.name == name and row.owner != who.name
    ]
    if not owners:
        return ""
    if len(owners) == 1:
        return f"; {name!r} is shared with you by {owners[0]!r}: pass {owner_param}={owners[0]!r}"
    listed = ", ".join(repr(o) for o in owners)
    return f"; {name!r} is shared with you by {listed}: pass {owner_param}= one of them"


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
        protected_params=_protected_names(row),
    )


def _protected_names(row: Any) -> list[str]:
    """The names (not the values) of a connection's secret params."""
    if not row.secret_params_token:
        return []
    try:
        return sorted(_secret_params(get_storage().settings, row))
    except IntegrityError:
        return []  # listing still works when a key is missing; using the connection says why


def _secret_params(settings: Settings, row: Any) -> dict[str, Any]:
    if not row.secret_params_token:
        return {}
    return dict(json.loads(SecretBox(settings).decrypt(row.secret_params_token, row.name)))


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
    return _load(who, name, owner)[0]


def _load(who: Principal, name: str, owner: str | None) -> tuple[ConnectionSpec, bool]:
    """The connection in clear, and whether an admin stored it."""
    storage = get_storage()
    with storage.db.read() as conn:
        row = _row_for(conn, who, name, owner, owner_param="connection_owner")
        creator = user_records.get_user(conn, row.created_by or row.owner)
    settings = storage.settings
    secret = SecretBox(settings).decrypt(row.secret_token, name) if row.secret_token else None
    plain = json.loads(row.params_json or "{}")
    spec = ConnectionSpec(
        name=row.name,
        type=row.conn_type,
        host=row.host,
        port=row.port,
        database=row.database,
        username=row.username,
        secret=secret,
        params={**plain, **_secret_params(settings, row)},
    )
    # Rows stored before the allow-lists existed are held to them too (kept encrypted or not).
    checked = check_params(name, spec.type, spec.params)
    by_admin = creator is not None and creator.role == "admin"
    if checked.admin_only and not by_admin:
        raise AccessError(
            f"connection {name!r} has params {checked.admin_only} that only an admin may set, "
            "and no admin stored it; an admin must store it again"
        )
    if spec.type is ConnectionType.sqlite:
        spec.database = _sqlite_path(settings, name, spec.database)
    if row.restricted and not by_admin:
        # Checked again on every use: a name may resolve elsewhere than when it was added.
        _check_targets(settings, Principal(row.created_by or row.owner), spec)
    return spec, by_admin


def _timeouts(settings: Settings, test: bool = False) -> Timeouts:
    read = settings.connection_test_timeout if test else settings.query_timeout
    return Timeouts(connect=settings.connect_timeout, read=read)


def _sql_spec(who: Principal, name: str, owner: str | None) -> ConnectionSpec:
    return _sql_load(who, name, owner)[0]


def _sql_load(who: Principal, name: str, owner: str | None) -> tuple[ConnectionSpec, bool]:
    spec, by_admin = _load(who, name, owner)
    if spec.type not in SQL_CONNECTION_TYPES:
        raise ValidationError(f"connection {name!r} is of type {spec.type.value}, not a SQL database")
    return spec, by_admin


def _sql_engine(who: Principal, name: str, owner: str | None, http_path: str | None) -> Any:
    spec = _sql_spec(who, name, owner)
    overrides = {"http_path": http_path} if http_path else {}
    return _engines.get_engine(spec, timeouts=_timeouts(get_storage().settings), **overrides)


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
    release = _QUERIES.acquire(who.name, get_storage().settings)
    try:
        result = external_sql.read_frame(engine, query, params=kwargs.get("params"), chunksize=kwargs.get("chunksize"))
    except BaseException as exc:
        release()
        _say_where(exc, conn_name, engine.dialect.name)
        raise
    if isinstance(result, pd.DataFrame):
        release()
    else:
        dialect = engine.dialect.name
        result = _Releasing(result, release, lambda exc: _say_where(exc, conn_name, dialect))
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


def _say_where(exc: BaseException, conn_name: str, dialect: str) -> None:
    """Add to the database's own error (its type kept) which connection ran the query, and what to check."""
    add_detail = getattr(exc, "add_detail", None)  # SQLAlchemy's errors of a statement
    if callable(add_detail):
        add_detail(f"db_to_pandas on connection {conn_name!r} ({dialect}): check the SQL, its table and column names")


class _UserQueries:
    """How many queries each user has running in this process, at most ``queries_per_user``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy: dict[str, int] = {}

    def acquire(self, user: str, settings: Settings) -> Callable[[], None]:
        """Wait (up to ``query_timeout``) for a free slot of ``user``'s; returns the function that frees it."""
        cap = settings.queries_per_user
        deadline = time.monotonic() + settings.query_timeout
        with self._cond:
            while self._busy.get(user, 0) >= cap:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FlowdeckError(
                        f"user {user!r} has {cap} database queries running already (FLOWDECK_QUERIES_PER_USER) "
                        f"and none ended within {settings.query_timeout:g} s; try again when they have"
                    )
                self._cond.wait(left)
            self._busy[user] = self._busy.get(user, 0) + 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._cond:
                left = self._busy.get(user, 0) - 1
                if left > 0:
                    self._busy[user] = left
                else:
                    self._busy.pop(user, None)
                self._cond.notify_all()

        return release

    @contextlib.contextmanager
    def held(self, user: str, settings: Settings) -> Iterator[None]:
        """A slot of ``user``'s for the duration of the block."""
        release = self.acquire(user, settings)
        try:
            yield
        finally:
            release()

    def running(self, user: str) -> int:
        """How many queries ``user`` has running."""
        with self._cond:
            return self._busy.get(user, 0)


_QUERIES = _UserQueries()


class _Releasing:
    """The chunks of a read; the query's slot is freed when they are used up, closed or dropped.

    ``on_error`` sees an error the read raises (the query runs when the first chunk is asked for).
    """

    def __init__(
        self,
        chunks: Iterator[pd.DataFrame],
        release: Callable[[], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._chunks = chunks
        self._release = release
        self._on_error = on_error

    def __iter__(self) -> _Releasing:
        return self

    def __next__(self) -> pd.DataFrame:
        try:
            return next(self._chunks)
        except StopIteration:
            self._release()
            raise
        except BaseException as exc:  # the read is over either way
            self._release()
            if self._on_error is not None:
                self._on_error(exc)
            raise

    def close(self) -> None:
        """Stop reading and free the slot."""
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            self._release()

    def __del__(self) -> None:
        self._release()


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
    with _QUERIES.held(who.name, get_storage().settings):
        return _write(engine, df, target, if_exists, kwargs)


def _write(engine: Any, df: pd.DataFrame, target: str, if_exists: str, kwargs: dict[str, Any]) -> int:
    return external_sql.write_frame(
        engine,
        df,
        target,
        if_exists=if_exists,
        index=bool(kwargs.get("index", False)),
        chunksize=kwargs.get("chunksize"),
        dtype=kwargs.get("dtype"),
    )


def test_connection(
    name: str, user: str | None = None, connection_owner: str | None = None, *, restricted: bool = False
) -> str:
    """Connect through a stored connection and return the server's product and version.

    The test uses its own connection with the ``connection_test_timeout`` read timeout. With
    ``restricted`` (the server, for non-admin users) a target that resolves to a loopback or
    link-local address is refused unless an admin stored the connection or the deployment allows
    such targets.
    """
    who = resolve_principal(user)
    spec, by_admin = _sql_load(who, name, connection_owner)
    settings = get_storage().settings
    if restricted and not by_admin:
        _check_targets(settings, who, spec)
    return external_sql.test_server(spec, _timeouts(settings, test=True))


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def get_boto3_s3_client(who: Principal, name: str, owner: str | None = None, region_name: str | None = None) -> Any:
    """A boto3 S3 client made from a stored connection of type ``s3`` (``region_name`` replaces its region).

    A connection without an access key uses the server's own credentials, so only one an admin
    stored may do that.
    """
    from flowdeck.storage.object_store import boto3_client_from_connection

    spec, by_admin = _load(who, name, owner)
    if spec.type is not ConnectionType.s3:
        raise ValidationError(f"connection {name!r} is of type {spec.type.value}, not s3")
    if not spec.username and not by_admin:
        # Without keys boto3 falls back to the server's own credentials (environment, instance role).
        raise AccessError(
            f"s3 connection {name!r} has no access key, so it would use the server's own AWS credentials; "
            "store it with an access key id (username) and secret, or have an admin store it"
        )
    return boto3_client_from_connection(
        {
            "host": spec.host,
            "port": spec.port,
            "username": spec.username,
            "secret": spec.secret,
            "params": spec.params if region_name is None else {**spec.params, "region": str(region_name)},
        }
    )


@dataclasses.dataclass(frozen=True)
class KeyRotation:
    """The outcome of a key rotation: what was re-encrypted and re-signed, and where the keys now live."""

    reencrypted: int
    key_file: Path | None
    secret_key_setting: str | None
    resigned: int = 0
    retired: int = 0
    unverified: tuple[str, ...] = ()


def rotate_key(key: str | None = None, *, retire_old: bool = False) -> KeyRotation:
    """Make ``key`` (default: a new one) the deployment's newest key; re-encrypt and re-sign with it.

    Every connection secret (password and secret params) is re-encrypted under the new key, every
    signed pickle and skops file is re-signed with keys derived from it. Without ``retire_old`` the
    old keys stay configured after the new one; with it they are dropped once everything has been
    re-encrypted and re-signed. Values whose signature no configured key verifies are not re-signed
    (they are listed in ``unverified``); they stay refused.

    When the keys come from ``$FLOWDECK_HOME/secret.key`` that file is rewritten (first with the new
    key added, so that a crash part-way leaves every value readable); when they come from
    ``FLOWDECK_SECRET_KEY``, the returned ``secret_key_setting`` is the value to set there.
    Other processes using the deployment must be stopped while old keys are retired, and started
    again with the new setting.
    """
    from flowdeck.auth.keys import derive_key, signing_keys
    from flowdeck.storage.codecs import SKOPS_SIGNING_PURPOSE as _SKOPS_PURPOSE
    from flowdeck.storage.codecs import _skops_mac
    from flowdeck.storage.resign import resign_stored_values

    storage = get_storage()
    settings = storage.settings
    old_keys = secret_keys(settings)
    fresh = key or new_key()
    combined = ",".join([fresh, *[k for k in old_keys if k != fresh]])
    both = dataclasses.replace(settings, secret_key=combined)
    secret_keys(both)  # a malformed key given by the caller is refused before anything changes
    key_file = settings.home / "secret.key"
    from_file = (
        os.environ.get("FLOWDECK_SECRET_KEY") is None
        and key_file.exists()
        and (key_file.read_text().strip() == settings.secret_key)
    )
    if retire_old and not from_file and key is None:
        raise ValidationError(
            "FLOWDECK_SECRET_KEY comes from the environment: store the new key where that setting comes from "
            "first, then pass it (make one with `flowdeck keys new`; `flowdeck keys rotate --retire-old "
            "--key-stdin` reads it), so that no value is ever signed with a key kept nowhere"
        )
    if from_file:
        _write_key_file(key_file, combined)

    box = SecretBox(both)
    count = 0
    with storage.db.write() as conn:
        for row in records.all_connections(conn):
            if row.secret_token:
                records.update_secret_token(conn, row.id, box.rotate(row.secret_token, row.name))
                count += 1
            if row.secret_params_token:
                records.update_secret_params_token(conn, row.id, box.rotate(row.secret_params_token, row.name))

    skops_verify = signing_keys(both, _SKOPS_PURPOSE)
    skops_sign = derive_key(fresh, _SKOPS_PURPOSE)

    def resign_skops(data: bytes, info: dict[str, Any]) -> dict[str, Any] | None:
        trusted = list(info.get("trusted", []))
        mac = str(info.get("mac", ""))
        if not any(hmac.compare_digest(mac, _skops_mac(k, data, trusted)) for k in skops_verify):
            return None
        return {**info, "mac": _skops_mac(skops_sign, data, trusted)}

    report = resign_stored_values(storage, (signing_keys(both), derive_key(fresh, "pickle-signing")), resign_skops)
    final = fresh if retire_old else combined
    if from_file and final != combined:
        _write_key_file(key_file, final)
    reconfigure(secret_key=final)
    _engines.dispose_all()
    return KeyRotation(
        reencrypted=count,
        key_file=key_file if from_file else None,
        secret_key_setting=None if from_file else final,
        resigned=report.pickles + report.skops,
        retired=len([k for k in old_keys if k != fresh]) if retire_old else 0,
        unverified=tuple(report.unverified),
    )


def _write_key_file(path: Path, keys: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


register_connection_lister(list_connections)
