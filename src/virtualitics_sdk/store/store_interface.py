"""The SDK's ``virtualitics_sdk.store.store_interface`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.assets import Asset as Asset
from flowdeck.assets import AssetPersistenceMethod as AssetPersistenceMethod
from flowdeck.assets import AssetType as AssetType
from flowdeck.assets import Dataset as Dataset
from flowdeck.assets import Model as Model
from flowdeck.assets import Schema as Schema
from flowdeck.elements import DataSource as DataSource
from flowdeck.elements import Element as Element
from flowdeck.elements import InputElement as InputElement
from flowdeck.page import Page as Page
from flowdeck.storage.connection_urls import ConnectionType as ConnectionType
from flowdeck.store.store_interface import StoreInterface as StoreInterface
from virtualitics_sdk._compat import unhosted_class

DatasetIndex = unhosted_class("DatasetIndex", "This part of the hosted platform")

__all__ = [
    "Asset",
    "AssetPersistenceMethod",
    "AssetType",
    "ConnectionType",
    "DataSource",
    "Dataset",
    "DatasetIndex",
    "Element",
    "InputElement",
    "Model",
    "Page",
    "Schema",
    "StoreInterface",
]
