"""Progress events: recorded in the database and published to listeners in this process."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flowdeck.errors import NotFoundError, StepStateError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import progress as progress_records
from flowdeck.storage.records import runs as run_records
from flowdeck.store.lifecycle import check_cancelled
from flowdeck.store.running import current_step, running_step
from flowdeck.store.runs import no_current_step

__all__ = [
    "ProgressEvent",
    "current_step",
    "events_after",
    "record_progress",
    "restore_progress",
    "running_step",
    "subscribe",
]


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a step."""

    id: int
    run_id: str
    step_name: str
    completion: float
    message: str
    page_update: bool


Listener = Callable[[ProgressEvent], None]
_lock = threading.Lock()
#: The states of a step that is not running and reports no progress (a failed or cancelled step's
#: hooks still may).
_NOT_RUNNING = frozenset({"pending", "complete", "stale"})
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` for every progress event recorded in this process; returns an unsubscribe."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def validate_completion(completion: object) -> float:
    """A completion figure is a number from 0 to 100."""
    if isinstance(completion, bool) or not isinstance(completion, int | float):
        raise ValidationError(f"progress must be a number from 0 to 100, got {completion!r}")
    value = float(completion)
    if math.isnan(value) or not 0 <= value <= 100:
        raise ValidationError(f"progress must be from 0 to 100, got {completion!r}")
    return value


def record_progress(
    run_id: str, step_name: str | None, completion: object, message: object, page_update: bool = False
) -> bool:
    """Record a step's progress and publish it; returns True once it is recorded."""
    value = validate_completion(completion)
    text = "" if message is None else str(message)
    storage = get_storage()
    with storage.db.write() as conn:
        run = run_records.get_run(conn, run_id)
        if run is not None:
            # Inside a step whose action was cancelled, a progress update stops the step here.
            check_cancelled(run_id, run.action_token)
        if step_name is None:
            step_name = run.current_step if run is not None else None
            if step_name is None:
                raise no_current_step(run_id, "report progress for")
        step = run_records.get_step(conn, run_id, step_name)
        if step is None:
            raise NotFoundError(f"run {run_id!r} has no step {step_name!r}")
        if step.state in _NOT_RUNNING:
            raise StepStateError(
                f"step {step_name!r} of run {run_id!r} is {step.state}: progress is reported by a step while "
                "it runs (its run(), action or callbacks)"
            )
        event_id = progress_records.insert_event(conn, run_id, step_name, step.attempt, value, text, bool(page_update))
        run_records.update_step(conn, run_id, step_name, progress=value, message=text)
    event = ProgressEvent(event_id, run_id, step_name, value, text, bool(page_update))
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event)
    return True


def restore_progress(run_id: str, step_name: str, completion: float, message: str | None) -> None:
    """Put a step's progress and message back to ``completion`` and ``message`` (what they were before a
    callback that failed reported its own), publishing the change when there is one."""
    storage = get_storage()
    with storage.db.read() as conn:  # most failing callbacks report none: nothing to write then
        step = run_records.get_step(conn, run_id, step_name)
    if step is None or (step.progress, step.message) == (completion, message):
        return
    with storage.db.write() as conn:
        step = run_records.get_step(conn, run_id, step_name)
        if step is None:
            return
        text = message or ""
        event_id = progress_records.insert_event(conn, run_id, step_name, step.attempt, completion, text, False)
        run_records.update_step(conn, run_id, step_name, progress=completion, message=message)
    event = ProgressEvent(event_id, run_id, step_name, completion, text, False)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event)


def events_after(run_id: str, after_id: int = 0) -> list[ProgressEvent]:
    """Recorded events of a run after ``after_id`` (for UIs that poll)."""
    with get_storage().db.read() as conn:
        rows = progress_records.events_after(conn, run_id, after_id)
    return [ProgressEvent(r.id, r.run_id, r.step_name, r.completion, r.message, r.page_update) for r in rows]
