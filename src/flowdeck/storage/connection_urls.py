"""Connection types and the SQLAlchemy URLs and engine options built from a connection's fields.

Secrets go into URLs only through :meth:`sqlalchemy.engine.URL.create`, which keeps the
password in its own field and escapes it; no URL is ever assembled by string formatting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import URL

from flowdeck.errors import ValidationError

__all__ = [
    "SQL_CONNECTION_TYPES",
    "ConnectionSpec",
    "ConnectionType",
    "build_url",
    "engine_kwargs",
    "str_2_connection_type",
]


class ConnectionType(StrEnum):
    """The kind of data store a named connection points at."""

    postgresql = "postgresql"
    mysql = "mysql"
    mariadb = "mariadb"
    mssql = "mssql"
    mssql_pyodbc = "mssql_pyodbc"
    mssql_pymysql = "mssql_pymysql"
    sqlite = "sqlite"
    databricks = "databricks"
    snowflake = "snowflake"
    s3 = "s3"
    api = "api"
    other = "other"
    spark = "spark"


SQL_CONNECTION_TYPES: frozenset[ConnectionType] = frozenset(
    {
        ConnectionType.postgresql,
        ConnectionType.mysql,
        ConnectionType.mariadb,
        ConnectionType.mssql,
        ConnectionType.mssql_pyodbc,
        ConnectionType.mssql_pymysql,
        ConnectionType.sqlite,
        ConnectionType.databricks,
        ConnectionType.snowflake,
    }
)

_VALID_NAMES = [member.value for member in ConnectionType]


def _to_connection_type(value: str | ConnectionType) -> ConnectionType:
    if isinstance(value, ConnectionType):
        return value
    if isinstance(value, str):
        try:
            return ConnectionType(value.strip().lower())
        except ValueError:
            pass
    raise ValidationError(f"unknown connection type {value!r}; valid types are {_VALID_NAMES}")


def str_2_connection_type(list_of_str: Iterable[str | ConnectionType]) -> list[ConnectionType]:
    """Convert connection type names (any case) to :class:`ConnectionType` members, in order."""
    if isinstance(list_of_str, str):
        raise ValidationError(
            f"str_2_connection_type takes a list of names, not the string {list_of_str!r}; pass [{list_of_str!r}]"
        )
    return [_to_connection_type(item) for item in list_of_str]


@dataclasses.dataclass
class ConnectionSpec:
    """Everything needed to reach one external data store, with the secret in clear.

    Instances live only in memory while a connection is used; the stored form keeps the
    secret encrypted. ``params`` holds the extras of a type (Databricks ``http_path``,
    ``catalog``, ``schema``; Snowflake ``account``, ``warehouse``, ``schema``, ``role``;
    an ODBC ``driver`` for SQL Server) and, for PostgreSQL and MySQL, driver connect options.
    """

    name: str
    type: ConnectionType
    host: str | None = None
    port: int | None = None
    database: str | None = None
    username: str | None = None
    secret: str | None = dataclasses.field(default=None, repr=False)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.type = _to_connection_type(self.type)
        if self.port is not None:
            try:
                self.port = int(self.port)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"connection {self.name!r}: port must be a whole number, got {self.port!r}"
                ) from exc
        self.params = dict(self.params or {})

    def __repr__(self) -> str:
        secret = "None" if self.secret is None else "'***'"
        return (
            f"ConnectionSpec(name={self.name!r}, type={self.type.value!r}, host={self.host!r}, "
            f"port={self.port!r}, database={self.database!r}, username={self.username!r}, "
            f"secret={secret}, params={self.params!r})"
        )

    __str__ = __repr__


_SPEC_FIELDS = ("host", "port", "database", "username")
# Options that change the engine rather than the URL; never copied into a URL query.
_ENGINE_PARAMS = frozenset({"pool_size", "max_overflow", "pool_recycle", "pool_timeout"})
_DEFAULT_MSSQL_DRIVER = "ODBC Driver 18 for SQL Server"


def _query(params: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, str]:
    skipped = set(skip) | _ENGINE_PARAMS
    return {str(k): str(v) for k, v in params.items() if k not in skipped and v is not None}


def _require(spec: ConnectionSpec, value: Any, what: str) -> Any:
    if value in (None, ""):
        raise ValidationError(
            f"connection {spec.name!r} of type {spec.type.value} needs {what}; "
            f"set it on the connection (or pass it as an override)"
        )
    return value


def build_url(spec: ConnectionSpec, **overrides: Any) -> URL:
    """The SQLAlchemy URL of a SQL connection.

    ``overrides`` replace stored values for this use only: ``host``, ``port``, ``database``
    and ``username`` replace those fields, anything else (e.g. a Databricks ``http_path``)
    replaces or adds to ``params``. Overrides that are ``None`` are ignored.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    fields = {name: given.pop(name, getattr(spec, name)) for name in _SPEC_FIELDS}
    params = {**spec.params, **given}
    host, port, database, username = (fields[n] for n in _SPEC_FIELDS)
    port = int(port) if port not in (None, "") else None
    kind = spec.type

    if kind is ConnectionType.postgresql:
        return URL.create(
            "postgresql+psycopg",
            username=username,
            password=spec.secret,
            host=_require(spec, host, "a host"),
            port=port,
            database=database,
            query=_query(params),
        )
    if kind in (ConnectionType.mysql, ConnectionType.mariadb):
        return URL.create(
            "mysql+pymysql",
            username=username,
            password=spec.secret,
            host=_require(spec, host, "a host"),
            port=port,
            database=database,
            query={"charset": "utf8mb4", **_query(params)},
        )
    if kind is ConnectionType.sqlite:
        return URL.create("sqlite", database=str(_require(spec, database, "a database file path")))
    if kind is ConnectionType.mssql_pymysql:
        # The SDK's name for SQL Server through the pymssql driver.
        return URL.create(
            "mssql+pymssql",
            username=username,
            password=spec.secret,
            host=_require(spec, host, "a host"),
            port=port,
            database=database,
            query=_query(params),
        )
    if kind in (ConnectionType.mssql, ConnectionType.mssql_pyodbc):
        return URL.create(
            "mssql+pyodbc",
            username=username,
            password=spec.secret,
            host=_require(spec, host, "a host"),
            port=port,
            database=database,
            query={"driver": _DEFAULT_MSSQL_DRIVER, **_query(params)},
        )
    if kind is ConnectionType.databricks:
        query = {
            "http_path": _require(spec, params.get("http_path"), "an http_path"),
            "catalog": params.get("catalog") or database,
            "schema": params.get("schema"),
        }
        query.update(_query(params, skip=("http_path", "catalog", "schema")))
        return URL.create(
            "databricks",
            username="token",
            password=spec.secret,
            host=_require(spec, host, "a host"),
            port=port,
            query={k: str(v) for k, v in query.items() if v not in (None, "")},
        )
    if kind is ConnectionType.snowflake:
        account = _require(spec, params.get("account") or host, "an account")
        schema = params.get("schema")
        db_path = database if not schema else f"{_require(spec, database, 'a database')}/{schema}"
        query = {"warehouse": params.get("warehouse"), "role": params.get("role")}
        query.update(_query(params, skip=("account", "schema", "warehouse", "role")))
        return URL.create(
            "snowflake",
            username=username,
            password=spec.secret,
            host=account,
            database=db_path,
            query={k: str(v) for k, v in query.items() if v not in (None, "")},
        )
    raise ValidationError(
        f"connection {spec.name!r} of type {kind.value} is not a SQL database; "
        f"SQL connections are of type {sorted(t.value for t in SQL_CONNECTION_TYPES)}"
    )


def engine_kwargs(spec: ConnectionSpec) -> dict[str, Any]:
    """Keyword arguments for :func:`sqlalchemy.create_engine` suited to the connection's type."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    for name in _ENGINE_PARAMS:
        if spec.params.get(name) is not None:
            kwargs[name] = int(spec.params[name])
    if spec.type in (ConnectionType.mysql, ConnectionType.mariadb):
        # MySQL closes idle connections after wait_timeout (8 h by default).
        kwargs.setdefault("pool_recycle", 3600)
    return kwargs
