"""The SDK's ``virtualitics_sdk.assets.model`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.assets import Asset as Asset
from flowdeck.assets import AssetType as AssetType
from flowdeck.assets import Model as Model

__all__ = ["Asset", "AssetType", "Model"]
