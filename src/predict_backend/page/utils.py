"""The reference import path ``predict_backend.page.utils``."""

from virtualitics_sdk.trigger.trigger import trigger_flow_execution

__all__ = ["trigger_flow_execution"]
