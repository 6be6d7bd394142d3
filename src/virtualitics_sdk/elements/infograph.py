"""The SDK's ``virtualitics_sdk.elements.infograph`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Button as Button
from flowdeck.elements import Element as Element
from flowdeck.elements import ElementHorizontalPosition as ElementHorizontalPosition
from flowdeck.elements import ElementOverflowBehavior as ElementOverflowBehavior
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import ElementVerticalPosition as ElementVerticalPosition
from flowdeck.elements import InfographData as InfographData
from flowdeck.elements import InfographDataType as InfographDataType
from flowdeck.elements import Infographic as Infographic
from flowdeck.elements import InfographicOrientation as InfographicOrientation
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import DrilldownCallback as DrilldownCallback
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.callbacks import StandardEventCallback as StandardEventCallback
from virtualitics_sdk._compat import PredictException as PredictException
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
    "Callback",
    "CallbackType",
    "DrilldownCallback",
    "Element",
    "ElementHorizontalPosition",
    "ElementOverflowBehavior",
    "ElementType",
    "ElementVerticalPosition",
    "InfographData",
    "InfographDataType",
    "Infographic",
    "InfographicOrientation",
    "PageUpdateCallback",
    "PredictException",
    "StandardEventCallback",
]
