"""The SDK's older ``virtualitics_sdk.flow.flow`` module, backed by flowdeck."""

from flowdeck.flow.model import App, Flow

__all__ = ["App", "Flow"]
