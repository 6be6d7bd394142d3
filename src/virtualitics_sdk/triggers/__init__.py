"""The SDK's ``virtualitics_sdk.triggers`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from virtualitics_sdk._compat import optional

AssetTrigger = optional("AssetTrigger", "virtualitics_sdk.triggers")
AssetTriggerMode = optional("AssetTriggerMode", "virtualitics_sdk.triggers")
PostgresTrigger = optional("PostgresTrigger", "virtualitics_sdk.triggers")
PostgresTriggerMode = optional("PostgresTriggerMode", "virtualitics_sdk.triggers")
Trigger = optional("Trigger", "virtualitics_sdk.triggers")

__all__ = [
    "AssetTrigger",
    "AssetTriggerMode",
    "PageUpdateCallback",
    "PostgresTrigger",
    "PostgresTriggerMode",
    "Trigger",
]
