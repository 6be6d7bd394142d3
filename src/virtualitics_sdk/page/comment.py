"""The SDK's ``virtualitics_sdk.page.comment`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.page import Comment as Comment

__all__ = ["Comment"]
