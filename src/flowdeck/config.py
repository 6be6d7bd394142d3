"""Settings: where a deployment keeps its state and how it runs steps.

Resolution order for every setting: arguments to :func:`configure` > ``FLOWDECK_<NAME>``
environment variables > top-level keys of ``$FLOWDECK_HOME/flowdeck.toml`` > defaults.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from flowdeck.errors import ConfigurationError

__all__ = ["Settings", "configure", "get_settings", "on_configure", "reconfigure", "secret_keys"]

_EXECUTORS = ("inline", "celery")


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
    #: How long a running step's lease lasts; the process running it renews it every third of that.
    step_lease_seconds: float = 30.0

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


def _load_or_create_key(home: Path) -> str:
    path = home / "secret.key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    # O_EXCL so that two processes starting at once agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
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
        step_lease_seconds=float(pick("step_lease_seconds", Settings.step_lease_seconds)),
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
