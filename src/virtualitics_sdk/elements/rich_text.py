"""The SDK's ``virtualitics_sdk.elements.rich_text`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import ElementOverflowBehavior as ElementOverflowBehavior
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import RichText as RichText
from flowdeck.elements import RichTextClickable as RichTextClickable
from flowdeck.elements.callbacks import CallbackType as CallbackType
from virtualitics_sdk.types.callbacks import Callback as Callback

__all__ = [
    "Callback",
    "CallbackType",
    "Element",
    "ElementOverflowBehavior",
    "ElementType",
    "RichText",
    "RichTextClickable",
]
