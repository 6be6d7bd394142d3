"""The SDK's ``virtualitics_sdk.types.callbacks`` module, backed by flowdeck."""

from __future__ import annotations

from typing import Any

from flowdeck.assets import Asset as Asset
from flowdeck.elements.callbacks import AssetDownloadCallback as AssetDownloadCallback
from flowdeck.elements.callbacks import CallbackReturnType as CallbackReturnType
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import ContainerToggleCallback as ContainerToggleCallback
from flowdeck.elements.callbacks import DrilldownCallback as DrilldownCallback
from flowdeck.elements.callbacks import DrilldownSize as DrilldownSize
from flowdeck.elements.callbacks import DrilldownType as DrilldownType
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.callbacks import StandardEventCallback as StandardEventCallback
from flowdeck.elements.callbacks import auto_refresh_callback as auto_refresh_callback
from flowdeck.elements.callbacks import drilldown_callback as drilldown_callback
from flowdeck.elements.callbacks import page_update_callback as page_update_callback
from flowdeck.elements.callbacks import row_action_callback as row_action_callback
from flowdeck.elements.callbacks import standard_event_callback as standard_event_callback
from flowdeck.page import Card as Card
from flowdeck.store.store_interface import StoreInterface as StoreInterface
from virtualitics_sdk._compat import DrilldownStoreInterface as DrilldownStoreInterface

CALLBACK_EXECUTABLE_TYPES: Any = ()
Callback: Any = Any
CallbackExecutable: Any = Any

__all__ = [
    "CALLBACK_EXECUTABLE_TYPES",
    "Asset",
    "AssetDownloadCallback",
    "Callback",
    "CallbackExecutable",
    "CallbackReturnType",
    "CallbackType",
    "Card",
    "ContainerToggleCallback",
    "DrilldownCallback",
    "DrilldownSize",
    "DrilldownStoreInterface",
    "DrilldownType",
    "PageUpdateCallback",
    "StandardEventCallback",
    "StoreInterface",
    "auto_refresh_callback",
    "drilldown_callback",
    "page_update_callback",
    "row_action_callback",
    "standard_event_callback",
]
