"""The SDK's ``virtualitics_sdk.persistence_client.internal.dataclasses.metadata`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    GetMetaDataParameters as GetMetaDataParameters,
)
from virtualitics_sdk.persistence_client.internal.enums.asset_type import PersistenceAssetType as PersistenceAssetType

PersistenceMetadata = unhosted_class("PersistenceMetadata", "The Explore persistence client")

__all__ = ["GetMetaDataParameters", "PersistenceAssetType", "PersistenceMetadata"]
