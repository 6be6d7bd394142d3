"""The SDK's ``virtualitics_sdk.persistence_client.internal.enums.authentication_mode`` module, backed by flowdeck."""

from __future__ import annotations

import enum


class AuthenticationMode(enum.Enum):
    """AuthenticationMode (the SDK's enum; values are the member names in lower case)."""

    JWT = "jwt"
    NONE = "none"


__all__ = ["AuthenticationMode"]
