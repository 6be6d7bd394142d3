"""The SDK's ``virtualitics_sdk.page.section`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import Row as Row
from flowdeck.page import Card as Card
from flowdeck.page import Section as Section

__all__ = ["Card", "Element", "InputElement", "Row", "Section"]
