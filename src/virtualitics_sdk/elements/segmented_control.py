"""The SDK's ``virtualitics_sdk.elements.segmented_control`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import ElementHorizontalPosition as ElementHorizontalPosition
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import SegmentedControl as SegmentedControl
from flowdeck.page import Segment as Segment

__all__ = ["Element", "ElementHorizontalPosition", "ElementType", "Segment", "SegmentedControl"]
