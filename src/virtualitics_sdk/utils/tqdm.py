"""The SDK's ``virtualitics_sdk.utils.tqdm`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.flow.model import FlowMetadata as FlowMetadata
from virtualitics_sdk._compat import StepProgressTqdm as StepProgressTqdm

__all__ = ["FlowMetadata", "StepProgressTqdm"]
