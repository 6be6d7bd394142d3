"""Triggers: start registered flows when objects land in S3, a query's result changes, an asset
appears, or a schedule comes round. ``flowdeck scheduler`` (or ``flowdeck.check_triggers()``) fires them."""

from __future__ import annotations

from flowdeck.triggers.base import Trigger
from flowdeck.triggers.kinds import (
    AssetTrigger,
    AssetTriggerMode,
    CompositeOperator,
    CompositeTrigger,
    PostgresTrigger,
    PostgresTriggerMode,
    S3Trigger,
    S3TriggerMode,
    ScheduleTrigger,
)
from flowdeck.triggers.service import (
    check_triggers,
    get_trigger,
    list_triggers,
    pause_trigger,
    remove_trigger,
    resume_trigger,
    run_scheduler,
)

__all__ = [
    "AssetTrigger",
    "AssetTriggerMode",
    "CompositeOperator",
    "CompositeTrigger",
    "PostgresTrigger",
    "PostgresTriggerMode",
    "S3Trigger",
    "S3TriggerMode",
    "ScheduleTrigger",
    "Trigger",
    "check_triggers",
    "get_trigger",
    "list_triggers",
    "pause_trigger",
    "remove_trigger",
    "resume_trigger",
    "run_scheduler",
]
