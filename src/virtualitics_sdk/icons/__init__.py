"""The SDK's ``virtualitics_sdk.icons`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk.icons.fonts import ALL_ICONS as ALL_ICONS
from virtualitics_sdk.icons.fonts import EON_FIGURES as EON_FIGURES
from virtualitics_sdk.icons.fonts import EON_ICONS as EON_ICONS
from virtualitics_sdk.icons.fonts import AllowedIcons as AllowedIcons

__all__ = ["ALL_ICONS", "EON_FIGURES", "EON_ICONS", "AllowedIcons"]
