"""The SDK's ``virtualitics_sdk.assets.asset`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.assets import Asset as Asset
from flowdeck.assets import AssetPersistenceMethod as AssetPersistenceMethod
from flowdeck.assets import AssetType as AssetType
from virtualitics_sdk._compat import unhosted_function

update_asset = unhosted_function("update_asset", "This part of the hosted platform")

__all__ = ["Asset", "AssetPersistenceMethod", "AssetType", "update_asset"]
