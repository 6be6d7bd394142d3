"""The SDK's ``virtualitics_sdk.persistence_client`` module, backed by flowdeck."""

from __future__ import annotations

__all__ = []
