"""The SDK's ``virtualitics_sdk.elements.numeric_range`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import NumericRange as NumericRange
from flowdeck.elements import NumericRangeSlider as NumericRangeSlider
from flowdeck.elements import NumericSlider as NumericSlider
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback

__all__ = ["ElementType", "InputElement", "NumericRange", "NumericRangeSlider", "NumericSlider", "PageUpdateCallback"]
