"""The SDK's ``virtualitics_sdk.elements.text_input`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import TextInput as TextInput
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback

__all__ = ["ElementType", "InputElement", "PageUpdateCallback", "TextInput"]
