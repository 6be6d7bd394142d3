"""The SDK's ``virtualitics_sdk.elements.element`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import ElementHorizontalPosition as ElementHorizontalPosition
from flowdeck.elements import ElementOverflowBehavior as ElementOverflowBehavior
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import ElementVerticalPosition as ElementVerticalPosition
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import DrilldownCallback as DrilldownCallback
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.callbacks import StandardEventCallback as StandardEventCallback
from flowdeck.page import Comment as Comment
from virtualitics_sdk.types.callbacks import Callback as Callback

__all__ = [
    "Callback",
    "CallbackType",
    "Comment",
    "DrilldownCallback",
    "Element",
    "ElementHorizontalPosition",
    "ElementOverflowBehavior",
    "ElementType",
    "ElementVerticalPosition",
    "InputElement",
    "PageUpdateCallback",
    "StandardEventCallback",
]
