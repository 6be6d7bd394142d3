"""The SDK's older ``virtualitics_sdk.flow.flow_metadata`` module, backed by flowdeck."""

from flowdeck.flow.model import FlowMetadata

__all__ = ["FlowMetadata"]
