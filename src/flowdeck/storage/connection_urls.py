"""Connection types and the SQLAlchemy URLs and engine options built from a connection's fields.

Secrets go into URLs only through :meth:`sqlalchemy.engine.URL.create`, which keeps the
password in its own field and escapes it; no URL is ever assembled by string formatting.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL

from flowdeck.errors import ValidationError

__all__ = [
    "SQL_CONNECTION_TYPES",
    "ConnectionSpec",
    "ConnectionType",
    "ParamCheck",
    "Timeouts",
    "build_url",
    "check_params",
    "engine_kwargs",
    "holds_secret",
    "is_secret_param",
    "private_target",
    "str_2_connection_type",
    "target_hosts",
    "unclear_targets",
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
    if not isinstance(list_of_str, Iterable):
        raise ValidationError(
            f"str_2_connection_type() takes a list of connection type names such as ['postgresql'], got "
            f"{list_of_str!r}; valid names are {[member.value for member in ConnectionType]}"
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

    def __repr__(self) -> str:
        """The spec without its secrets: the password and every secret param are shown as ``***``."""
        shown = {k: ("***" if is_secret_param(k) or holds_secret(v) else v) for k, v in self.params.items()}
        secret = "None" if self.secret is None else "'***'"
        return (
            f"ConnectionSpec(name={self.name!r}, type={self.type.value!r}, host={self.host!r}, port={self.port!r}, "
            f"database={self.database!r}, username={self.username!r}, "
            f"secret={secret}, params={shown!r})"
        )

    __str__ = __repr__

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


_SPEC_FIELDS = ("host", "port", "database", "username")
# Options that change the engine rather than the URL; never copied into a URL query.
_ENGINE_PARAMS = frozenset({"pool_size", "max_overflow", "pool_recycle", "pool_timeout"})
_DEFAULT_MSSQL_DRIVER = "ODBC Driver 18 for SQL Server"
NO_PASSFILE = os.path.join(os.devnull, "no-passfile")
_MYSQL_FORCED = frozenset({"local_infile", "client_flag", "connect_timeout", "read_timeout", "write_timeout"})

# --------------------------------------------------------------------------------------------
# Which params each type takes

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase|code)|pwd|secret|token|private_?key(?!_file$)|credential|api_?key", re.IGNORECASE
)
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")


def is_secret_param(name: str) -> bool:
    """Whether a param's name looks like it holds a secret (``*password*``, ``*token*``, ``passphrase``, ...).

    Such params are encrypted at rest like the password and never shown.
    """
    return bool(_SECRET_NAME.search(name))


_ASSIGNED_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*=")


def holds_secret(value: object) -> bool:
    """Whether a param's value carries a credential whatever the param's name.

    A URL with a password (``https://user:pw@host``) or a ``name=value`` pair whose name looks
    secret (``?token=...``, ``password=...``, also when percent-encoded). Such params are kept like
    secret params.
    """
    if not isinstance(value, str):
        return False
    text = unquote(value)
    if any(is_secret_param(name) for name in _ASSIGNED_NAME.findall(text)):
        return True
    if "@" not in text:
        return False
    for candidate in (value, text):
        try:
            if urlsplit(candidate.strip()).password:
                return True
        except ValueError:
            continue
    return False


@dataclasses.dataclass(frozen=True)
class _Policy:
    """The params one connection type accepts: for anyone, and only from admins."""

    anyone: frozenset[str]
    admins: frozenset[str] = frozenset()
    free_form: bool = False


_POSTGRES = _Policy(
    anyone=frozenset(
        {
            "sslmode",
            "sslpassword",
            "sslcompression",
            "sslsni",
            "sslnegotiation",
            "sslcertmode",
            "ssl_min_protocol_version",
            "ssl_max_protocol_version",
            "channel_binding",
            "require_auth",
            "gssencmode",
            "gsslib",
            "krbsrvname",
            "application_name",
            "options",
            "target_session_attrs",
            "load_balance_hosts",
            "keepalives",
            "keepalives_idle",
            "keepalives_interval",
            "keepalives_count",
            "tcp_user_timeout",
            "client_encoding",
        }
    ),
    # Each names a file on the server (or, hostaddr, a target that bypasses the host check).
    admins=frozenset(
        {"sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "passfile", "service", "requirepeer", "hostaddr"}
    ),
)
_MYSQL = _Policy(
    anyone=frozenset(
        {
            "charset",
            "collation",
            "ssl_check_hostname",
            "ssl_verify_cert",
            "ssl_verify_identity",
            "ssl_disabled",
            "ssl_cipher",
            "autocommit",
            "program_name",
            "binary_prefix",
            "sql_mode",
        }
    ),
    # Files on the server, a local socket, or SQL run on every connect.
    admins=frozenset(
        {
            "ssl_ca",
            "ssl_capath",
            "ssl_cert",
            "ssl_key",
            "ssl_key_password",
            "read_default_file",
            "read_default_group",
            "init_command",
            "unix_socket",
            "server_public_key",
            "bind_address",
        }
    ),
)
_MSSQL_ODBC = _Policy(
    anyone=frozenset(
        {"encrypt", "trustservercertificate", "applicationintent", "multisubnetfailover", "authentication", "app"}
    ),
    # An ODBC driver name or DSN picks a shared library or a file on the server.
    admins=frozenset({"driver", "odbc_connect", "dsn", "filedsn"}),
)
_POLICIES: dict[ConnectionType, _Policy] = {
    ConnectionType.postgresql: _POSTGRES,
    ConnectionType.mysql: _MYSQL,
    ConnectionType.mariadb: _MYSQL,
    ConnectionType.mssql: _MSSQL_ODBC,
    ConnectionType.mssql_pyodbc: _MSSQL_ODBC,
    # pymssql takes no file or library names: nothing is kept for admins.
    ConnectionType.mssql_pymysql: _Policy(anyone=frozenset({"charset", "tds_version", "appname", "autocommit"})),
    ConnectionType.sqlite: _Policy(anyone=frozenset()),
    ConnectionType.databricks: _Policy(anyone=frozenset({"http_path", "catalog", "schema"})),
    ConnectionType.snowflake: _Policy(
        anyone=frozenset(
            {
                "account",
                "warehouse",
                "schema",
                "role",
                "application",
                "client_session_keep_alive",
                "token",
                "passcode",
                "private_key",
                "private_key_file_pwd",
            }
        ),
        # A key file on the server; an authenticator can open a browser or call any URL from the server.
        admins=frozenset({"private_key_file", "authenticator"}),
    ),
    ConnectionType.s3: _Policy(
        anyone=frozenset(
            {"region", "region_name", "endpoint", "endpoint_url", "bucket", "session_token", "aws_session_token"}
        ),
        # A profile is the server's own AWS credentials.
        admins=frozenset({"profile", "profile_name"}),
    ),
    ConnectionType.api: _Policy(
        anyone=frozenset({"base_url", "url", "token", "api_key", "password", "auth_header", "verify"})
    ),
    ConnectionType.other: _Policy(anyone=frozenset(), free_form=True),
    # A Spark session is built by the flow's own code; the connection only names where it runs.
    ConnectionType.spark: _Policy(anyone=frozenset({"master", "app_name", "catalog", "schema"})),
}


@dataclasses.dataclass(frozen=True)
class ParamCheck:
    """A connection's params split by how they are kept: ``plain`` in clear, ``secret`` encrypted."""

    plain: dict[str, Any]
    secret: dict[str, Any]
    admin_only: list[str]


def check_params(name: str, kind: ConnectionType, params: Mapping[str, Any]) -> ParamCheck:
    """Check ``params`` against the allow-list of connection type ``kind``.

    A param the type does not take is a ``ValidationError`` naming the accepted ones. The
    result lists the admin-only params given (files on the server and the like) so that the
    caller can refuse them to non-admins, and splits off the params whose names look secret or
    whose values carry a credential (see :func:`holds_secret`).
    """
    policy = _POLICIES[kind]
    engine = frozenset() if kind not in SQL_CONNECTION_TYPES else _ENGINE_PARAMS
    known = {p.lower(): p for p in policy.anyone | policy.admins | engine}
    plain: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    admin_only: list[str] = []
    unknown: list[str] = []
    for key, value in params.items():
        if not isinstance(key, str) or not _PARAM_NAME.fullmatch(key):
            raise ValidationError(
                f"connection {name!r}: param name {key!r} is not a name (letters, digits, '_', '.', '-')"
            )
        lowered = key.lower()
        if lowered not in known and not policy.free_form:
            unknown.append(key)
            continue
        if lowered in {p.lower() for p in policy.admins}:
            admin_only.append(key)
        (secret if is_secret_param(key) or holds_secret(value) else plain)[key] = value
    if unknown:
        accepted = sorted(policy.anyone | engine) + [f"{p} (admins only)" for p in sorted(policy.admins)]
        raise ValidationError(
            f"connection {name!r} of type {kind.value} does not take params {sorted(unknown)}; "
            f"it accepts {accepted or 'none'}"
        )
    return ParamCheck(plain, secret, sorted(admin_only))


# --------------------------------------------------------------------------------------------
# Where a connection goes


#: Params whose value is a URL (or a host name) that the connection's client reaches.
_URL_PARAMS = ("endpoint", "endpoint_url", "base_url", "url")
# A host name as DNS spells one (underscores allowed, as some internal names have them).
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")
# What may follow a host name in a host field: a port.
_HOST_PORT = re.compile(r"([^:]+):(\d{1,5})")


def _unbracketed(host: str) -> str:
    """``host`` without the brackets of an IPv6 literal (``[::1]`` is ``::1``)."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _url_hosts(text: str) -> list[str]:
    """The host of a URL param as the two URL parsers the clients use read it (one or two names).

    ``urllib.parse`` (what the check read) and urllib3 (what boto3 and requests connect with)
    disagree on some URLs, e.g. ``http://127.0.0.1\\@example.com``: both hosts are returned so
    that neither reading can slip past the check; :func:`unclear_targets` refuses such URLs outright.
    """
    parsed = text if "://" in text else f"//{text}"
    hosts: list[str] = []
    try:
        hosts.append(urlsplit(parsed).hostname or text)
    except ValueError:
        hosts.append(text)
    try:
        from urllib3.util import parse_url

        other = parse_url(parsed).host
    except Exception:  # urllib3 missing, or a URL it cannot read (then no client connects with it)
        other = None
    if other:
        other = _unbracketed(other)
        if other.lower() not in (h.lower() for h in hosts):
            hosts.append(other)
    return hosts


def target_hosts(spec: ConnectionSpec) -> list[str]:
    """Every host name, address or socket path the connection would reach (empty for sqlite)."""
    hosts: list[str] = []
    if spec.type is ConnectionType.sqlite:
        return hosts
    for value in (spec.host, spec.params.get("hostaddr")):
        if value not in (None, ""):
            hosts.extend(part.strip() for part in str(value).split(",") if part.strip())
    for key in _URL_PARAMS:
        value = spec.params.get(key)
        if value not in (None, ""):
            hosts.extend(_url_hosts(str(value)))
    if spec.params.get("unix_socket"):
        hosts.append(str(spec.params["unix_socket"]))
    return [_unbracketed(h) for h in hosts]


def _host_problem(host: str, what: str) -> str | None:
    """Why ``host`` (from a host field) is not a plain host name or IP address, or None."""
    bare = _unbracketed(host)
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
        return None
    except ValueError:
        pass
    port = _HOST_PORT.fullmatch(host)
    name = port.group(1) if port else host
    if _HOST_NAME.fullmatch(name):
        return None
    return f"{what} {host[:100]!r} is not a host name or an IP address"


def unclear_targets(spec: ConnectionSpec) -> list[str]:
    """Why the connection's targets cannot be checked, one reason per unclear target (empty when clear).

    A host field must be a host name or an IP address (with an optional ``:port``); a URL param
    may hold no spaces, control characters or backslashes, and both URL parsers must read the same
    host from it. Drivers read more than that (``tcp:host``, ``host\\instance``, a backslash
    before ``@``), and what they would reach is then not what the check looked at.
    """
    if spec.type is ConnectionType.sqlite:
        return []
    problems: list[str] = []
    for field, value in (("host", spec.host), ("hostaddr", spec.params.get("hostaddr"))):
        if value in (None, ""):
            continue
        for part in str(value).split(","):
            part = part.strip()
            if part and not part.startswith(("/", "@")):  # sockets: refused as this machine's
                problem = _host_problem(part, field)
                if problem is not None:
                    problems.append(problem)
    for key in _URL_PARAMS:
        value = spec.params.get(key)
        if value in (None, ""):
            continue
        text = str(value)
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in text):
            problems.append(f"param {key} holds spaces, control characters or backslashes")
            continue
        hosts = _url_hosts(text)
        if len(hosts) > 1:
            problems.append(f"param {key} names its host ambiguously ({hosts[0]!r} or {hosts[1]!r})")
            continue
        problem = _host_problem(hosts[0], f"the host of param {key}")
        if problem is not None:
            problems.append(problem)
    return problems


#: Addresses of cloud metadata services that are neither loopback nor link-local: AWS's IPv6
#: instance metadata endpoint and Alibaba Cloud's.
_METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _private_address(text: str) -> bool:
    address = _address(text)
    return address is not None and (address.is_loopback or address.is_link_local or address.is_unspecified)


def _metadata_address(text: str) -> bool:
    return _address(text) in _METADATA_ADDRESSES


def private_target(host: str, resolve: bool = True) -> str | None:
    """Why ``host`` is on this machine or its link (loopback, link-local, a socket path, a cloud
    metadata address), or None.

    With ``resolve`` a host name is looked up and every address it has is checked; a name that
    does not resolve is not private (connecting to it fails anyway).
    """
    host = _unbracketed(host)
    if (
        host.startswith(("/", "@"))
        or host.lower() in ("localhost", "localhost.localdomain")
        or (host.lower().endswith(".localhost"))
    ):
        return f"{host!r} is this machine"
    if _private_address(host):
        return f"{host!r} is a loopback or link-local address"
    if _metadata_address(host):
        return f"{host!r} is a cloud metadata address"
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        address = str(info[4][0])
        if _private_address(address) or _metadata_address(address):
            return f"{host!r} resolves to the loopback, link-local or cloud metadata address {address}"
    return None


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
            # local_infile and timeouts are set by engine_kwargs only, whatever the params say.
            query={"charset": "utf8mb4", **_query(params, skip=_MYSQL_FORCED)},
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


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection to open (``connect``) and for each answer (``read``)."""

    connect: float = 10.0
    read: float = 60.0


def engine_kwargs(spec: ConnectionSpec, timeouts: Timeouts | None = None) -> dict[str, Any]:
    """Keyword arguments for :func:`sqlalchemy.create_engine` suited to the connection's type.

    MySQL and MariaDB connections never allow ``LOAD DATA LOCAL`` (a server could ask for any
    file of ours). With ``timeouts``, the driver's connect and read timeouts are set.
    """
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    for name in _ENGINE_PARAMS:
        if spec.params.get(name) is not None:
            kwargs[name] = int(spec.params[name])
    connect_args: dict[str, Any] = {}
    if spec.type in (ConnectionType.mysql, ConnectionType.mariadb):
        # MySQL closes idle connections after wait_timeout (8 h by default).
        kwargs.setdefault("pool_recycle", 3600)
        connect_args["local_infile"] = False
        if timeouts is not None:
            connect_args.update(
                connect_timeout=float(timeouts.connect),
                read_timeout=float(timeouts.read),
                write_timeout=float(timeouts.read),
            )
    if spec.type is ConnectionType.postgresql and not spec.params.get("passfile"):
        # Otherwise libpq reads the server account's ~/.pgpass and lends its passwords to any user.
        # A path under /dev/null cannot exist (libpq skips it quietly; /dev/null itself draws a warning).
        connect_args["passfile"] = NO_PASSFILE
    if timeouts is not None and spec.type is ConnectionType.postgresql:
        # libpq has no read timeout: statement_timeout bounds queries on the server, keepalives
        # and tcp_user_timeout notice a peer that went away.
        options = " ".join(
            part
            for part in (str(spec.params.get("options") or ""), f"-c statement_timeout={int(timeouts.read * 1000)}")
            if part
        )
        connect_args.update(
            connect_timeout=_whole(timeouts.connect),
            options=options,
            keepalives=1,
            keepalives_idle=max(1, _whole(timeouts.connect)),
            keepalives_interval=max(1, _whole(timeouts.connect) // 3),
            keepalives_count=3,
            tcp_user_timeout=int(timeouts.read * 1000),
        )
    elif timeouts is not None and spec.type is ConnectionType.mssql:
        connect_args["timeout"] = _whole(timeouts.connect)
    elif timeouts is not None and spec.type is ConnectionType.snowflake:
        connect_args.update(login_timeout=_whole(timeouts.connect), network_timeout=_whole(timeouts.read))
    elif timeouts is not None and spec.type is ConnectionType.databricks:
        connect_args["_socket_timeout"] = _whole(timeouts.read)
    if connect_args:
        kwargs["connect_args"] = connect_args
    return kwargs


def _whole(seconds: float) -> int:
    """Drivers take whole seconds; anything positive waits at least one."""
    return max(1, round(seconds))
