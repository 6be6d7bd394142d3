"""The SDK's ``virtualitics_sdk.elements.dropdown`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Dropdown as Dropdown
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import MultiDropdown as MultiDropdown
from flowdeck.elements import SingleDropdown as SingleDropdown
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback

__all__ = ["Dropdown", "ElementType", "InputElement", "MultiDropdown", "PageUpdateCallback", "SingleDropdown"]
