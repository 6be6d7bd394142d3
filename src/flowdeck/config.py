"""Settings: where a deployment keeps its state and how it runs steps.

Resolution order for every setting: arguments to :func:`configure` > ``FLOWDECK_<NAME>``
environment variables > top-level keys of ``$FLOWDECK_HOME/flowdeck.toml`` > defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from flowdeck.errors import ConfigurationError

__all__ = [
    "QUOTA_SETTINGS",
    "Settings",
    "configure",
    "get_settings",
    "make_private_dir",
    "on_configure",
    "reconfigure",
    "secret_keys",
]

_EXECUTORS = ("inline", "celery")


def _hide_password(url: str) -> str:
    """``url`` with the password of its user part (``scheme://user:password@host``) written as ``***``."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved settings of one deployment (read-only; change them with :func:`configure`)."""

    home: Path
    database_url: str
    blob_url: str
    secret_key: str
    metadata_bucket: str | None = None
    executor: str = "inline"
    s3_endpoint_url: str | None = None
    cache_dir: Path | None = None
    cache_size: int = 2 * 1024**3
    max_upload_bytes: int = 200 * 1024**2
    max_decoded_bytes: int = 1024**3
    max_upload_cells: int = 50_000_000
    max_sheet_cells: int = 2_000_000
    max_parse_seconds: float = 60.0
    max_concurrent_parses: int = 2
    inline_threshold: int = 64 * 1024
    broker_url: str = "redis://127.0.0.1:6379/0"
    flows: tuple[str, ...] = ()
    #: where datastore assets keep their tables (None: the deployment's own database)
    datastore_url: str | None = None
    #: the address people reach the web UI at, for links in notifications
    public_url: str = "http://127.0.0.1:8000"
    #: ``smtp://[user:password@]host[:port]`` (``smtps://`` for TLS) for e-mail notifications
    smtp_url: str | None = None
    smtp_from: str = "flowdeck@localhost"
    #: Largest request body the server reads for anything but an upload (JSON bodies), in bytes.
    max_json_bytes: int = 1024**2
    #: Password checks (argon2, 64 MiB each) that may run at once in one server process.
    max_concurrent_hashes: int = 4
    #: Wrong passwords for one account before each further one locks it for a doubling delay.
    login_free_failures: int = 5
    #: Wrong passwords from one client address before the same back-off applies to that address.
    login_address_free_failures: int = 20
    #: The longest login back-off in seconds (failure counts are forgotten after a day without failures).
    login_max_lock_seconds: int = 900
    #: Proxy addresses whose X-Forwarded-For/-Proto headers ``flowdeck serve`` trusts (comma-separated).
    forwarded_allow_ips: str | None = None
    #: Seconds a client has to send a request's headers, and between chunks of its body.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    #: Step workers one user may occupy at once in a server process (0: half the pool, at least 1).
    step_workers_per_user: int = 0
    connect_timeout: float = 10.0
    query_timeout: float = 60.0
    connection_test_timeout: float = 15.0
    connection_tests_per_user: int = 4
    #: Headless runs (``POST /api/flows/{name}/runs``) one user, and the whole server, may have running.
    headless_runs_per_user: int = 2
    headless_runs_at_once: int = 8
    connection_test_workers: int = 64
    queries_per_user: int = 4
    sqlite_dir: Path | None = None
    allow_private_targets: bool = False
    #: How long a running step's lease lasts; the process running it renews it every third of that.
    step_lease_seconds: float = 30.0
    #: How long firing a callback waits for a worker to carry it out (``executor=celery``).
    callback_timeout_seconds: float = 60.0
    #: Per-user quotas on what a user owns (0: unlimited; resources owned by admins are exempt).
    max_runs_per_user: int = 100_000
    max_connections_per_user: int = 1_000
    max_asset_versions_per_user: int = 100_000
    max_tokens_per_user: int = 100
    #: Users and groups one run, asset lineage or connection may be shared with (0: unlimited).
    max_shares_per_resource: int = 1_000

    def __repr__(self) -> str:
        """The settings with their secrets hidden: the key, and the passwords of URLs."""
        shown = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "secret_key":
                value = "***"
            elif isinstance(value, str) and "://" in value:
                value = _hide_password(value)
            shown.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def is_embedded(self) -> bool:
        """True on the single-machine default (SQLite database)."""
        return self.database_url.startswith("sqlite")


_FIELDS = {f.name for f in dataclasses.fields(Settings)}
_lock = threading.RLock()
_current: Settings | None = None
_overrides: dict[str, Any] = {}
_listeners: list[Callable[[Settings], None]] = []


def _read_toml(home: Path) -> dict[str, Any]:
    path = home / "flowdeck.toml"
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigurationError(f"{path} has unknown settings {unknown}; known settings are {sorted(_FIELDS)}")
    return data


def _env(name: str) -> str | None:
    value = os.environ.get(f"FLOWDECK_{name.upper()}")
    return value if value not in (None, "") else None


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents readable by this user only (0700); existing ones stay as they are."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for directory in reversed(missing):  # mkdir(parents=True) would give the parents the umask's mode
        directory.mkdir(mode=0o700, exist_ok=True)


def _load_or_create_key(home: Path) -> str:
    path = home / "secret.key"
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    make_private_dir(home)
    key = Fernet.generate_key().decode()
    # Written whole under a private name, then linked into place: a process that starts at the same
    # moment either links its own key first or finds the winner's file complete (never half-written).
    tmp = home / f".secret.key.{os.getpid()}.{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return key


def secret_keys(settings: Settings) -> list[str]:
    """The deployment's Fernet keys, newest first (``secret_key`` may hold several, comma-separated)."""
    keys = [k.strip() for k in settings.secret_key.split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "FLOWDECK_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with `flowdeck keys new`"
            ) from exc
    if not keys:
        raise ConfigurationError("FLOWDECK_SECRET_KEY is empty; make one with `flowdeck keys new`")
    return keys


def _positive(name: str, value: float) -> Any:
    """``value`` when it is above zero; a limit of zero or less would refuse every upload."""
    if value <= 0:
        raise ConfigurationError(f"setting {name} must be above zero, got {value}")
    return value


def _positive_number(value: Any, name: str) -> float:
    """``value`` as a number above zero (``ConfigurationError`` naming the setting otherwise)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0:
        raise ConfigurationError(f"FLOWDECK_{name.upper()} must be a positive number, got {value!r}")
    return number


#: The quota settings: a whole number of things, 0 for no limit.
QUOTA_SETTINGS = (
    "max_runs_per_user",
    "max_connections_per_user",
    "max_asset_versions_per_user",
    "max_tokens_per_user",
    "max_shares_per_resource",
)


def _quota(value: Any, name: str) -> int:
    """``value`` as a whole number from 0 (no limit) up (``ConfigurationError`` naming the setting otherwise)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = int(value.strip())
    if number is None or number < 0:
        raise ConfigurationError(f"FLOWDECK_{name.upper()} must be a whole number from 0 (0: no limit), got {value!r}")
    return number


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"FLOWDECK_{name.upper()} must be true or false, got {value!r}")


def _resolve(overrides: dict[str, Any]) -> Settings:
    home_raw = overrides.get("home") or _env("home") or "~/.flowdeck"
    home = Path(home_raw).expanduser().resolve()
    toml = _read_toml(home)

    def pick(name: str, default: Any = None) -> Any:
        if name in overrides and overrides[name] is not None:
            return overrides[name]
        env = _env(name)
        if env is not None:
            return env
        if name in toml:
            return toml[name]
        return default

    database_url = pick("database_url") or f"sqlite:///{home / 'flowdeck.db'}"
    blob_url = pick("blob_url") or f"file://{home / 'blobs'}"
    secret_key = pick("secret_key") or _load_or_create_key(home)
    executor = str(pick("executor", "inline")).lower()
    if executor not in _EXECUTORS:
        raise ConfigurationError(f"unknown executor {executor!r}; use one of {list(_EXECUTORS)}")
    cache_dir = pick("cache_dir")
    sqlite_dir = pick("sqlite_dir")
    flows = pick("flows", ())
    if isinstance(flows, str):
        flows = tuple(f for f in flows.split(os.pathsep) if f)
    settings = Settings(
        home=home,
        database_url=str(database_url),
        blob_url=str(blob_url),
        secret_key=str(secret_key),
        metadata_bucket=pick("metadata_bucket"),
        executor=executor,
        s3_endpoint_url=pick("s3_endpoint_url"),
        cache_dir=Path(cache_dir).expanduser() if cache_dir else home / "cache",
        cache_size=int(pick("cache_size", Settings.cache_size)),
        max_upload_bytes=int(pick("max_upload_bytes", Settings.max_upload_bytes)),
        max_decoded_bytes=_positive("max_decoded_bytes", int(pick("max_decoded_bytes", Settings.max_decoded_bytes))),
        max_upload_cells=_positive("max_upload_cells", int(pick("max_upload_cells", Settings.max_upload_cells))),
        max_sheet_cells=_positive("max_sheet_cells", int(pick("max_sheet_cells", Settings.max_sheet_cells))),
        max_parse_seconds=_positive("max_parse_seconds", float(pick("max_parse_seconds", Settings.max_parse_seconds))),
        max_concurrent_parses=_positive(
            "max_concurrent_parses", int(pick("max_concurrent_parses", Settings.max_concurrent_parses))
        ),
        inline_threshold=int(pick("inline_threshold", Settings.inline_threshold)),
        broker_url=str(pick("broker_url", Settings.broker_url)),
        flows=tuple(flows),
        datastore_url=pick("datastore_url"),
        public_url=str(pick("public_url", Settings.public_url)).rstrip("/"),
        smtp_url=pick("smtp_url"),
        smtp_from=str(pick("smtp_from", Settings.smtp_from)),
        max_json_bytes=int(pick("max_json_bytes", Settings.max_json_bytes)),
        max_concurrent_hashes=int(pick("max_concurrent_hashes", Settings.max_concurrent_hashes)),
        login_free_failures=int(pick("login_free_failures", Settings.login_free_failures)),
        login_address_free_failures=int(pick("login_address_free_failures", Settings.login_address_free_failures)),
        login_max_lock_seconds=int(pick("login_max_lock_seconds", Settings.login_max_lock_seconds)),
        forwarded_allow_ips=pick("forwarded_allow_ips"),
        header_timeout=float(pick("header_timeout", Settings.header_timeout)),
        body_timeout=float(pick("body_timeout", Settings.body_timeout)),
        step_workers_per_user=int(pick("step_workers_per_user", Settings.step_workers_per_user)),
        connect_timeout=_positive_number(pick("connect_timeout", Settings.connect_timeout), "connect_timeout"),
        query_timeout=_positive_number(pick("query_timeout", Settings.query_timeout), "query_timeout"),
        connection_test_timeout=_positive_number(
            pick("connection_test_timeout", Settings.connection_test_timeout), "connection_test_timeout"
        ),
        connection_tests_per_user=int(
            _positive_number(
                pick("connection_tests_per_user", Settings.connection_tests_per_user), "connection_tests_per_user"
            )
        ),
        headless_runs_per_user=int(
            _positive_number(pick("headless_runs_per_user", Settings.headless_runs_per_user), "headless_runs_per_user")
        ),
        headless_runs_at_once=int(
            _positive_number(pick("headless_runs_at_once", Settings.headless_runs_at_once), "headless_runs_at_once")
        ),
        connection_test_workers=int(
            _positive_number(
                pick("connection_test_workers", Settings.connection_test_workers), "connection_test_workers"
            )
        ),
        queries_per_user=int(_positive_number(pick("queries_per_user", Settings.queries_per_user), "queries_per_user")),
        sqlite_dir=Path(sqlite_dir).expanduser().resolve() if sqlite_dir else home / "sqlite",
        allow_private_targets=_flag(pick("allow_private_targets", False), "allow_private_targets"),
        step_lease_seconds=float(pick("step_lease_seconds", Settings.step_lease_seconds)),
        callback_timeout_seconds=float(
            _positive_number(
                pick("callback_timeout_seconds", Settings.callback_timeout_seconds), "callback_timeout_seconds"
            )
        ),
        **{name: _quota(pick(name, getattr(Settings, name)), name) for name in QUOTA_SETTINGS},
    )
    if not settings.step_lease_seconds > 0:
        raise ConfigurationError(
            f"step_lease_seconds must be a positive number of seconds, got {settings.step_lease_seconds!r}"
        )
    secret_keys(settings)
    return settings


def configure(**settings: Any) -> Settings:
    """Point this process at a deployment and return the resolved settings.

    Takes the setting names of DESIGN §1 in lower case without the prefix (``home``,
    ``database_url``, ``blob_url``, ``secret_key``, ``executor``, ``metadata_bucket``,
    ``s3_endpoint_url``, ...). Settings not given are read from the environment and
    ``flowdeck.toml``. Calling it again replaces the previous configuration.
    """
    unknown = sorted(set(settings) - _FIELDS)
    if unknown:
        raise ConfigurationError(f"unknown settings {unknown}; known settings are {sorted(_FIELDS)}")
    global _current, _overrides
    with _lock:
        resolved = _resolve(settings)
        _overrides = dict(settings)
        _current = resolved
        listeners = list(_listeners)
    for listener in listeners:
        listener(resolved)
    return resolved


def reconfigure(**changes: Any) -> Settings:
    """Change some settings of the current configuration, keeping the other arguments given before."""
    with _lock:
        merged = {**_overrides, **changes}
    return configure(**merged)


def get_settings() -> Settings:
    """The current settings, resolved on first use from the environment and ``flowdeck.toml``."""
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            _current = _resolve(_overrides)
        return _current


def on_configure(listener: Callable[[Settings], None]) -> None:
    """Call ``listener`` whenever :func:`configure` changes the settings (used to drop cached engines)."""
    with _lock:
        _listeners.append(listener)
