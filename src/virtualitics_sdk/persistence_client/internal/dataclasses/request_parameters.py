"""The SDK's ``request_parameters`` module (persistence client), backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class

GetAssetParameters = unhosted_class("GetAssetParameters", "The Explore persistence client")
SaveAssetParameters = unhosted_class("SaveAssetParameters", "The Explore persistence client")
GetMetaDataParameters = unhosted_class("GetMetaDataParameters", "The Explore persistence client")
CopyAssetParameters = unhosted_class("CopyAssetParameters", "The Explore persistence client")
DeleteAssetParameters = unhosted_class("DeleteAssetParameters", "The Explore persistence client")
UpdateMetaDataParameters = unhosted_class("UpdateMetaDataParameters", "The Explore persistence client")

__all__ = [
    "CopyAssetParameters",
    "DeleteAssetParameters",
    "GetAssetParameters",
    "GetMetaDataParameters",
    "SaveAssetParameters",
    "UpdateMetaDataParameters",
]
