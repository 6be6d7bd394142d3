"""Keys derived from the deployment's secret (defined in :mod:`flowdeck.storage.keys`, re-exported here)."""

from __future__ import annotations

from flowdeck.storage.keys import derive_key, fernet, signing_keys

__all__ = ["derive_key", "fernet", "signing_keys"]
