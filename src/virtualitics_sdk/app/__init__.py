"""The SDK's ``virtualitics_sdk.app`` module, backed by flowdeck."""

from __future__ import annotations

__all__ = []
