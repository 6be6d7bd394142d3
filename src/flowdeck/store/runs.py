"""Runs: creation, visibility, step state transitions and status."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Row

from flowdeck.auth import access
from flowdeck.auth.users import Principal
from flowdeck.errors import NotFoundError, StepStateError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import runs as run_records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.store.status import FlowStatus, RunState, StepState, StepStatus

__all__ = [
    "RunView",
    "create_run",
    "delete_run",
    "flow_status",
    "list_runs",
    "load_run",
    "run_resource",
    "run_shares",
    "share_run",
    "unshare_run",
]


@dataclass(frozen=True)
class RunView:
    """A snapshot of a run row and its steps, read in one transaction."""

    run: Row
    steps: list[Row]

    @property
    def id(self) -> str:
        """The run id (the flow_id of the reference API)."""
        return self.run.id

    @property
    def current_step(self) -> str | None:
        """The step whose page awaits the user (None once the run is complete)."""
        return self.run.current_step

    @property
    def step_names(self) -> list[str]:
        """Step names in flow order."""
        return [s.name for s in self.steps]

    def step(self, name: str) -> Row:
        """The step row called ``name``; ``NotFoundError`` listing the steps otherwise."""
        for step in self.steps:
            if step.name == name:
                return step
        raise NotFoundError(f"run {self.id!r} has no step {name!r}; its steps are {self.step_names}")

    def position(self, name: str) -> int:
        """The index of step ``name`` in the flow."""
        return self.step(name).position

    def in_link(self, step_name: str) -> list[tuple[str, int]]:
        """(step, attempt) of the steps whose outputs ``step_name`` sees, nearest first."""
        pos = self.position(step_name)
        earlier = [s for s in self.steps if s.position < pos and s.state not in ("stale", "pending")]
        return [(s.name, s.attempt) for s in sorted(earlier, key=lambda s: -s.position)]


def run_resource(run: Row) -> access.Resource:
    """The run as the access rules see it."""
    return access.Resource("run", run.id, run.owner, f"run {run.id!r}")


def read_run(conn: Connection, run_id: str, who: Principal) -> RunView:
    """The run as ``who`` may see it; ``NotFoundError`` when it does not exist or is not theirs."""
    if not isinstance(run_id, str) or not run_id:
        raise NotFoundError(f"no run {run_id!r}: a flow_id is the id returned by flowdeck.start()")
    run = run_records.get_run(conn, run_id)
    if run is None or not access.can_view(conn, who, run_resource(run)):
        raise NotFoundError(f"no run {run_id!r} visible to user {who.name!r}")
    return RunView(run, run_records.get_steps(conn, run_id))


def load_run(run_id: str, who: Principal) -> RunView:
    """Read a run (see :func:`read_run`) in its own transaction."""
    with get_storage().db.read() as conn:
        return read_run(conn, run_id, who)


def create_run(
    flow_name: str, flow_ref: str | None, owner: Principal, step_specs: Sequence[run_records.StepSpec]
) -> str:
    """Create a run of a flow owned by ``owner``; returns the new flow id."""
    if not step_specs:
        raise ValidationError(f"flow {flow_name!r} has no steps; chain at least one step")
    run_id = uuid.uuid4().hex
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, owner.name)
        run_records.insert_run(
            conn, run_id, flow_name=flow_name, flow_ref=flow_ref, owner=owner.name, step_specs=step_specs
        )
    return run_id


def require_manager(view: RunView, who: Principal, action: str) -> None:
    """Only the owner or an admin may delete, share or unshare a run."""
    access.require_manage(who, run_resource(view.run), action)


def share_run(
    run_id: str,
    who: Principal,
    users: Sequence[str] = (),
    groups: Sequence[str] = (),
    *,
    register_users: bool = False,
) -> None:
    """Let ``users`` and members of ``groups`` view and continue the run (owner or admin only).

    An unknown user name is a ``NotFoundError`` unless ``register_users`` (see ``access.share``).
    """
    with get_storage().db.write() as conn:
        view = read_run(conn, run_id, who)
        access.share(conn, who, run_resource(view.run), users, groups, register_users=register_users)


def unshare_run(run_id: str, who: Principal, users: Sequence[str] = (), groups: Sequence[str] = ()) -> None:
    """Stop sharing the run with ``users`` and ``groups`` (owner or admin only; repeating is a no-op)."""
    with get_storage().db.write() as conn:
        view = read_run(conn, run_id, who)
        access.unshare(conn, who, run_resource(view.run), users, groups)


def run_shares(run_id: str, who: Principal) -> list[tuple[str, str]]:
    """(``user``/``group``, name) pairs the run is shared with; its owner or an admin only."""
    with get_storage().db.read() as conn:
        view = read_run(conn, run_id, who)
        require_manager(view, who, "see the shares of")
        return access.shares_of(conn, run_resource(view.run))


def delete_run(run_id: str, who: Principal) -> None:
    """Delete a run with its outputs, pages and uploads (assets stay)."""
    with get_storage().db.write() as conn:
        view = read_run(conn, run_id, who)
        require_manager(view, who, "delete")
        run_records.delete_run(conn, run_id)


def list_runs(who: Principal, limit: int = 200) -> list[Row]:
    """Runs ``who`` may see, newest first."""
    with get_storage().db.read() as conn:
        return run_records.list_runs(conn, access.audience(who), limit=limit)


def flow_status(view: RunView) -> FlowStatus:
    """The status snapshot of a run."""
    return FlowStatus(
        flow_id=view.id,
        flow_name=view.run.flow_name,
        user=view.run.owner,
        state=RunState(view.run.state),
        current_step=view.run.current_step,
        created_at=as_utc(view.run.created_at),
        updated_at=as_utc(view.run.updated_at),
        steps=[
            StepStatus(
                name=s.name,
                state=StepState(s.state),
                progress=float(s.progress),
                message=s.message,
                started_at=as_utc(s.started_at),
                ended_at=as_utc(s.ended_at),
                error=s.error,
                traceback=s.traceback,
                title=s.title,
                attempt=s.attempt,
                step_type=s.step_type,
            )
            for s in view.steps
        ],
    )


# --- state transitions (used by the runner) -------------------------------------------------


def begin_step(run_id: str, step_name: str) -> int:
    """Mark a step running as a new attempt and make it current; returns the attempt number."""
    with get_storage().db.write() as conn:
        run_records.lock_run(conn, run_id)
        step = run_records.get_step(conn, run_id, step_name)
        if step is None:
            raise NotFoundError(f"run {run_id!r} has no step {step_name!r}")
        attempt = step.attempt + 1
        run_records.update_step(
            conn,
            run_id,
            step_name,
            state=StepState.RUNNING.value,
            attempt=attempt,
            progress=0.0,
            message=None,
            started_at=utcnow(),
            ended_at=None,
            error=None,
            traceback=None,
        )
        run_records.update_run(conn, run_id, state=RunState.RUNNING.value, current_step=step_name)
    return attempt


def set_step_state(
    run_id: str, step_name: str, state: StepState, *, error: str | None = None, traceback: str | None = None
) -> None:
    """Move a step (and its run) to ``state``; failures keep their error and traceback."""
    values: dict = {"state": state.value}
    if state in (StepState.COMPLETE, StepState.FAILED):
        values["ended_at"] = utcnow()
    if state is StepState.COMPLETE:
        values["progress"] = 100.0
    if state is StepState.FAILED:
        values.update(error=error, traceback=traceback)
    with get_storage().db.write() as conn:
        run_records.lock_run(conn, run_id)
        run_records.update_step(conn, run_id, step_name, **values)
        if state is not StepState.COMPLETE:
            run_records.update_run(conn, run_id, state=state.value, current_step=step_name)


def complete_run(run_id: str) -> None:
    """Mark the run complete (no current step)."""
    with get_storage().db.write() as conn:
        run_records.update_run(conn, run_id, state=RunState.COMPLETE.value, current_step=None)


def reopen_step(run_id: str, step_name: str) -> None:
    """Make ``step_name`` current again, awaiting input; every later step that ran becomes stale."""
    with get_storage().db.write() as conn:
        run_records.lock_run(conn, run_id)
        steps = run_records.get_steps(conn, run_id)
        target = next(s for s in steps if s.name == step_name)
        for step in steps:
            if step.position > target.position and step.state != StepState.PENDING.value:
                run_records.update_step(conn, run_id, step.name, state=StepState.STALE.value)
        run_records.update_step(conn, run_id, step_name, state=StepState.AWAITING_INPUT.value, ended_at=None)
        run_records.update_run(conn, run_id, state=RunState.AWAITING_INPUT.value, current_step=step_name)


BUSY_STATES = (StepState.RUNNING.value, StepState.ACTING.value)


def claim_step(run_id: str, step_name: str, expected: str, current_step: str | None, state: StepState) -> bool:
    """Move a step from ``expected`` to ``state`` if the run is as the caller saw it and not busy.

    Compare-and-set under the run's lock, so that two processes cannot both act on one run.
    """
    with get_storage().db.write() as conn:
        run = run_records.lock_run(conn, run_id)
        steps = run_records.get_steps(conn, run_id)
        step = next((s for s in steps if s.name == step_name), None)
        if run is None or step is None or step.state != expected or run.current_step != current_step:
            return False
        if run.state in BUSY_STATES or any(s.state in BUSY_STATES for s in steps):
            return False
        values: dict[str, Any] = {"state": state.value}
        if state is StepState.RUNNING:
            values.update(progress=0.0, message=None, error=None, traceback=None, ended_at=None)
        run_records.update_step(conn, run_id, step_name, **values)
        run_records.update_run(conn, run_id, state=state.value, current_step=step_name)
    return True


def restore_step(run_id: str, step_name: str, step_state: str, run_state: str, current_step: str | None) -> None:
    """Put a step and its run back as they were (an action that could not be handed over)."""
    with get_storage().db.write() as conn:
        if run_records.lock_run(conn, run_id) is None:
            return
        run_records.update_step(conn, run_id, step_name, state=step_state)
        run_records.update_run(conn, run_id, state=run_state, current_step=current_step)


def fail_busy_steps(run_id: str, *, error: str, traceback: str) -> None:
    """Mark every running or acting step of a run failed (an error outside step code)."""
    with get_storage().db.write() as conn:
        run = run_records.lock_run(conn, run_id)
        if run is None:
            return
        steps = run_records.get_steps(conn, run_id)
        busy = [s.name for s in steps if s.state in BUSY_STATES]
        if not busy and run.state in BUSY_STATES and run.current_step is not None:
            busy = [run.current_step]
        for name in busy:
            run_records.update_step(
                conn, run_id, name, state=StepState.FAILED.value, ended_at=utcnow(), error=error, traceback=traceback
            )
            run_records.update_run(conn, run_id, state=StepState.FAILED.value, current_step=name)


def check_state(view: RunView, action: str) -> Row:
    """The current step row if ``action`` (``next``/``rerun``/``back``) is allowed now."""
    current = view.current_step
    if current is None:
        if view.run.state == RunState.COMPLETE.value and action == "back":
            return view.steps[-1]
        raise StepStateError(f"run {view.id!r} is {view.run.state}; {action}() needs a step awaiting the user")
    step = view.step(current)
    if action == "next" and step.state == StepState.FAILED.value:
        raise StepStateError(
            f"step {current!r} failed ({step.error}); fix the cause and call run.rerun() before next()"
        )
    if action == "next" and step.state != StepState.AWAITING_INPUT.value:
        raise StepStateError(f"step {current!r} is {step.state}; next() needs it awaiting input")
    if action == "back" and step.position == 0:
        raise StepStateError(f"step {current!r} is the first step; there is no step to go back to")
    return step
