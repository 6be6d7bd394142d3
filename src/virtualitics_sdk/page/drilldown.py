"""The SDK's ``virtualitics_sdk.page.drilldown`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements.callbacks import DrilldownSize as DrilldownSize
from flowdeck.elements.callbacks import DrilldownType as DrilldownType

__all__ = ["DrilldownSize", "DrilldownType"]
