"""The storage of the current deployment: its database, blob store and codecs, built once per settings."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from flowdeck.config import Settings, get_settings, on_configure
from flowdeck.storage.blobs import BlobStore
from flowdeck.storage.codecs import SKOPS_SIGNING_PURPOSE, Codecs
from flowdeck.storage.database import Database
from flowdeck.storage.keys import signing_keys
from flowdeck.storage.values import ValueStore

__all__ = ["Storage", "get_storage", "reset_storage"]


@dataclass
class Storage:
    """Everything the services need to reach stored state."""

    settings: Settings
    db: Database
    blobs: BlobStore
    codecs: Codecs
    values: ValueStore
    pid: int = field(default_factory=os.getpid)

    def close(self) -> None:
        """Release pooled connections (in a forked child, without touching the parent's sockets)."""
        self.db.dispose(close=os.getpid() == self.pid)

    @classmethod
    def open(cls, settings: Settings) -> Storage:
        """Open (and upgrade, if needed) the storage the settings point at."""
        db = Database(settings.database_url)
        blobs = BlobStore.from_url(
            settings.blob_url,
            s3_endpoint_url=settings.s3_endpoint_url,
            cache_dir=settings.cache_dir,
            cache_size=settings.cache_size,
        )
        codecs = Codecs(signing_keys(settings), skops_keys=signing_keys(settings, SKOPS_SIGNING_PURPOSE))
        return cls(settings, db, blobs, codecs, ValueStore(codecs, blobs, settings.inline_threshold))


_lock = threading.Lock()
_storage: Storage | None = None


def get_storage() -> Storage:
    """The storage of the current settings, opened on first use and reused after."""
    global _storage
    settings = get_settings()
    current = _storage
    if current is not None and current.settings is settings:
        return current
    with _lock:
        if _storage is None or _storage.settings is not settings:
            if _storage is not None:
                _storage.close()
            _storage = Storage.open(settings)
        return _storage


def reset_storage(_settings: Settings | None = None) -> None:
    """Forget the open storage (the next use opens it again for the current settings)."""
    global _storage
    with _lock:
        if _storage is not None:
            _storage.close()
        _storage = None


on_configure(reset_storage)
