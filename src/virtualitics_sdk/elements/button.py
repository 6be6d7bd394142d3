"""The SDK's ``virtualitics_sdk.elements.button`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Button as Button
from flowdeck.elements import ButtonColor as ButtonColor
from flowdeck.elements import ButtonStyle as ButtonStyle
from flowdeck.elements import Element as Element
from flowdeck.elements import ElementHorizontalPosition as ElementHorizontalPosition
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import ElementVerticalPosition as ElementVerticalPosition
from flowdeck.elements.callbacks import CallbackType as CallbackType
from virtualitics_sdk.icons import ALL_ICONS as ALL_ICONS
from virtualitics_sdk.icons import EON_FIGURES as EON_FIGURES
from virtualitics_sdk.icons import EON_ICONS as EON_ICONS
from virtualitics_sdk.icons import AllowedIcons as AllowedIcons
from virtualitics_sdk.types.callbacks import CALLBACK_EXECUTABLE_TYPES as CALLBACK_EXECUTABLE_TYPES
from virtualitics_sdk.types.callbacks import Callback as Callback

__all__ = [
    "ALL_ICONS",
    "CALLBACK_EXECUTABLE_TYPES",
    "EON_FIGURES",
    "EON_ICONS",
    "AllowedIcons",
    "Button",
    "ButtonColor",
    "ButtonStyle",
    "Callback",
    "CallbackType",
    "Element",
    "ElementHorizontalPosition",
    "ElementType",
    "ElementVerticalPosition",
]
