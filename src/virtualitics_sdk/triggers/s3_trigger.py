"""The SDK's ``virtualitics_sdk.triggers.s3_trigger`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from virtualitics_sdk._compat import optional

Trigger = optional("Trigger", "virtualitics_sdk.triggers.s3_trigger")
S3TriggerMode = optional("S3TriggerMode", "virtualitics_sdk.triggers.s3_trigger")
S3Trigger = optional("S3Trigger", "virtualitics_sdk.triggers.s3_trigger")

__all__ = ["PageUpdateCallback", "S3Trigger", "S3TriggerMode", "Trigger"]
