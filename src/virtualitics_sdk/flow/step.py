"""The SDK's older ``virtualitics_sdk.flow.step`` module, backed by flowdeck."""

from flowdeck.flow.model import Step, StepType

__all__ = ["Step", "StepType"]
