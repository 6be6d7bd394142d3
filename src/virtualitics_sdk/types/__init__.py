"""The SDK's ``virtualitics_sdk.types`` module, backed by flowdeck."""

from __future__ import annotations

__all__ = []
