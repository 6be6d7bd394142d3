"""The SDK's ``virtualitics_sdk.page.card`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Column as Column
from flowdeck.elements import Element as Element
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import Row as Row
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import ContainerToggleCallback as ContainerToggleCallback
from flowdeck.elements.callbacks import DrilldownSize as DrilldownSize
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.callbacks import page_update_callback as page_update_callback
from flowdeck.page import Card as Card
from flowdeck.page import CardType as CardType
from flowdeck.page import Comment as Comment
from flowdeck.page import Container as Container
from flowdeck.page import Segment as Segment
from flowdeck.page import default_container_on_close as default_container_on_close
from flowdeck.page import default_container_open as default_container_open
from flowdeck.store.store_interface import StoreInterface as StoreInterface

__all__ = [
    "CallbackType",
    "Card",
    "CardType",
    "Column",
    "Comment",
    "Container",
    "ContainerToggleCallback",
    "DrilldownSize",
    "Element",
    "InputElement",
    "PageUpdateCallback",
    "Row",
    "Segment",
    "StoreInterface",
    "default_container_on_close",
    "default_container_open",
    "page_update_callback",
]
