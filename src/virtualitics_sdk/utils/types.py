"""The SDK's ``virtualitics_sdk.utils.types`` module, backed by flowdeck."""

from __future__ import annotations

from typing import Any

from flowdeck.storage.connection_urls import ConnectionType as ConnectionType
from virtualitics_sdk._compat import ExtendedEnum as ExtendedEnum

numeric_t: Any = Any
object_t: Any = Any

__all__ = ["ConnectionType", "ExtendedEnum", "numeric_t", "object_t"]
