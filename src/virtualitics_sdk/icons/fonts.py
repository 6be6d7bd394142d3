"""The SDK's ``virtualitics_sdk.icons.fonts`` module, backed by flowdeck."""

from __future__ import annotations

from typing import Any

EonIcon: Any = Any
EON_ICONS: Any = ()
EonFigure: Any = Any
EON_FIGURES: Any = ()
GoogleIcon: Any = Any
GOOGLE_ICONS: Any = ()
AllowedIcons: Any = Any
ALL_ICONS: Any = ()

__all__ = [
    "ALL_ICONS",
    "EON_FIGURES",
    "EON_ICONS",
    "GOOGLE_ICONS",
    "AllowedIcons",
    "EonFigure",
    "EonIcon",
    "GoogleIcon",
]
