"""The SDK's ``virtualitics_sdk.elements.image`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import ElementOverflowBehavior as ElementOverflowBehavior
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import Image as Image
from flowdeck.elements import ImageSize as ImageSize

__all__ = ["Element", "ElementOverflowBehavior", "ElementType", "Image", "ImageSize"]
