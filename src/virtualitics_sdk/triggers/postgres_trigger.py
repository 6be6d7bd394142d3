"""The SDK's ``virtualitics_sdk.triggers.postgres_trigger`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from virtualitics_sdk._compat import optional

Trigger = optional("Trigger", "virtualitics_sdk.triggers.postgres_trigger")
PostgresTriggerMode = optional("PostgresTriggerMode", "virtualitics_sdk.triggers.postgres_trigger")
PostgresTrigger = optional("PostgresTrigger", "virtualitics_sdk.triggers.postgres_trigger")

__all__ = ["PageUpdateCallback", "PostgresTrigger", "PostgresTriggerMode", "Trigger"]
