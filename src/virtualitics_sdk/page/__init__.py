"""The SDK's ``virtualitics_sdk.page`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.page import Card as Card
from flowdeck.page import CardType as CardType
from flowdeck.page import Container as Container
from flowdeck.page import Page as Page
from flowdeck.page import Section as Section
from flowdeck.page import default_container_on_close as default_container_on_close

__all__ = ["Card", "CardType", "Container", "Page", "Section", "default_container_on_close"]
