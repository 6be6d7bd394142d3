"""The SDK's ``virtualitics_sdk.persistence_client.internal.dataclasses.response`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class

GetAssetResponse = unhosted_class("GetAssetResponse", "The Explore persistence client")
GetMetaDataResponse = unhosted_class("GetMetaDataResponse", "The Explore persistence client")
SaveAssetResponse = unhosted_class("SaveAssetResponse", "The Explore persistence client")
UpdateMetaDataResponse = unhosted_class("UpdateMetaDataResponse", "The Explore persistence client")
CopyAssetResponse = unhosted_class("CopyAssetResponse", "The Explore persistence client")
DeleteAssetResponse = unhosted_class("DeleteAssetResponse", "The Explore persistence client")

__all__ = [
    "CopyAssetResponse",
    "DeleteAssetResponse",
    "GetAssetResponse",
    "GetMetaDataResponse",
    "SaveAssetResponse",
    "UpdateMetaDataResponse",
]
