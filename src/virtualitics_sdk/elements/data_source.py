"""The SDK's ``virtualitics_sdk.elements.data_source`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import DataSource as DataSource
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback

__all__ = ["DataSource", "ElementType", "InputElement", "PageUpdateCallback"]
