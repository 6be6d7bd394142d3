"""The SDK's ``virtualitics_sdk.store.drilldown_store_interface`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import Row as Row
from flowdeck.page import Card as Card
from virtualitics_sdk._compat import DrilldownStoreInterface as DrilldownStoreInterface

__all__ = ["Card", "DrilldownStoreInterface", "Element", "Row"]
