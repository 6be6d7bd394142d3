"""Runs: creation, visibility, step state transitions and status."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy.engine import Connection

from flowdeck.auth import access, quotas
from flowdeck.auth.users import Principal
from flowdeck.errors import AccessError, NotFoundError, StepStateError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import runs as run_records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.storage.records.outputs import OutputRow
from flowdeck.store.status import FlowStatus, RunState, StepState, StepStatus

__all__ = [
    "RunRecord",
    "RunView",
    "StepRecord",
    "create_run",
    "delete_run",
    "flow_status",
    "list_runs",
    "load_run",
    "load_run_to_act",
    "no_current_step",
    "read_run_to_act",
    "run_resource",
    "run_shares",
    "share_run",
    "unshare_run",
]


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: its state, current step and the action in flight with its lease."""

    id: str
    flow_name: str
    flow_ref: str | None
    owner: str
    state: str
    current_step: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    action: str | None = None
    action_by: str | None = None
    action_at: dt.datetime | None = None
    action_token: str | None = None
    lease_until: dt.datetime | None = None
    lease_holder: str | None = None
    forked_from: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        """The record of a ``runs`` row."""
        return cls(*_values(row, _RUN_FIELDS, ""))

    def lease_expired(self, now: dt.datetime | None = None) -> bool:
        """Whether an action is in flight whose lease ran out (the process carrying it out stopped)."""
        return self.action_token is not None and (self.lease_until is None or self.lease_until < (now or utcnow()))


@dataclass(frozen=True)
class StepRecord:
    """One step of a run as stored."""

    run_id: str
    name: str
    position: int
    title: str
    step_type: str
    state: str
    attempt: int
    progress: float
    message: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None
    traceback: str | None
    code_version: str | None = None
    warning: str | None = None

    @classmethod
    def from_row(cls, row: Any, prefix: str = "") -> StepRecord:
        """The record of a ``steps`` row (columns named ``prefix + name``)."""
        return cls(*_values(row, _STEP_FIELDS, prefix))


class _Fields:
    """A record's fields in order, which of them are times (made UTC) and which floats."""

    def __init__(self, record: type) -> None:
        self.names = [f.name for f in fields(record)]
        self.times = [i for i, f in enumerate(fields(record)) if "datetime" in str(f.type)]
        self.floats = [i for i, f in enumerate(fields(record)) if str(f.type) == "float"]
        self._keys: dict[str, list[str]] = {}

    def keys(self, prefix: str) -> list[str]:
        """The column names of the fields in a row whose columns are named ``prefix + field``."""
        found = self._keys.get(prefix)
        if found is None:
            found = self._keys[prefix] = [prefix + name for name in self.names]
        return found


def _values(row: Any, record: _Fields, prefix: str) -> list[Any]:
    """The row's values for ``record``'s fields, in order (None for a column the row lacks)."""
    get = row._mapping.get
    values = [get(key) for key in record.keys(prefix)]
    for i in record.times:
        if values[i] is not None:
            values[i] = as_utc(values[i])
    for i in record.floats:
        if values[i] is not None:
            values[i] = float(values[i])
    return values


_RUN_FIELDS = _Fields(RunRecord)
_STEP_FIELDS = _Fields(StepRecord)


@dataclass(frozen=True)
class RunView:
    """A snapshot of a run and its steps, read in one transaction."""

    run: RunRecord
    steps: list[StepRecord]
    #: The steps that future elements wait for, when read with the run (None: not read).
    awaiting_elements: frozenset[str] | None = None
    #: Whether :attr:`current_page` was read with the run.
    current_page_read: bool = False
    #: The JSON text of the current step's newest page in its attempt, when read with the run
    #: (None: not read, or the step has no page yet).
    current_page: str | None = field(default=None, repr=False, compare=False)
    #: The output name whose newest row per step (in its current attempt) was read with the run.
    output_name: str | None = None
    #: Those rows, by step name (steps that saved none are absent).
    outputs: dict[str, OutputRow] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_rows(cls, run: Any, steps: Sequence[Any]) -> RunView:
        """A view of a ``runs`` row and its ``steps`` rows."""
        return cls(RunRecord.from_row(run), [StepRecord.from_row(s) for s in steps])

    @classmethod
    def from_joined_rows(cls, run: Any, steps: Sequence[Any], output: str | None = None) -> RunView:
        """A view of a run read with its steps in one query (step columns named ``step__<name>``).

        ``output``: the output name whose rows the step rows carry (see ``get_run_with_steps``).
        """
        awaiting = None
        columns = steps[0]._mapping if steps else {}
        if "step__awaits_elements" in columns:
            awaiting = frozenset(s.step__name for s in steps if s.step__awaits_elements)
        record = RunRecord.from_row(run)
        records = [StepRecord.from_row(s, "step__") for s in steps]
        if output is not None:
            found = {s.step__name: row for s in steps if (row := OutputRow.from_step_row(s)) is not None}
            return cls(record, records, awaiting, output_name=output, outputs=found)
        if "step__current_page" not in columns:
            return cls(record, records, awaiting)
        page = next((s.step__current_page for s in steps if s.step__name == record.current_step), None)
        return cls(record, records, awaiting, True, page)

    def awaits_elements(self, step_name: str) -> bool | None:
        """Whether future elements wait for ``step_name`` (None when that was not read with the run)."""
        return None if self.awaiting_elements is None else step_name in self.awaiting_elements

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

    @property
    def busy_action(self) -> str | None:
        """The action in flight (``start``, ``next``, ``back``, ``rerun``), or None when the run is idle."""
        return self.run.action

    @property
    def awaiting_input(self) -> bool:
        """Whether the current step's page awaits the user (its inputs may change)."""
        if self.run.action is not None or self.current_step is None:
            return False
        return self.step(self.current_step).state == StepState.AWAITING_INPUT.value

    def step(self, name: str) -> StepRecord:
        """The step called ``name``; ``NotFoundError`` listing the steps otherwise."""
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


def no_current_step(run_id: str, doing: str) -> StepStateError:
    """The error for ``doing`` something to "the current step" of a run that has none (it is complete)."""
    return StepStateError(
        f"run {run_id!r} is complete and has no current step to {doing}; name the step: "
        f"StoreInterface({run_id!r}, user=..., step_name=...), or step_name= where the method takes it"
    )


def run_resource(run: Any) -> access.Resource:
    """The run as the access rules see it."""
    return access.Resource("run", run.id, run.owner, f"run {run.id!r}")


def read_run(
    conn: Connection,
    run_id: str,
    who: Principal,
    *,
    lock: bool = False,
    current_page: bool = False,
    output: str | None = None,
) -> RunView:
    """The run as ``who`` may see it; ``NotFoundError`` when it does not exist or is not theirs.

    ``lock``: the run row is locked against concurrent state changes until the transaction ends.
    With ``current_page`` the current step's newest page comes with it (:attr:`RunView.current_page`);
    with ``output`` (a name) each step's newest row of that output (:attr:`RunView.outputs`).
    """
    if not isinstance(run_id, str) or not run_id:
        raise NotFoundError(f"no run {run_id!r}: a flow_id is the id returned by flowdeck.start()")
    read = run_records.lock_run_with_steps if lock else run_records.get_run_with_steps
    found = read(conn, run_id, current_page=current_page, output=output)
    if found is None or not access.can_view(conn, who, run_resource(found[0])):
        raise NotFoundError(f"no run {run_id!r} visible to user {who.name!r}")
    return RunView.from_joined_rows(*found, output=output)


def load_run(run_id: str, who: Principal) -> RunView:
    """Read a run (see :func:`read_run`) in its own transaction."""
    with get_storage().db.read() as conn:
        return read_run(conn, run_id, who)


def read_run_to_act(conn: Connection, run_id: str, who: Principal, action: str = "act on") -> RunView:
    """The run, which ``who`` must be allowed to act on: ``NotFoundError`` when they may not see it,
    ``AccessError`` when they may see it but not act on it (``action`` says what they tried)."""
    view = read_run(conn, run_id, who)
    if not access.can_act(conn, who, run_resource(view.run)):
        raise AccessError(f"user {who.name!r} may view run {run_id!r} but not {action} it")
    return view


def load_run_to_act(run_id: str, who: Principal, action: str = "act on") -> RunView:
    """Read a run ``who`` may act on (see :func:`read_run_to_act`) in its own transaction."""
    with get_storage().db.read() as conn:
        return read_run_to_act(conn, run_id, who, action)


def create_run(
    flow_name: str,
    flow_ref: str | None,
    owner: Principal,
    step_specs: Sequence[run_records.StepSpec],
    *,
    on_created: Callable[[Connection, str], None] | None = None,
) -> str:
    """Create a run of a flow owned by ``owner``; returns the new flow id.

    ``on_created(conn, run_id)`` runs in the same transaction, so what it records (e.g. the firing
    that started the run) is committed together with the run, or not at all.
    """
    if not step_specs:
        raise ValidationError(f"flow {flow_name!r} has no steps; chain at least one step")
    run_id = uuid.uuid4().hex
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, owner.name)
        quotas.require_room_for_run(conn, owner.name)
        run_records.insert_run(
            conn, run_id, flow_name=flow_name, flow_ref=flow_ref, owner=owner.name, step_specs=step_specs
        )
        if on_created is not None:
            on_created(conn, run_id)
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


def list_runs(who: Principal, limit: int = 200) -> list[RunView]:
    """Runs ``who`` may see with their steps, newest first (one query)."""
    with get_storage().db.read() as conn:
        found = run_records.list_runs_with_steps(conn, access.audience(who), limit=limit)
    return [RunView(RunRecord.from_row(run), [StepRecord.from_row(s, "step__") for s in steps]) for run, steps in found]


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
                code_version=s.code_version,
                warning=s.warning,
            )
            for s in view.steps
        ],
    )
