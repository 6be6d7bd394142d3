"""Run and step states, and the status snapshot of a run."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FlowStatus", "RunState", "StepState", "StepStatus"]


class StepState(str, enum.Enum):
    """Where a step is: pending → running → awaiting_input → acting → complete, or failed, cancelled, stale."""

    PENDING = "pending"
    RUNNING = "running"
    AWAITING_INPUT = "awaiting_input"
    ACTING = "acting"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STALE = "stale"

    def __str__(self) -> str:
        return self.value


class RunState(str, enum.Enum):
    """Where a run is: the state of its current step, or ``complete``."""

    PENDING = "pending"
    RUNNING = "running"
    AWAITING_INPUT = "awaiting_input"
    ACTING = "acting"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StepStatus:
    """One step's state, progress, message, timings and error."""

    name: str
    state: str
    progress: float
    message: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None
    traceback: str | None
    title: str = ""
    attempt: int = 0
    step_type: str = ""
    #: a short digest of the flow file's source the step's last attempt ran (None for flows in modules)
    code_version: str | None = None
    #: something the flow writer should look at (an input step whose run() stored no page)
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (times as ISO 8601 strings)."""
        data = asdict(self)
        for key in ("started_at", "ended_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["state"] = str(self.state)
        return data


@dataclass(frozen=True)
class FlowStatus:
    """A run's state and each step's status, in flow order."""

    flow_id: str
    flow_name: str
    user: str
    state: str
    current_step: str | None
    steps: list[StepStatus] = field(default_factory=list)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    def step(self, name: str) -> StepStatus:
        """The status of the step called ``name``."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def __getitem__(self, key: str) -> Any:
        """A field of :meth:`to_dict` (``status["state"]``, ``status["steps"]``), as the SDK's dict form."""
        return self.to_dict()[key]

    def keys(self) -> list[str]:
        """The keys of :meth:`to_dict`."""
        return list(self.to_dict())

    def get(self, key: str, default: Any = None) -> Any:
        """A field of :meth:`to_dict`, or ``default``."""
        return self.to_dict().get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "flow_id": self.flow_id,
            "flow_name": self.flow_name,
            "user": self.user,
            "state": str(self.state),
            "current_step": self.current_step,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "steps": [s.to_dict() for s in self.steps],
        }
