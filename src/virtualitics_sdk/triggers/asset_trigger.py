"""The SDK's ``virtualitics_sdk.triggers.asset_trigger`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from virtualitics_sdk._compat import optional

PostgresTrigger = optional("PostgresTrigger", "virtualitics_sdk.triggers.asset_trigger")
PostgresTriggerMode = optional("PostgresTriggerMode", "virtualitics_sdk.triggers.asset_trigger")
AssetTriggerMode = optional("AssetTriggerMode", "virtualitics_sdk.triggers.asset_trigger")
AssetTrigger = optional("AssetTrigger", "virtualitics_sdk.triggers.asset_trigger")

__all__ = ["AssetTrigger", "AssetTriggerMode", "PageUpdateCallback", "PostgresTrigger", "PostgresTriggerMode"]
