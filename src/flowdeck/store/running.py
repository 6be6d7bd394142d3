"""Which step's code runs in this thread or task (a context variable the run lifecycle sets)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from flowdeck.errors import StepStateError

__all__ = ["current_step", "running_step"]

# The (run id, step name) whose code runs in this thread or task, so that a progress report made
# without a store (the SDK's static ``StoreInterface.update_progress``) reaches the right step.
_running: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("flowdeck_running_step", default=None)


@contextlib.contextmanager
def running_step(run_id: str, step_name: str) -> Iterator[None]:
    """Mark ``step_name`` of ``run_id`` as the step whose code runs in this context."""
    token = _running.set((run_id, step_name))
    try:
        yield
    finally:
        _running.reset(token)


def current_step() -> tuple[str, str]:
    """The (run id, step name) whose code runs in this context; ``StepStateError`` outside a step."""
    found = _running.get()
    if found is None:
        raise StepStateError(
            "no step is running here, so there is no step to report progress for; call update_progress "
            "inside a step's run() or action, or on a store: StoreInterface(**flow_metadata).update_progress(...)"
        )
    return found
