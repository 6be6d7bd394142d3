"""The SDK's ``virtualitics_sdk.persistence_client.internal.enums.method`` module, backed by flowdeck."""

from __future__ import annotations

import enum


class Method(enum.Enum):
    """Method (the SDK's enum; values are the member names in lower case)."""

    DELETE = "delete"
    POST = "post"
    GET = "get"
    PUT = "put"


__all__ = ["Method"]
