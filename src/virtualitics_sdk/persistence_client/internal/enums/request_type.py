"""The SDK's ``virtualitics_sdk.persistence_client.internal.enums.request_type`` module, backed by flowdeck."""

from __future__ import annotations

import enum

from virtualitics_sdk._compat import unhosted_function
from virtualitics_sdk.persistence_client.internal.enums.method import Method as Method


class RequestType(enum.Enum):
    """RequestType (the SDK's enum; values are the member names in lower case)."""

    GET_META_DATA = "get_meta_data"
    GET_ASSET_DATA = "get_asset_data"
    SAVE_ASSET = "save_asset"
    DELETE_ASSET = "delete_asset"
    UPDATE_META_DATA = "update_meta_data"
    COPY_ASSET = "copy_asset"


get_route_and_method_info = unhosted_function("get_route_and_method_info", "The Explore persistence client")

__all__ = ["Method", "RequestType", "get_route_and_method_info"]
