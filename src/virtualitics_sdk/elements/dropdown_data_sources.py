"""The SDK's ``virtualitics_sdk.elements.dropdown_data_sources`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import DataSourceDropdown as DataSourceDropdown
from flowdeck.elements import Dropdown as Dropdown
from flowdeck.storage.connection_urls import ConnectionType as ConnectionType

__all__ = ["ConnectionType", "DataSourceDropdown", "Dropdown"]
