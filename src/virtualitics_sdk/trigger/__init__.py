"""The SDK's ``virtualitics_sdk.trigger`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import optional

trigger_flow_execution = optional("trigger_flow_execution", "virtualitics_sdk.trigger")

__all__ = ["trigger_flow_execution"]
