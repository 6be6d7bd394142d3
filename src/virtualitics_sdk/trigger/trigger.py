"""The SDK's ``virtualitics_sdk.trigger.trigger`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.store.store_interface import StoreInterface as StoreInterface
from virtualitics_sdk._compat import optional

trigger_flow_execution = optional("trigger_flow_execution", "virtualitics_sdk.trigger.trigger")

__all__ = ["StoreInterface", "trigger_flow_execution"]
