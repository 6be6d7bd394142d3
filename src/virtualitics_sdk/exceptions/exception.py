"""The SDK's ``virtualitics_sdk.exceptions.exception`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import PredictException as PredictException

__all__ = ["PredictException"]
