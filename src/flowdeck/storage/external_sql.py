"""Reading and writing pandas DataFrames in users' own SQL databases.

This is the only code that talks SQL to external databases. Writes land whole or not at all:

* PostgreSQL (psycopg 3): the rows are loaded with ``COPY ... FROM STDIN`` into a scratch table
  created in the same transaction, and the scratch table replaces the target in that one
  transaction, so a concurrent reader sees the old rows or the new ones, never an empty or
  half-loaded table. ``append`` copies into the target inside one transaction.
* MySQL / MariaDB: DDL commits implicitly there, so the rows go into a scratch table with
  multi-row INSERTs in one transaction and ``RENAME TABLE`` (atomic, several renames at once)
  swaps it in; on failure the scratch table is dropped.
* SQLite and others: everything (create, executemany, drop, rename) in one transaction.

Reads return frames whose dtypes follow the database's column types: integers (nullable
``Int64``-style when a column has nulls), floats, strings, booleans and timestamps (tz-aware
columns in UTC). On PostgreSQL, a query whose columns are all of those types is read in bulk:
through ADBC's binary COPY reader when ``adbc-driver-postgresql`` is installed, otherwise with
``COPY (query) TO STDOUT`` parsed by Arrow's multi-threaded CSV reader. Other queries, and
chunked reads, go through a server-side cursor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import re
import socket
import sqlite3
import threading
import urllib.parse
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeEngine

from flowdeck.errors import AlreadyExistsError, ValidationError
from flowdeck.storage.connection_urls import ConnectionSpec, Timeouts, build_url, engine_kwargs

__all__ = [
    "IF_EXISTS_MODES",
    "EngineCache",
    "IndexSpec",
    "TableName",
    "create_engine",
    "index_columns",
    "quote_table_name",
    "read_frame",
    "scratch_prefix",
    "server_version",
    "test_server",
    "write_frame",
]

IF_EXISTS_MODES = ("fail", "overwrite", "append")
_IF_EXISTS_ALIASES = {"replace": "overwrite"}
_MYSQL_DIALECTS = ("mysql", "mariadb")
_PG_WRITE_CHUNK = 200_000
_INSERT_CHUNK = 10_000
# Whether PostgreSQL reads may use ADBC when it is installed (the COPY-as-CSV reader otherwise).
_ADBC_ENABLED = True


# --------------------------------------------------------------------------------------------
# Engines


class EngineCache:
    """Engines pooled and reused per (connection, URL); thread-safe.

    A connection whose fields or secret change gets a new engine (its URL differs); call
    :meth:`dispose` with its name to close the pools of the old one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[tuple[str, sa.URL], Engine] = {}

    def get_engine(self, spec: ConnectionSpec, timeouts: Timeouts | None = None, **overrides: Any) -> Engine:
        """The pooled engine of ``spec`` (with ``overrides`` applied to its URL), made on first use."""
        url = build_url(spec, **overrides)
        key = (spec.name, url)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = create_engine(spec, timeouts, **overrides)
                self._engines[key] = engine
            return engine

    def dispose(self, name: str) -> None:
        """Close and forget every engine of the connection called ``name``."""
        with self._lock:
            keys = [key for key in self._engines if key[0] == name]
            engines = [self._engines.pop(key) for key in keys]
        for engine in engines:
            engine.dispose()

    def dispose_all(self) -> None:
        """Close and forget every engine."""
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.dispose()

    def __len__(self) -> int:
        return len(self._engines)


def create_engine(
    spec: ConnectionSpec, timeouts: Timeouts | None = None, pooled: bool = True, **overrides: Any
) -> Engine:
    """A new engine for ``spec`` with the driver timeouts of ``timeouts``.

    SQLite engines refuse ``ATTACH`` (and so ``VACUUM INTO``): a query may not open or create
    database files other than the connection's own.
    """
    kwargs = engine_kwargs(spec, timeouts)
    if not pooled:
        kwargs.pop("pool_size", None)
        kwargs.pop("max_overflow", None)
        kwargs.pop("pool_timeout", None)
        kwargs["poolclass"] = sa.pool.NullPool
    engine = sa.create_engine(build_url(spec, **overrides), **kwargs)
    if timeouts is not None and engine.dialect.name == "postgresql":
        # ADBC reads open their own connections from the URL; they get the same limits.
        pg_args = kwargs["connect_args"]
        _ADBC_LIMITS[engine] = {
            "connect_timeout": str(pg_args["connect_timeout"]),
            "options": str(pg_args["options"]),
            "keepalives": "1",
        }
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _confine_sqlite)
    return engine


_ADBC_LIMITS: weakref.WeakKeyDictionary[Engine, dict[str, str]] = weakref.WeakKeyDictionary()


def _sqlite_authorizer(action: int, *_args: Any) -> int:
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def _confine_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    dbapi_connection.set_authorizer(_sqlite_authorizer)


def test_server(spec: ConnectionSpec, timeouts: Timeouts) -> str:
    """Open one unpooled connection with ``timeouts``, return the server's version, close it.

    libpq has no read timeout of its own: a PostgreSQL server that stops answering after the
    handshake has its socket shut down once ``timeouts.connect + timeouts.read`` have passed.
    """
    engine = create_engine(spec, timeouts, pooled=False)
    watchdog = _Watchdog()
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", watchdog.watch, insert=True)
    timer = threading.Timer(timeouts.connect + timeouts.read, watchdog.fire)
    timer.daemon = True
    timer.start()
    try:
        return server_version(engine)
    finally:
        timer.cancel()
        watchdog.finish()
        engine.dispose()


class _Watchdog:
    """Shuts down the sockets of connections still busy when time is up (and never once finished)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fds: list[int] = []
        self._finished = False

    def watch(self, dbapi_connection: Any, _record: Any) -> None:
        with self._lock:
            self._fds.append(int(dbapi_connection.pgconn.socket))

    def fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            for fd in self._fds:
                # shutdown() on a duplicate reaches the shared socket: the blocked read returns.
                with contextlib.suppress(OSError):
                    sock = socket.socket(fileno=os.dup(fd))
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    finally:
                        sock.close()

    def finish(self) -> None:
        with self._lock:
            self._finished = True


test_server.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def server_version(engine: Engine) -> str:
    """A human-readable product name and version of the database server, e.g. ``PostgreSQL 15.2``."""
    name = engine.dialect.name
    queries = {
        "postgresql": ("PostgreSQL", "SHOW server_version"),
        "sqlite": ("SQLite", "SELECT sqlite_version()"),
        "mssql": ("", "SELECT @@VERSION"),
        "snowflake": ("Snowflake", "SELECT CURRENT_VERSION()"),
        "databricks": ("Databricks", "SELECT current_version().dbsql_version"),
    }
    with engine.connect() as conn:
        if name in _MYSQL_DIALECTS:
            version = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
            product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
            return f"{product} {version}"
        if name in queries:
            product, query = queries[name]
            version = str(conn.exec_driver_sql(query).scalar())
            return f"{product} {version}".strip()
        info = engine.dialect.server_version_info or ()
        return f"{name} {'.'.join(str(part) for part in info)}".strip()


# --------------------------------------------------------------------------------------------
# Table names


@dataclasses.dataclass(frozen=True)
class TableName:
    """A validated table name: optional schema, name, and the quoted SQL text of both."""

    schema: str | None
    name: str
    quoted: str

    def __str__(self) -> str:
        return self.name if self.schema is None else f"{self.schema}.{self.name}"


def _identifier_limit(dialect: sa.Dialect) -> int:
    if dialect.name in _MYSQL_DIALECTS:
        return 64
    return int(dialect.max_identifier_length or 63)


def _check_identifier(dialect: sa.Dialect, ident: Any, what: str) -> str:
    if not isinstance(ident, str):
        raise ValidationError(f"{what} must be a str, got {type(ident).__name__}")
    if not ident:
        raise ValidationError(f"{what} is empty; give it a name")
    if "\x00" in ident:
        raise ValidationError(f"{what} {ident!r} contains a NUL character; remove it")
    limit = _identifier_limit(dialect)
    # PostgreSQL counts bytes and silently truncates longer names; MySQL counts characters.
    size = len(ident) if dialect.name in _MYSQL_DIALECTS else len(ident.encode("utf-8"))
    if size > limit:
        raise ValidationError(f"{what} {ident!r} is longer than {dialect.name} allows ({size} > {limit}); shorten it")
    return ident


def quote_table_name(engine: Engine | Connection | sa.Dialect, table: str) -> TableName:
    """Validate ``table`` (``"table"`` or ``"schema.table"``) and quote it for the engine's dialect.

    Any other character is kept literally inside the quoted identifier, so a name cannot
    smuggle SQL into a statement.
    """
    dialect = engine if isinstance(engine, sa.Dialect) else engine.dialect
    if not isinstance(table, str):
        raise ValidationError(f"table name must be a str, got {type(table).__name__}")
    parts = table.split(".")
    if len(parts) > 2:
        raise ValidationError(f"table name {table!r} has more than one '.'; use 'table' or 'schema.table'")
    schema = _check_identifier(dialect, parts[0], f"schema of table {table!r}") if len(parts) == 2 else None
    name = _check_identifier(dialect, parts[-1], "table name")
    prep = dialect.identifier_preparer
    quoted = prep.quote_identifier(name)
    if schema is not None:
        quoted = f"{prep.quote_identifier(schema)}.{quoted}"
    return TableName(schema, name, quoted)


def _hash_of(target: TableName) -> str:
    return hashlib.blake2b(f"{target.schema or ''}.{target.name}".encode(), digest_size=4).hexdigest()


def scratch_prefix(table: str) -> str:
    """The name prefix of the scratch tables that writes to ``table`` create and remove.

    A process killed in the middle of a MySQL write may leave one behind; this finds it.
    """
    schema, _, name = table.rpartition(".")
    return f"_fd_{_hash_of(TableName(schema or None, name, ''))}_"


def _scratch_name(target: TableName, kind: str) -> str:
    return f"_fd_{_hash_of(target)}_{kind}_{uuid.uuid4().hex[:10]}"


def _sibling(dialect: sa.Dialect, target: TableName, name: str) -> TableName:
    prep = dialect.identifier_preparer
    quoted = prep.quote_identifier(name)
    if target.schema is not None:
        quoted = f"{prep.quote_identifier(target.schema)}.{quoted}"
    return TableName(target.schema, name, quoted)


# --------------------------------------------------------------------------------------------
# Frames to Arrow and SQL types


def _normalise_if_exists(if_exists: str) -> str:
    mode = _IF_EXISTS_ALIASES.get(if_exists, if_exists) if isinstance(if_exists, str) else if_exists
    if mode not in IF_EXISTS_MODES:
        raise ValidationError(
            f"if_exists={if_exists!r} is not valid; use one of {list(IF_EXISTS_MODES)} "
            "('replace' is accepted as 'overwrite')"
        )
    return mode


def _frame_to_arrow(df: pd.DataFrame, dialect: sa.Dialect, table: str) -> pa.Table:
    names = [str(c) for c in df.columns]
    # MySQL column names are case-insensitive, so 'a' and 'A' collide there.
    fold = str.lower if dialect.name in _MYSQL_DIALECTS else str
    seen: set[str] = set()
    for name in names:
        _check_identifier(dialect, name, f"column name of table {table!r}")
        if fold(name) in seen:
            raise ValidationError(f"column {name!r} appears twice in the frame for table {table!r}; rename one")
        seen.add(fold(name))
    arrays = []
    for name, (_, series) in zip(names, df.items(), strict=True):
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValidationError(
                f"column {name!r} of the frame for table {table!r} (dtype {series.dtype}) holds values "
                f"of mixed or unsupported types ({exc}); convert it to one type first"
            ) from exc
        arrays.append(_storable(arr, name, table))
    return pa.table(arrays, names=names)


def _storable(arr: pa.Array, name: str, table: str) -> pa.Array:
    typ = arr.type
    if pa.types.is_dictionary(typ):
        return _storable(arr.dictionary_decode(), name, table)
    if pa.types.is_timestamp(typ):
        # Databases keep microseconds; time zone aware values are stored as the UTC instant.
        return pc.cast(arr, pa.timestamp("us", "UTC" if typ.tz else None), safe=False)
    if pa.types.is_string_view(typ):
        return arr.cast(pa.large_string())
    if (
        pa.types.is_boolean(typ)
        or pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_date(typ)
        or pa.types.is_time(typ)
        or pa.types.is_decimal(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
        or pa.types.is_null(typ)
    ):
        return arr
    raise ValidationError(
        f"column {name!r} of the frame for table {table!r} has type {typ}, which cannot be written "
        "to a SQL table; convert it (e.g. to str, int or float) first"
    )


def _sql_type(typ: pa.DataType) -> TypeEngine[Any]:
    if pa.types.is_boolean(typ):
        return sa.Boolean()
    if pa.types.is_integer(typ):
        if typ == pa.uint64():
            return (
                sa.Numeric(20, 0)
                .with_variant(mysql.BIGINT(unsigned=True), *_MYSQL_DIALECTS)
                .with_variant(sa.BigInteger(), "sqlite")
            )
        if typ.bit_width <= 8 or typ in (pa.int16(),):
            return sa.SmallInteger()
        if typ in (pa.int32(), pa.uint16()):
            return sa.Integer()
        return sa.BigInteger()
    if pa.types.is_floating(typ):
        return sa.Double() if typ == pa.float64() else sa.Float(precision=24)
    if pa.types.is_timestamp(typ):
        return sa.DateTime(timezone=typ.tz is not None).with_variant(mysql.DATETIME(fsp=6), *_MYSQL_DIALECTS)
    if pa.types.is_date(typ):
        return sa.Date()
    if pa.types.is_time(typ):
        return sa.Time().with_variant(mysql.TIME(fsp=6), *_MYSQL_DIALECTS)
    if pa.types.is_decimal(typ):
        return sa.Numeric(typ.precision, typ.scale)
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL_DIALECTS)
    # strings and all-null columns
    return sa.Text().with_variant(mysql.LONGTEXT(), *_MYSQL_DIALECTS)


# SQL type names dtype= accepts as strings (as pandas.to_sql does in its sqlite3 mode), mapped to
# SQLAlchemy types so that nothing the caller wrote is pasted into the DDL. Generic types where a
# name is not portable (DATETIME, DOUBLE, BOOLEAN): each dialect renders its own spelling.
_NAMED_SQL_TYPES: dict[str, Any] = {
    "TEXT": sa.Text,
    "INTEGER": sa.Integer,
    "INT": sa.Integer,
    "BIGINT": sa.BigInteger,
    "SMALLINT": sa.SmallInteger,
    "FLOAT": sa.Float,
    "REAL": sa.REAL,
    "DOUBLE": sa.Double,
    "DOUBLE PRECISION": sa.Double,
    "BOOLEAN": sa.Boolean,
    "BOOL": sa.Boolean,
    "DATE": sa.Date,
    "TIME": lambda: sa.Time().with_variant(mysql.TIME(fsp=6), *_MYSQL_DIALECTS),
    "DATETIME": lambda: sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL_DIALECTS),
    "TIMESTAMP": lambda: sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL_DIALECTS),
    "BLOB": lambda: sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL_DIALECTS),
}
_SIZED_SQL_TYPE = re.compile(r"(VARCHAR|CHAR|NUMERIC|DECIMAL)\s*(?:\(\s*(\d{1,5})\s*(?:,\s*(\d{1,5})\s*)?\))?")
_DTYPE_HELP = (
    "dtype= takes a dict of column name to a SQLAlchemy type (e.g. sqlalchemy.Integer or sqlalchemy.String(50)) "
    f"or one of the SQL type names {sorted(_NAMED_SQL_TYPES)}, 'VARCHAR(n)', 'CHAR(n)', 'NUMERIC(p, s)', "
    "'DECIMAL(p, s)' (any case), or one such type for every column"
)


def _named_sql_type(name: str, column: str) -> TypeEngine[Any]:
    """The SQLAlchemy type for an allow-listed SQL type name; anything else is a ``ValidationError``."""
    words = " ".join(name.split()).upper()
    if words in _NAMED_SQL_TYPES:
        return _NAMED_SQL_TYPES[words]()
    sized = _SIZED_SQL_TYPE.fullmatch(words)
    if sized:
        kind, first, second = sized.group(1), sized.group(2), sized.group(3)
        if kind in ("VARCHAR", "CHAR"):
            if first is None or second is not None or int(first) < 1:
                raise ValidationError(
                    f"dtype {name!r} for column {column!r}: {kind} needs one length, e.g. {kind}(255)"
                )
            return sa.String(int(first)) if kind == "VARCHAR" else sa.CHAR(int(first))
        if first is None:
            return sa.Numeric()
        precision, scale = int(first), int(second or 0)
        if not 1 <= precision <= 65 or scale > precision:
            raise ValidationError(f"dtype {name!r} for column {column!r}: {kind}(p, s) needs 1 <= p <= 65 and s <= p")
        return sa.Numeric(precision, scale)
    raise ValidationError(f"dtype {name!r} for column {column!r} is not a SQL type flowdeck knows; {_DTYPE_HELP}")


def _column_type(value: Any, column: str) -> TypeEngine[Any]:
    """A dtype= value as a SQLAlchemy type instance: a type, a type class, or an allow-listed name."""
    if isinstance(value, TypeEngine):
        return value
    if isinstance(value, type) and issubclass(value, TypeEngine):
        return value()
    if isinstance(value, str):
        return _named_sql_type(value, column)
    raise ValidationError(
        f"dtype {value!r} ({type(value).__name__}) for column {column!r} is not a SQL type; {_DTYPE_HELP}"
    )


def _sa_table(target: TableName, data: pa.Table, dtype: Any) -> sa.Table:
    if dtype is None:
        overrides: dict[str, Any] = {}
    elif isinstance(dtype, Mapping):
        overrides = dict(dtype)
    else:
        # As pandas.to_sql: one type for every column.
        overrides = dict.fromkeys(data.column_names, dtype)
    unknown = sorted(set(overrides) - set(data.column_names), key=str)
    if unknown:
        raise ValidationError(
            f"dtype names columns {unknown} that the frame for table {str(target)!r} does not have; "
            f"its columns are {data.column_names}"
        )
    columns = []
    for field in data.schema:
        given = overrides.get(field.name)
        sql_type = _sql_type(field.type) if given is None else _column_type(given, field.name)
        columns.append(sa.Column(field.name, sql_type))
    return sa.Table(
        target.name,
        sa.MetaData(),
        *columns,
        schema=target.schema,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


# --------------------------------------------------------------------------------------------
# Writing


def write_frame(
    engine: Engine,
    df: pd.DataFrame,
    table: str,
    if_exists: str = "fail",
    index: bool = False,
    chunksize: int | None = None,
    dtype: Mapping[str, TypeEngine[Any] | type[TypeEngine[Any]] | str] | TypeEngine[Any] | str | None = None,
    indexes: Sequence[Sequence[str] | str | Mapping[str, Any]] | None = None,
) -> int:
    """Write ``df`` to ``table`` and return the number of rows written; all or nothing.

    ``if_exists``: ``'fail'`` (an existing table is an :class:`AlreadyExistsError`),
    ``'overwrite'`` (alias ``'replace'``: the table is replaced, with columns typed from
    the frame) or ``'append'`` (rows are added; a missing table is created).
    ``index=True`` writes the index as column(s) too. ``chunksize`` is the number of rows
    sent per batch. ``dtype`` maps column names to SQLAlchemy types (or allow-listed SQL type names
    such as ``"TEXT"`` or ``"VARCHAR(50)"``) that replace the types inferred from the frame's
    dtypes; a single type applies to every column. ``indexes`` lists the indexes to make: a column
    name, a list of column names, or ``{"columns": [...], "unique": bool}`` (the SDK's form; a unique
    index); a replaced table gets them in the same transaction that swaps it in (created after the
    load, which is faster). A frame with no columns is a ``ValidationError`` and writes nothing.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"write_frame takes a pandas DataFrame, got {type(df).__name__}")
    mode = _normalise_if_exists(if_exists)
    if chunksize is not None and (not isinstance(chunksize, int) or chunksize < 1):
        raise ValidationError(f"chunksize must be a positive whole number, got {chunksize!r}")
    target = quote_table_name(engine, table)
    frame = df.reset_index() if index else df
    if len(frame.columns) == 0:
        # Checked before anything is created: "CREATE TABLE t ()" fails only once a scratch table is named.
        raise ValidationError(
            f"the frame for table {table!r} has no columns, and a SQL table needs at least one: nothing was "
            "written (a frame with columns and no rows writes an empty table)"
        )
    data = _frame_to_arrow(frame, engine.dialect, table)
    sa_table = _sa_table(target, data, dtype)
    index_specs = _check_indexes(engine.dialect, target, indexes, data.column_names)
    name = engine.dialect.name
    try:
        if name == "postgresql" and engine.dialect.driver == "psycopg":
            _write_postgres(engine, data, target, sa_table, mode, chunksize or _PG_WRITE_CHUNK, index_specs)
        elif name in _MYSQL_DIALECTS:
            _write_mysql(engine, data, target, sa_table, mode, chunksize or _INSERT_CHUNK, index_specs)
        else:
            _write_transactional(engine, data, target, sa_table, mode, chunksize or _INSERT_CHUNK, index_specs)
    except (AlreadyExistsError, ValidationError):
        raise
    except Exception as exc:
        exc.add_note(f"while writing {data.num_rows} rows to table {table!r}: nothing was written")
        raise
    return data.num_rows


class IndexSpec(NamedTuple):
    """One index to create: its name, its columns and whether it is unique."""

    name: str
    columns: list[str]
    unique: bool = False


def index_columns(spec: object) -> tuple[list[str], bool]:
    """The columns and uniqueness of an index given as a name, a list of names or ``{"columns", "unique"}``."""
    unique = False
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"columns", "unique"})
        if unknown or "columns" not in spec:
            raise ValidationError(
                f'an index given as a dict is {{"columns": [...], "unique": bool}}, got {dict(spec)!r}'
            )
        unique = bool(spec.get("unique") or False)
        spec = spec["columns"]
    cols = [spec] if isinstance(spec, str) else list(spec) if isinstance(spec, Sequence) else []
    if not cols or not all(isinstance(c, str) for c in cols):
        raise ValidationError(
            f'an index is a column name, a list of column names or {{"columns": [...], "unique": bool}}, got {spec!r}'
        )
    return cols, unique


def _check_indexes(
    dialect: sa.Dialect,
    target: TableName,
    indexes: Sequence[Sequence[str] | str | Mapping[str, Any]] | None,
    columns: list[str],
) -> list[IndexSpec]:
    """The index to create for each one asked for, checked against the frame's columns."""
    specs: list[IndexSpec] = []
    for spec in indexes or []:
        cols, unique = index_columns(spec)
        unknown = [c for c in cols if c not in columns]
        if unknown:
            raise ValidationError(f"index on {unknown} of table {str(target)!r}: no such column; columns are {columns}")
        base = f"{'ux' if unique else 'ix'}_{target.name}_{'_'.join(cols)}"
        if len(base.encode()) > _identifier_limit(dialect):
            digest = hashlib.blake2b(base.encode(), digest_size=4).hexdigest()
            base = f"{'ux' if unique else 'ix'}_{target.name[:40]}_{digest}"
        specs.append(IndexSpec(base, cols, unique))
    return specs


def _create_indexes(conn: Connection, target: TableName, specs: list[IndexSpec]) -> None:
    prep = conn.dialect.identifier_preparer
    for index_name, cols, unique in specs:
        quoted_index = prep.quote_identifier(index_name)
        if target.schema is not None and conn.dialect.name != "postgresql":
            quoted_index = f"{prep.quote_identifier(target.schema)}.{quoted_index}"
        column_list = ", ".join(prep.quote_identifier(c) for c in cols)
        kind = "UNIQUE INDEX" if unique else "INDEX"
        conn.exec_driver_sql(f"CREATE {kind} {quoted_index} ON {target.quoted} ({column_list})")


def _exists(conn: Connection, target: TableName) -> bool:
    return sa.inspect(conn).has_table(target.name, schema=target.schema)


def _check_fail(mode: str, exists: bool, target: TableName) -> None:
    if mode == "fail" and exists:
        raise AlreadyExistsError(
            f"table {str(target)!r} already exists; pass if_exists='overwrite' to replace it "
            "or if_exists='append' to add rows"
        )


def _check_append_columns(conn: Connection, target: TableName, data: pa.Table) -> None:
    existing = [c["name"] for c in sa.inspect(conn).get_columns(target.name, schema=target.schema)]
    missing = [c for c in data.column_names if c not in existing]
    if missing:
        raise ValidationError(
            f"table {str(target)!r} has no column(s) {missing} to append to; its columns are {existing}"
        )


def _bare(engine: Engine, target: TableName) -> str:
    """The quoted table name without its schema (what ALTER TABLE ... RENAME TO takes)."""
    return engine.dialect.identifier_preparer.quote_identifier(target.name)


def _renamed(sa_table: sa.Table, name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in sa_table.columns),
        schema=sa_table.schema,
        **sa_table.dialect_kwargs,
    )


# PostgreSQL ------------------------------------------------------------------------------


def _pg_csv_ready(data: pa.Table) -> pa.Table:
    columns = []
    for col in data.columns:
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            col = pa.array([None if v is None else "\\x" + v.hex() for v in col.to_pylist()], type=pa.large_string())
        columns.append(col)
    return pa.table(columns, names=data.column_names)


def _csv_block(batch: pa.RecordBatch) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False, batch_size=max(batch.num_rows, 1)))
    return sink.getvalue()


def _copy_in(conn: Connection, target: TableName, data: pa.Table, chunksize: int, freeze: bool) -> None:
    import psycopg

    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote_identifier(c) for c in data.column_names)
    options = "FORMAT csv, FREEZE" if freeze else "FORMAT csv"
    statement = f"COPY {target.quoted} ({cols}) FROM STDIN ({options})"
    batches = _pg_csv_ready(data).to_batches(max_chunksize=chunksize)
    raw = conn.connection.dbapi_connection
    try:
        _stream_csv(raw, statement, batches)
    except psycopg.Error as exc:
        # Report it as SQLAlchemy reports every other database error.
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _stream_csv(raw: Any, statement: str, batches: list[pa.RecordBatch]) -> None:
    from psycopg.copy import QueuedLibpqWriter

    # Blocks are rendered in parallel (pyarrow releases the GIL) while a writer thread
    # streams finished blocks to the server.
    with (
        raw.cursor() as cur,
        ThreadPoolExecutor(max_workers=4) as pool,
        cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy,
    ):
        pending = []
        for batch in batches:
            pending.append(pool.submit(_csv_block, batch))
            if len(pending) >= 8:
                copy.write(pending.pop(0).result())
        for future in pending:
            copy.write(future.result())


def _write_postgres(
    engine: Engine,
    data: pa.Table,
    target: TableName,
    sa_table: sa.Table,
    mode: str,
    chunksize: int,
    indexes: Sequence[IndexSpec] = (),
) -> None:
    with engine.begin() as conn:
        exists = _exists(conn, target)
        _check_fail(mode, exists, target)
        if mode == "append" and exists:
            _check_append_columns(conn, target, data)
            _copy_in(conn, target, data, chunksize, freeze=False)
            return
        scratch = _sibling(engine.dialect, target, _scratch_name(target, "tmp"))
        _renamed(sa_table, scratch.name).create(conn)
        _copy_in(conn, scratch, data, chunksize, freeze=True)
        if exists:
            conn.exec_driver_sql(f"DROP TABLE {target.quoted}")
        conn.exec_driver_sql(f"ALTER TABLE {scratch.quoted} RENAME TO {_bare(engine, target)}")
        _create_indexes(conn, target, list(indexes))
        if indexes:
            conn.exec_driver_sql(f"ANALYZE {target.quoted}")


# MySQL / MariaDB ---------------------------------------------------------------------------


def _insert_rows(conn: Connection, sa_table: sa.Table, data: pa.Table, chunksize: int, naive_utc: bool) -> None:
    if naive_utc:
        data = _without_tz(data)
    insert = sa_table.insert()
    for batch in data.to_batches(max_chunksize=chunksize):
        if batch.num_rows:
            conn.execute(insert, batch.to_pylist())


def _without_tz(data: pa.Table) -> pa.Table:
    columns = [
        col.cast(pa.timestamp(col.type.unit)) if pa.types.is_timestamp(col.type) and col.type.tz else col
        for col in data.columns
    ]
    return pa.table(columns, names=data.column_names)


def _write_mysql(
    engine: Engine,
    data: pa.Table,
    target: TableName,
    sa_table: sa.Table,
    mode: str,
    chunksize: int,
    indexes: Sequence[IndexSpec] = (),
) -> None:
    with engine.connect() as conn:
        exists = _exists(conn, target)
        conn.rollback()
        _check_fail(mode, exists, target)
        if mode == "append" and exists:
            _check_append_columns(conn, target, data)
            conn.rollback()
            with conn.begin():
                _insert_rows(conn, sa_table, data, chunksize, naive_utc=True)
            return
        scratch = _sibling(engine.dialect, target, _scratch_name(target, "tmp"))
        try:
            with conn.begin():
                _renamed(sa_table, scratch.name).create(conn)
            with conn.begin():
                _insert_rows(conn, _renamed(sa_table, scratch.name), data, chunksize, naive_utc=True)
            if indexes:  # MySQL index names belong to their table: index the scratch table before the swap
                _create_indexes(conn, scratch, list(indexes))
                conn.commit()
            with conn.begin():
                if exists:
                    backup = _sibling(engine.dialect, target, _scratch_name(target, "bak"))
                    swap = f"{target.quoted} TO {backup.quoted}, {scratch.quoted} TO {target.quoted}"
                    conn.exec_driver_sql(f"RENAME TABLE {swap}")
                    conn.exec_driver_sql(f"DROP TABLE {backup.quoted}")
                else:
                    conn.exec_driver_sql(f"RENAME TABLE {scratch.quoted} TO {target.quoted}")
        except BaseException as exc:
            try:
                conn.rollback()
                with conn.begin():
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {scratch.quoted}")
            except Exception as cleanup_exc:
                exc.add_note(f"the scratch table {str(scratch)!r} could not be dropped: {cleanup_exc}")
            raise


# SQLite and other databases with transactional DDL -----------------------------------------


def _write_transactional(
    engine: Engine,
    data: pa.Table,
    target: TableName,
    sa_table: sa.Table,
    mode: str,
    chunksize: int,
    indexes: Sequence[IndexSpec] = (),
) -> None:
    with engine.connect() as conn, conn.begin():
        if engine.dialect.name == "sqlite":
            # The sqlite3 module only opens a transaction before DML; DDL must join it too.
            raw = conn.connection.dbapi_connection
            if not raw.in_transaction:
                conn.exec_driver_sql("BEGIN")
        exists = _exists(conn, target)
        _check_fail(mode, exists, target)
        if mode == "append" and exists:
            _check_append_columns(conn, target, data)
            _insert_rows(conn, sa_table, data, chunksize, naive_utc=True)
            return
        scratch = _sibling(engine.dialect, target, _scratch_name(target, "tmp"))
        scratch_table = _renamed(sa_table, scratch.name)
        scratch_table.create(conn)
        _insert_rows(conn, scratch_table, data, chunksize, naive_utc=True)
        if exists:
            conn.exec_driver_sql(f"DROP TABLE {target.quoted}")
        conn.exec_driver_sql(f"ALTER TABLE {scratch.quoted} RENAME TO {_bare(engine, target)}")
        _create_indexes(conn, target, list(indexes))


# --------------------------------------------------------------------------------------------
# Reading


def read_frame(
    engine: Engine,
    query: str,
    params: Mapping[str, Any] | None = None,
    chunksize: int | None = None,
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Run ``query`` and return its rows as a DataFrame (or, with ``chunksize``, an iterator of frames).

    ``params`` are bound to ``:name`` placeholders in the query, never pasted into it.
    With ``chunksize``, rows are streamed from the server (a server-side cursor where the
    driver has one) and yielded ``chunksize`` at a time.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("query must be a non-empty SQL string")
    if params is not None and not isinstance(params, Mapping):
        raise ValidationError(f"params must be a dict of values for :name placeholders, got {type(params).__name__}")
    if chunksize is not None:
        if not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1:
            raise ValidationError(f"chunksize must be a positive whole number, got {chunksize!r}")
        return _read_chunks(engine, query, params, chunksize)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg" and _copyable(query):
        frame = _read_postgres_copy(engine, query, params)
        if frame is not None:
            return frame
    with engine.connect() as conn:
        result = conn.execute(_statement(query, params), dict(params or {}))
        hints = _description_hints(engine, result)
        keys = list(result.keys())
        return _rows_to_frame(keys, result.fetchall(), hints, {})


def _statement(query: str, params: Mapping[str, Any] | None) -> sa.TextClause:
    statement = sa.text(query)
    placeholders = set(statement.compile().params)
    if params:
        unused = sorted(set(params) - placeholders)
        if unused:
            raise ValidationError(
                f"params {unused} have no :name placeholder in the query; its placeholders are {sorted(placeholders)}"
            )
    missing = sorted(placeholders - set(params or {}))
    if missing:
        raise ValidationError(
            f"the query's placeholders {[':' + name for name in missing]} have no value; pass "
            f"params={{{', '.join(f'{name!r}: ...' for name in missing)}}} (a ':' starting a word is read as a "
            "placeholder; write '\\:' for a literal one)"
        )
    return statement


def _read_chunks(
    engine: Engine, query: str, params: Mapping[str, Any] | None, chunksize: int
) -> Iterator[pd.DataFrame]:
    statement = _statement(query, params)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=chunksize).execute(
            statement, dict(params or {})
        )
        hints = _description_hints(engine, result)
        keys = list(result.keys())
        known: dict[int, pa.DataType] = {}
        produced = False
        for rows in result.partitions(chunksize):
            produced = True
            yield _rows_to_frame(keys, rows, hints, known)
        if not produced:
            yield _rows_to_frame(keys, [], hints, known)


_COPYABLE = re.compile(r"^\s*(select|with|values|table)\b", re.IGNORECASE)


def _copyable(query: str) -> bool:
    body = query.strip().rstrip(";").strip()
    return bool(_COPYABLE.match(body)) and ";" not in body


# PostgreSQL type OIDs read by the COPY path, and the Arrow type each is parsed as.
_PG_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),  # oid
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),  # numeric, coerced to float as pandas.read_sql does
    25: pa.large_string(),  # text
    1043: pa.large_string(),  # varchar
    1042: pa.large_string(),  # bpchar
    19: pa.large_string(),  # name
    18: pa.large_string(),  # "char"
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", "UTC"),
}

_PG_NARROW = frozenset({21, 23, 700})


def _read_postgres_copy(engine: Engine, query: str, params: Mapping[str, Any] | None) -> pd.DataFrame | None:
    """The result read in bulk, or None when the query's columns are not all of the bulk-readable types.

    The query is prepared (not run) to learn its column types; then its rows come through
    ADBC's binary COPY reader when ``adbc-driver-postgresql`` is installed, else through
    ``COPY (query) TO STDOUT`` as CSV parsed by Arrow.
    """
    import psycopg

    body = query.strip().rstrip(";").strip()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if params:
            compiled = _statement(body, params).compile(dialect=engine.dialect)
            bound = compiled.construct_params(dict(params))
            body = psycopg.ClientCursor(raw).mogrify(compiled.string, bound)
        encoding = raw.info.encoding
        pgconn = raw.pgconn
        # libpq is driven directly: psycopg's Copy iterator costs several microseconds per row.
        # Synchronous libpq calls need the blocking mode that psycopg switches off.
        pgconn.nonblocking = 0
        try:
            described = _pg_describe(pgconn, body.encode(encoding))
        finally:
            pgconn.nonblocking = 1
        conn.rollback()
        if described is None or not _copy_readable(*described):
            # The plain path reads it, or reports the server's error.
            return None
        names = [name.decode(encoding) for name in described[0]]
        types = [_PG_ARROW_TYPES[oid] for oid in described[1]]
        columns = _read_postgres_adbc(engine, body, types)
        if columns is None:
            payload = _read_postgres_csv(conn, body.encode(encoding))
            if payload is None:
                return None
            columns = _parse_postgres_csv(payload, names, types)
    if columns is None:
        return None
    return _arrow_to_frame(names, columns)


def _read_postgres_adbc(engine: Engine, body: str, types: list[pa.DataType]) -> list[pa.ChunkedArray] | None:
    """The columns of ``body`` read with ADBC, or None when ADBC is not installed or cannot connect."""
    if not _ADBC_ENABLED:
        return None
    try:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        return None
    url = engine.url.set(drivername="postgresql")
    query = {**url.query, **_ADBC_LIMITS.get(engine, {})}
    uri = url.set(query={}).render_as_string(hide_password=False)
    if query:
        # libpq decodes %-escapes only ('+' stays a plus), so spaces are written as %20.
        uri += "?" + urllib.parse.urlencode(query, doseq=True, quote_via=urllib.parse.quote)
    try:
        with adbc.connect(uri) as aconn, aconn.cursor() as cur:
            cur.execute(body)
            data = cur.fetch_arrow_table()
    except adbc_driver_manager.Error:
        return None
    if data.num_columns != len(types):
        return None
    columns = []
    for col, typ in zip(data.columns, types, strict=True):
        if isinstance(col.type, pa.ExtensionType):
            col = pa.chunked_array([chunk.storage for chunk in col.chunks], type=col.type.storage_type)
        columns.append(col if col.type == typ else pc.cast(col, typ))
    return columns


def _read_postgres_csv(conn: Connection, statement: bytes) -> bytes | None:
    raw = conn.connection.dbapi_connection
    conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
    conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
    conn.exec_driver_sql("SET LOCAL extra_float_digits = 3")
    pgconn = raw.pgconn
    pgconn.nonblocking = 0
    try:
        return _pg_copy_out(pgconn, b"COPY (" + statement + b") TO STDOUT (FORMAT csv)")
    finally:
        pgconn.nonblocking = 1
        conn.rollback()


def _parse_postgres_csv(payload: bytes, names: list[str], types: list[pa.DataType]) -> list[pa.ChunkedArray] | None:
    has_text = any(pa.types.is_large_string(t) for t in types)
    try:
        data = pacsv.read_csv(
            pa.BufferReader(payload),
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=has_text),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(zip(names, types, strict=True)),
                true_values=["t"],
                false_values=["f"],
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # values Arrow cannot parse (e.g. 'infinity' timestamps): use the plain path
    return list(data.columns)


def _copy_readable(names: list[bytes], oids: list[int]) -> bool:
    """True when every column has a distinct name and a type the CSV reader parses exactly."""
    return bool(names) and len(set(names)) == len(names) and all(oid in _PG_ARROW_TYPES for oid in oids)


def _pg_describe(pgconn: Any, query: bytes) -> tuple[list[bytes], list[int]] | None:
    """Column names and type OIDs of ``query`` (prepared, not run), or None if it does not prepare."""
    from psycopg import pq

    if pgconn.prepare(b"", query).status != pq.ExecStatus.COMMAND_OK:
        return None
    desc = pgconn.describe_prepared(b"")
    return [desc.fname(i) for i in range(desc.nfields)], [desc.ftype(i) for i in range(desc.nfields)]


def _pg_copy_out(pgconn: Any, statement: bytes) -> bytes | None:
    """The bytes a ``COPY ... TO STDOUT`` sends, or None if the statement failed."""
    from psycopg import pq

    pgconn.send_query(statement)
    first = pgconn.get_result()
    chunks: list[memoryview] = []
    ok = first is not None and first.status == pq.ExecStatus.COPY_OUT
    if ok:
        get = pgconn.get_copy_data
        append = chunks.append
        while True:
            size, data = get(0)
            if size < 0:
                break
            append(data)
    while (result := pgconn.get_result()) is not None:
        ok = ok and result.status == pq.ExecStatus.COMMAND_OK
    return b"".join(chunks) if ok else None


def _description_hints(engine: Engine, result: sa.CursorResult[Any]) -> dict[int, pa.DataType]:
    """Arrow types for columns whose Python values lose the database type (widths, MySQL booleans)."""
    description = result.cursor.description if result.cursor is not None else None
    hints: dict[int, pa.DataType] = {}
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        # Python ints and floats carry no width; keep int2/int4/float4 as the bulk reader does.
        for i, column in enumerate(description or ()):
            if column[1] in _PG_NARROW:
                hints[i] = _PG_ARROW_TYPES[column[1]]
        return hints
    if engine.dialect.name not in _MYSQL_DIALECTS:
        return hints
    from pymysql.constants import FIELD_TYPE

    for i, column in enumerate(description or ()):
        # BOOL / BOOLEAN is TINYINT(1) in MySQL: the display width is all that tells them apart.
        if column[1] == FIELD_TYPE.TINY and column[3] == 1:
            hints[i] = pa.bool_()
    return hints


def _rows_to_frame(
    keys: list[str], rows: Any, hints: Mapping[int, pa.DataType], known: dict[int, pa.DataType]
) -> pd.DataFrame:
    columns: list[pa.ChunkedArray | pd.Series] = []
    values_by_column = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    for i, values in enumerate(values_by_column):
        hint = hints.get(i)
        if hint == pa.bool_():
            values = tuple(None if v is None else bool(v) for v in values)
        try:
            arr = pa.array(values, type=hint, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            columns.append(pd.Series(values, dtype=object))
            continue
        if pa.types.is_null(arr.type) and i in known:
            arr = pa.nulls(len(arr), known[i])
        elif not pa.types.is_null(arr.type):
            known[i] = arr.type
        columns.append(pa.chunked_array([arr]))
    return _arrow_to_frame(keys, columns)


def _arrow_to_frame(names: list[str], columns: list[pa.ChunkedArray | pd.Series]) -> pd.DataFrame:
    series = [col if isinstance(col, pd.Series) else _arrow_to_series(col) for col in columns]
    frame = pd.concat(series, axis=1, ignore_index=True) if series else pd.DataFrame()
    frame.columns = pd.Index(names)
    return frame


_NULLABLE_INT = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _arrow_to_series(col: pa.ChunkedArray) -> pd.Series:
    typ = col.type
    if pa.types.is_timestamp(typ) and typ.tz is not None and typ.tz != "UTC":
        col = col.cast(pa.timestamp(typ.unit, "UTC"))
    elif pa.types.is_decimal(typ):
        col = col.cast(pa.float64())
    elif pa.types.is_string_view(typ):
        col = col.cast(pa.large_string())
    table = pa.table([col], names=["_"])
    if col.null_count and col.type in _NULLABLE_INT:
        return table.to_pandas(types_mapper=_NULLABLE_INT.get)["_"]
    return table.to_pandas()["_"]
