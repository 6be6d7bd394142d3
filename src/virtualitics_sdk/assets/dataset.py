"""The SDK's ``virtualitics_sdk.assets.dataset`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.assets import Asset as Asset
from flowdeck.assets import AssetType as AssetType
from flowdeck.assets import DataEncoding as DataEncoding
from flowdeck.assets import Dataset as Dataset
from virtualitics_sdk._compat import ExtendedEnum as ExtendedEnum
from virtualitics_sdk.utils.types import object_t as object_t

__all__ = ["Asset", "AssetType", "DataEncoding", "Dataset", "ExtendedEnum", "object_t"]
