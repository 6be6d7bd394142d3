"""The SDK's ``virtualitics_sdk.triggers.composite_trigger`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from virtualitics_sdk._compat import optional

Trigger = optional("Trigger", "virtualitics_sdk.triggers.composite_trigger")
CompositeTrigger = optional("CompositeTrigger", "virtualitics_sdk.triggers.composite_trigger")

__all__ = ["CompositeTrigger", "PageUpdateCallback", "Trigger"]
