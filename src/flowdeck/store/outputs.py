"""Step outputs: saving values under a name and reading them back through the in-link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowdeck.errors import NotFoundError, StepStateError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import outputs as output_records
from flowdeck.storage.records import runs as run_records
from flowdeck.store.runs import RunView, no_current_step, read_run

__all__ = ["get_output", "has_output", "read_input", "save_output"]


def check_name(name: object) -> str:
    """An output name is a non-empty string of at most 200 characters."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"an output name must be a non-empty string, got {name!r}")
    if len(name) > 200:
        raise ValidationError(f"output name {name[:40]!r}... is longer than 200 characters")
    return name


def save_output(run_id: str, step_name: str | None, value: Any, name: str) -> None:
    """Save ``value`` as output ``name`` of ``step_name`` (default: the run's current step).

    The value's bytes are durable before the row that refers to them is committed.
    """
    check_name(name)
    storage = get_storage()
    stored = storage.values.put(value)
    with storage.db.write() as conn:
        if step_name is None:
            run = run_records.get_run(conn, run_id)
            step_name = run.current_step if run is not None else None
            if step_name is None:
                raise no_current_step(run_id, "save outputs to")
        if not output_records.insert_output(conn, run_id, step_name, name, stored):
            step = run_records.get_step(conn, run_id, step_name)
            if step is None:
                raise NotFoundError(f"run {run_id!r} has no step {step_name!r}")
            raise StepStateError(
                f"step {step_name!r} of run {run_id!r} has not run yet: its outputs are what its run() saves "
                f"when it runs; save {name!r} from this step and read it there with get_input({name!r})"
            )


def last_output_id(run_id: str) -> int:
    """Where a run's outputs stand now (the id of its newest output row), for :func:`drop_outputs_after`."""
    with get_storage().db.read() as conn:
        return output_records.last_output_id(conn, run_id)


def drop_outputs_after(run_id: str, output_id: int) -> int:
    """Drop the outputs a run gained since :func:`last_output_id` gave ``output_id`` (a failed callback's)."""
    with get_storage().db.write() as conn:
        run_records.lock_run(conn, run_id)
        return output_records.delete_outputs_after(conn, run_id, output_id)


def _candidates(view: RunView, step_name: str | None, reader_step: str | None) -> list[tuple[str, int]]:
    if step_name is not None:
        step = view.step(step_name)
        return [(step.name, max(step.attempt, 1))]
    reader = reader_step or view.current_step
    if reader is None:  # a complete run: every step's out-link is visible
        return [
            (s.name, s.attempt)
            for s in sorted(view.steps, key=lambda s: -s.position)
            if s.state not in ("stale", "pending")
        ]
    return view.in_link(reader)


def get_output(
    view: RunView,
    name: str,
    step_name: str | None = None,
    reader_step: str | None = None,
    *,
    columns: Any = None,
    rows: Any = None,
    zero_copy: bool = False,
) -> Any:
    """The value saved as ``name``: from ``step_name``'s out-link, or the reader's in-link.

    A missing name raises ``NotFoundError`` (a ``ValueError``) listing the names that exist.
    ``columns``, ``rows`` and ``zero_copy`` read part of a frame (see ``StoreInterface.get_input``).
    """
    check_name(name)
    candidates = _candidates(view, step_name, reader_step)
    storage = get_storage()
    with storage.db.read() as conn:
        row = _find_output(conn, view, name, candidates, step_name, reader_step)
    return storage.values.get(row, columns=columns, rows=rows, zero_copy=zero_copy)


def _find_output(
    conn: Any, view: RunView, name: str, candidates: Any, step_name: str | None, reader_step: str | None
) -> Any:
    """The output row ``name`` among ``candidates``; ``NotFoundError`` listing the names there otherwise.

    Taken from ``view`` when the run was read with that output's rows, from the database otherwise.
    """
    if view.output_name == name:
        found = view.outputs
        row = next((found[s] for s, a in candidates if s in found and found[s].attempt == a), None)
    else:
        row = output_records.find_output(conn, view.id, name, candidates)
    if row is None:
        existing = output_records.output_names(conn, view.id, candidates)
        reader = reader_step or view.current_step
        if step_name:
            where = f"step {step_name!r}"
        elif reader is None:
            where = "any step"  # a complete run: every step's out-link
        else:
            where = f"the in-link of step {reader!r}"
        raise NotFoundError(f"no output {name!r} in {where} of run {view.id!r}; names there: {existing}")
    return row


def read_input(
    run_id: str,
    who: Any,
    name: str,
    step_name: str | None = None,
    reader_step: str | None = None,
    *,
    check: Callable[[RunView], None] | None = None,
    columns: Any = None,
    rows: Any = None,
    zero_copy: bool = False,
) -> Any:
    """:func:`get_output` of run ``run_id`` as ``who`` may see it, the run and the row read in one transaction.

    ``check(view)`` runs on the run as read, before the value is decoded (e.g. to stop a cancelled step).
    """
    check_name(name)
    storage = get_storage()
    with storage.db.read() as conn:
        view = read_run(conn, run_id, who, output=name)
        if check is not None:
            check(view)
        candidates = _candidates(view, step_name, reader_step)
        row = _find_output(conn, view, name, candidates, step_name, reader_step)
    return storage.values.get(row, columns=columns, rows=rows, zero_copy=zero_copy)


def has_output(view: RunView, name: str, reader_step: str | None = None) -> bool:
    """Whether ``name`` is in the reader step's in-link."""
    check_name(name)
    candidates = _candidates(view, None, reader_step)
    with get_storage().db.read() as conn:
        return output_records.find_output(conn, view.id, name, candidates) is not None
