"""The SDK's ``virtualitics_sdk.assets.schema`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.assets import Asset as Asset
from flowdeck.assets import AssetType as AssetType
from flowdeck.assets import Schema as Schema

__all__ = ["Asset", "AssetType", "Schema"]
