"""The SDK's ``virtualitics_sdk.app.flow_metadata`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.flow.model import FlowMetadata as FlowMetadata

__all__ = ["FlowMetadata"]
