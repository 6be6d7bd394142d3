"""The SDK's ``virtualitics_sdk.elements.schemas.element`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class

SerializedComment = unhosted_class("SerializedComment", "The platform's serialised element schemas")
SerializedElement = unhosted_class("SerializedElement", "The platform's serialised element schemas")

__all__ = ["SerializedComment", "SerializedElement"]
