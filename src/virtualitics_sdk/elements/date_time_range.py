"""The SDK's ``virtualitics_sdk.elements.date_time_range`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import DateTimeRange as DateTimeRange
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback

__all__ = ["DateTimeRange", "ElementType", "InputElement", "PageUpdateCallback"]
