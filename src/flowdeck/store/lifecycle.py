"""The one owner of a run's life: every run and step state transition, leases, cancel and fork.

Each transition is one write transaction that locks the run row (``SELECT ... FOR UPDATE`` on
PostgreSQL and MariaDB; SQLite's ``BEGIN IMMEDIATE`` serialises writers), checks the state it
expects and sets the new one, so two processes pressing Next at once run the step once: the other
gets ``StepStateError``. The action in flight (what, by whom, since when) is stored on the run row
with a token and a lease; the process carrying the action out renews the lease from a heartbeat
thread, and every later write of that action is conditional on its token. When the lease runs out
(the process died), whoever reads or changes the run next marks the step ``failed`` with
:data:`LEASE_EXPIRED_ERROR`; no daemon is needed.

A callback of a page (:mod:`flowdeck.flow.callbacks`) is claimed the same way, as the action
:data:`CALLBACK_ACTION`, but it never changes a step's state: ending, cancelling or expiring it
only frees the run.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
import inspect
import logging
import os
import socket
import threading
import time
import traceback as tb_module
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

from flowdeck.auth import access, quotas
from flowdeck.auth.users import Principal
from flowdeck.config import get_settings
from flowdeck.errors import (
    AccessError,
    MissingInputError,
    NotFoundError,
    StepCancelledError,
    StepFailedError,
    StepStateError,
    ValidationError,
)
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import runs as run_records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import utcnow
from flowdeck.store import pages as page_service
from flowdeck.store import running as running_steps
from flowdeck.store import runs as run_service
from flowdeck.store.runs import RunView, StepRecord
from flowdeck.store.status import RunState, StepState

if TYPE_CHECKING:
    from flowdeck.flow.model import Flow, Step

#: Makes the ``flow_metadata`` a step is called with: (flow_id, step_name, user, is_action).
MetadataFactory = Callable[[str, str, str, bool], dict]

__all__ = [
    "ACTIONS",
    "BUSY_STEP_STATES",
    "CALLBACK_ACTION",
    "HANDOFF_SECONDS",
    "LEASE_EXPIRED_ERROR",
    "CallbackStart",
    "Claim",
    "cancel",
    "carrying",
    "check_cancelled",
    "claim",
    "claim_callback",
    "claim_callback_reading",
    "claim_of",
    "end_callback",
    "execute",
    "expire_stale",
    "finish_callback",
    "fork",
    "in_flight",
    "list_runs",
    "load",
    "record_failure",
    "release",
    "settle",
]

log = logging.getLogger("flowdeck.lifecycle")

#: The actions of a run: its first step, and the three moves.
ACTIONS = ("start", "next", "back", "rerun")
#: The action of a callback: it holds the run like the others, but never changes a step's state.
CALLBACK_ACTION = "callback"
#: Step states that mean an action is working on the step.
BUSY_STEP_STATES = (StepState.RUNNING.value, StepState.ACTING.value)
#: The error of a step whose lease ran out.
LEASE_EXPIRED_ERROR = "the process running this step stopped"
#: How long an action handed to an executor may wait for a thread or worker to take it (its lease
#: until then); once taken, the lease is ``step_lease_seconds`` and renewed.
HANDOFF_SECONDS = 300.0


@dataclass(frozen=True)
class Claim:
    """An action in flight: which run, what, the step it concerns, its token, who started it.

    ``step_state``/``run_state``/``current_step`` are what the claim changed, so :func:`release`
    can put them back when the work is never handed to anyone. ``holder`` is set when the claim
    took the lease for this process at once (``claim(..., take=True)``, or a callback claimed
    without ``handoff``): carrying it out then takes no lease of its own.
    """

    flow_id: str
    action: str
    step_name: str
    token: str
    user: str
    step_state: str = ""
    run_state: str = ""
    current_step: str | None = None
    holder: str | None = None
    #: For a ``next`` claimed in this process: whether the step's page has DataSource elements, whose
    #: uploads its default action saves (None when not known: the action reads the page).
    uploads: bool | None = None
    #: Set when the claim did the action's first transitions itself (see :func:`claim`): the attempt
    #: of ``step_name`` begun in the claim's transaction (for a ``next``, the following step), or 0
    #: when a ``next`` completed the run there. None: the action is carried out from its start.
    advanced: int | None = None


# --- reading -------------------------------------------------------------------------------------


def _lease_until(at_least: float = 0.0) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=max(get_settings().step_lease_seconds, at_least))


def _no_action() -> dict[str, Any]:
    return {
        "action": None,
        "action_by": None,
        "action_at": None,
        "action_token": None,
        "lease_until": None,
        "lease_holder": None,
    }


def _locked(conn: Any, flow_id: str) -> RunView | None:
    run = run_records.lock_run(conn, flow_id)
    if run is None:
        return None
    view = RunView.from_rows(run, run_records.get_steps(conn, flow_id))
    if view.run.lease_expired():
        _expire(conn, view)
        view = RunView.from_rows(run_records.get_run(conn, flow_id), run_records.get_steps(conn, flow_id))
    return view


def _expire(conn: Any, view: RunView) -> None:
    """Fail the step of an action whose lease ran out (already locked).

    A callback's lease running out only ends the callback: it never changed the step's state.
    """
    if view.run.action == CALLBACK_ACTION:
        run_records.update_run(conn, view.id, **_no_action())
        log.warning("run %s: the lease of a callback ran out; the run is free again", view.id)
        return
    busy = [s.name for s in view.steps if s.state in BUSY_STEP_STATES]
    if not busy and view.current_step is not None:
        busy = [view.current_step]
    now = utcnow()
    for name in busy:
        run_records.update_step(
            conn, view.id, name, state=StepState.FAILED.value, ended_at=now, error=LEASE_EXPIRED_ERROR, traceback=None
        )
    run_records.update_run(
        conn,
        view.id,
        state=RunState.FAILED.value if busy else view.run.state,
        current_step=busy[-1] if busy else view.current_step,
        **_no_action(),
    )
    log.warning("run %s: the lease of %s() ran out; its step is failed", view.id, view.run.action)


def expire_stale(flow_id: str) -> bool:
    """Fail the step of ``flow_id`` if the lease of its action ran out; True when it did."""
    with get_storage().db.write() as conn:
        run = run_records.lock_run(conn, flow_id)
        if run is None:
            return False
        view = RunView.from_rows(run, run_records.get_steps(conn, flow_id))
        if not view.run.lease_expired():
            return False
        _expire(conn, view)
        return True


def load(flow_id: str, who: Principal) -> RunView:
    """The run as ``who`` may see it, after failing an action whose lease ran out."""
    view = run_service.load_run(flow_id, who)
    if view.run.lease_expired() and expire_stale(flow_id):
        view = run_service.load_run(flow_id, who)
    return view


def list_runs(who: Principal) -> list[RunView]:
    """The runs ``who`` may see, newest first, after failing the actions whose lease ran out."""
    views = run_service.list_runs(who)
    stale = [view.id for view in views if view.run.lease_expired()]
    if stale:  # an action whose process died: fail its step, then read again
        for run_id in stale:
            expire_stale(run_id)
        views = run_service.list_runs(who)
    return views


# --- claiming actions ----------------------------------------------------------------------------


def _busy_error(view: RunView) -> StepStateError:
    if view.run.action == CALLBACK_ACTION:
        return StepStateError(
            f"run {view.id!r} is busy with a callback (by {view.run.action_by}); wait for it to finish"
        )
    step = next((s for s in view.steps if s.state in BUSY_STEP_STATES), None)
    what = f"step {step.name!r} ({step.state})" if step is not None else "a step"
    who = f" ({view.run.action}() by {view.run.action_by})" if view.run.action is not None else ""
    return StepStateError(f"run {view.id!r} is busy with {what}{who}; wait for it to finish or cancel it")


def _current_for(view: RunView, action: str) -> StepRecord:
    """The current step if ``action`` (``next``/``rerun``/``back``) is allowed now."""
    current = view.current_step
    if current is None:
        if view.run.state == RunState.COMPLETE.value and action == "back":
            return view.steps[-1]
        raise StepStateError(f"run {view.id!r} is {view.run.state}; {action}() needs a step awaiting the user")
    step = view.step(current)
    if step.state in BUSY_STEP_STATES:  # an action began between the reads of a snapshot
        raise _busy_error(view)
    if action == "next" and step.state in (StepState.FAILED.value, StepState.CANCELLED.value):
        why = f"failed ({step.error})" if step.state == StepState.FAILED.value else "was cancelled"
        raise StepStateError(f"step {current!r} {why}; fix the cause and call run.rerun() before next()")
    if action == "next" and step.state != StepState.AWAITING_INPUT.value:
        raise StepStateError(f"step {current!r} is {step.state}; next() needs it awaiting input")
    if action == "back" and step.position == 0:
        raise StepStateError(f"step {current!r} is the first step; there is no step to go back to")
    return step


def _target(view: RunView, action: str) -> tuple[StepRecord, StepState]:
    """The step ``action`` concerns and the state it puts it in; raises when not allowed now."""
    if view.run.action is not None:
        raise _busy_error(view)
    if action == "start":
        if view.run.state != RunState.PENDING.value:
            raise StepStateError(f"run {view.id!r} has started already; use next(), back() or rerun()")
        return view.steps[0], StepState.RUNNING
    if action == "next":
        return _current_for(view, "next"), StepState.ACTING
    if action == "back":
        step = _current_for(view, "back")
        return (step if view.current_step is None else view.steps[step.position - 1]), StepState.ACTING
    if view.current_step is None:
        raise StepStateError(f"run {view.id!r} is {view.run.state}; there is no current step to re-run")
    return view.step(view.current_step), StepState.RUNNING


def claim(
    flow_id: str,
    who: Principal,
    action: str,
    *,
    handoff: bool = False,
    take: bool = False,
    flow: Flow | None = None,
    code_version: str | None = None,
) -> Claim:
    """Check that ``action`` may happen now and mark it in flight, atomically.

    With ``handoff`` (an executor queues the action) the first lease lasts :data:`HANDOFF_SECONDS`,
    so that the action may wait for a free thread or worker; taking it starts the usual lease.
    With ``take`` this process carries the action out itself: the claim takes the lease at once
    (its ``holder``), in the same transaction. Given the run's ``flow`` too, the claim also does
    what needs no step code: ``start`` and ``rerun`` begin the step's new attempt (running
    ``code_version`` of the flow file), and a ``next`` whose step has nothing to do (no uploads to
    save, no ``action_override``, no ``on_action_success`` hook) completes it and begins the
    following one, so that only a ``run()`` is left to call (see :attr:`Claim.advanced`).

    Raises ``StepStateError`` when the run is busy or its state does not allow the action,
    ``MissingInputError`` for ``next`` with required inputs missing, ``NotFoundError`` for a run
    ``who`` may not see; nothing changes then.
    """
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}; use one of {list(ACTIONS)}")
    token = uuid.uuid4().hex
    holder = _holder_name() if take else None
    while True:
        # One write transaction: the checks and the change happen under the run's lock.
        with get_storage().db.write() as conn:
            # The lease is checked here, not by the read: an expired one is ended first.
            locked = run_service.read_run(conn, flow_id, who, lock=True, current_page=action == "next")
            if locked.run.lease_expired():
                _expire(conn, locked)  # committed on its own; then look again
                continue
            target, state = _target(locked, action)
            if take and flow is not None and action in ("start", "rerun") and target.name in flow.step_names:
                mine = Claim(flow_id, action, target.name, token, who.name, holder=holder)
                return _begin_in_claim(conn, mine, flow.step(target.name), locked, code_version)
            uploads = None
            if action == "next":
                page = page_service.latest_page(locked, target.name, conn)
                _check_next_allowed(target.name, page)
                uploads = page_service.takes_uploads(page)
                if take and flow is not None and not uploads and _nothing_to_act(flow, target.name):
                    mine = Claim(flow_id, action, target.name, token, who.name, holder=holder, uploads=False)
                    return _advance_in_claim(conn, mine, locked, flow, code_version)
            values: dict[str, Any] = {"state": state.value}
            if state is StepState.RUNNING:
                values.update(progress=0.0, message=None, error=None, traceback=None, ended_at=None)
            run_records.update_step(conn, flow_id, target.name, **values)
            lease: dict[str, Any] = {"lease_holder": holder} if holder is not None else {}
            run_records.update_run(
                conn,
                flow_id,
                state=state.value,
                current_step=target.name,
                action=action,
                action_by=who.name,
                action_at=utcnow(),
                action_token=token,
                lease_until=_lease_until(HANDOFF_SECONDS if handoff else 0.0),
                **lease,
            )
        return Claim(
            flow_id,
            action,
            target.name,
            token,
            who.name,
            target.state,
            locked.run.state,
            locked.current_step,
            holder,
            uploads,
        )


def _nothing_to_act(flow: Flow, step_name: str) -> bool:
    """Whether ``step_name`` of ``flow`` does nothing when its user presses Next (no override, no hook)."""
    if step_name not in flow.step_names:
        return False  # the flow file changed under the run: carried out the usual way, failing there
    step = flow.step(step_name)
    return not step.overrides_action and not _overrides_hook(step, "on_action_success")


def _step_after(flow: Flow, step_name: str) -> Step | None:
    """The step that follows ``step_name`` in ``flow``; None after the last."""
    position = flow.step_names.index(step_name)
    return flow.steps[position + 1] if position + 1 < len(flow.steps) else None


def _advance_in_claim(conn: Any, mine: Claim, locked: RunView, flow: Flow, code_version: str | None) -> Claim:
    """The claimed step completes and the following one begins, in the claiming transaction."""
    following = _step_after(flow, mine.step_name)
    _action_done(conn, mine, mine.step_name, None if following is None else following.name, run_row=False)
    if following is None:
        run_records.update_run(conn, mine.flow_id, state=RunState.COMPLETE.value, current_step=None, **_no_action())
        return dataclasses.replace(mine, advanced=0)
    return _begin_in_claim(conn, mine, following, locked, code_version)


def _begin_in_claim(conn: Any, mine: Claim, step: Step, locked: RunView, code_version: str | None) -> Claim:
    """``step`` begins its next attempt in the claiming transaction, the run leased to this process."""
    attempt = _begin_step(
        conn,
        mine,
        step.name,
        code_version,
        step.page,
        run_row=False,
        attempt=next((s.attempt for s in locked.steps if s.name == step.name), None),
        awaits_elements=locked.awaits_elements(step.name),
    )
    mine = dataclasses.replace(mine, step_name=step.name)
    _mark_in_flight(conn, mine)
    return dataclasses.replace(mine, advanced=attempt)


def _mark_in_flight(conn: Any, mine: Claim) -> None:
    """The run row of a claim whose step began in the claiming transaction: running it, leased to this process."""
    run_records.update_run(
        conn,
        mine.flow_id,
        state=RunState.RUNNING.value,
        current_step=mine.step_name,
        action=mine.action,
        action_by=mine.user,
        action_at=utcnow(),
        action_token=mine.token,
        lease_until=_lease_until(),
        lease_holder=mine.holder,
    )


def _check_next_allowed(step_name: str, page: Any | None) -> None:
    """Raise unless ``page`` lets ``next()`` go on: ``MissingInputError`` names its empty required inputs,
    ``StepStateError`` its cards with ``disable_next=True``."""
    missing, gates = page_service.next_blockers(page)
    if missing:
        raise MissingInputError(
            f"step {step_name!r} needs input before next(): " + ", ".join(repr(m) for m in missing), missing
        )
    if gates:
        names = ", ".join(repr(title) for title in gates)
        raise StepStateError(
            f"step {step_name!r} cannot move on: card {names} has disable_next=True; "
            "a callback of the page must clear it (card.disable_next = False) before next()"
        )


def claim_callback(flow_id: str, who: Principal, *, handoff: bool = False) -> Claim:
    """Mark a callback of run ``flow_id`` in flight for ``who``, atomically; returns its claim.

    The callback concerns the current step, which must await input; its state does not change
    (a callback never advances the step). One action at a time: a run with another action (or
    callback) in flight gives ``StepStateError`` ("busy"). ``NotFoundError`` for a run ``who`` may
    not see, ``AccessError`` for one they may see but not act on. End it with :func:`end_callback`.

    Without ``handoff`` this process carries the callback out: the claim is taken for it at once
    (:func:`carrying` then takes no lease of its own).
    """
    with get_storage().db.write() as conn:
        claim, _ = _claim_callback_in(conn, flow_id, who, handoff)
    return claim


@dataclass(frozen=True)
class CallbackStart:
    """A callback claimed for this process, with what it read in the same transaction.

    ``view`` is the run as the claim left it (the claim's token in flight); ``document`` the JSON
    text of the step's newest page and ``snapshot`` where its page and uploads stood.
    """

    claim: Claim
    view: RunView
    document: str
    snapshot: page_service.PageSnapshot


def claim_callback_reading(flow_id: str, who: Principal) -> CallbackStart:
    """:func:`claim_callback` for this process, reading the run and the step's page in the same transaction."""
    with get_storage().db.write() as conn:
        claim, view = _claim_callback_in(conn, flow_id, who, False)
        document, snapshot = page_service.read_with_snapshot(conn, view, claim.step_name)
    return CallbackStart(claim, view, document, snapshot)


def _claim_callback_in(conn: Any, flow_id: str, who: Principal, handoff: bool) -> tuple[Claim, RunView]:
    """Claim a callback inside the caller's write transaction: the claim and the run as it leaves it."""
    token = uuid.uuid4().hex
    holder = None if handoff else _holder_name()
    locked = _locked(conn, flow_id)
    resource = run_service.run_resource(locked.run) if locked is not None else None
    if resource is None or not access.can_view(conn, who, resource):
        raise NotFoundError(f"no run {flow_id!r} visible to user {who.name!r}")
    if not access.can_act(conn, who, resource):
        raise AccessError(f"user {who.name!r} may view run {flow_id!r} but not act on it")
    if locked.run.action is not None:
        raise _busy_error(locked)
    current = locked.current_step
    if current is None:
        raise StepStateError(f"run {flow_id!r} is {locked.run.state}; a callback needs a step awaiting input")
    step = locked.step(current)
    if step.state != StepState.AWAITING_INPUT.value:
        raise StepStateError(f"step {current!r} is {step.state}; a callback needs it awaiting input")
    values = {
        "action": CALLBACK_ACTION,
        "action_by": who.name,
        "action_at": utcnow(),
        "action_token": token,
        "lease_until": _lease_until(HANDOFF_SECONDS if handoff else 0.0),
        "lease_holder": holder,
    }
    run_records.update_run(conn, flow_id, **values)
    claim = Claim(flow_id, CALLBACK_ACTION, current, token, who.name, step.state, locked.run.state, current, holder)
    return claim, RunView(dataclasses.replace(locked.run, **values), locked.steps)


def end_callback(claim: Claim) -> bool:
    """The callback of ``claim`` is over: the run is free again. False when it was no longer in flight."""
    with get_storage().db.write() as conn:
        return run_records.update_run_if(conn, claim.flow_id, claim.token, **_no_action())


def finish_callback(claim: Claim, write: Callable[[Any], None] | None = None) -> bool:
    """End the callback of ``claim`` and, in the same transaction, ``write(conn)`` its results.

    False (nothing written) when the claim was no longer in flight: cancelled, or its lease ran out.
    """
    with get_storage().db.write() as conn:
        if not run_records.update_run_if(conn, claim.flow_id, claim.token, **_no_action()):
            return False
        if write is not None:
            write(conn)
    return True


def in_flight(claim: Claim) -> bool:
    """Whether ``claim`` is still the run's action in flight (not cancelled, not expired)."""
    with get_storage().db.read() as conn:
        run = run_records.get_run(conn, claim.flow_id)
    return run is not None and run.action_token == claim.token


@contextmanager
def carrying(claim: Claim) -> Iterator[None]:
    """Carry ``claim`` out in this thread: take its lease (unless taken when claimed) and renew it,
    and let store calls see it.

    ``StepStateError`` when another process carries it out already (or it is over).
    """
    with _Heartbeat(claim):
        previous = getattr(_local, "claim", None)
        _local.claim = claim
        try:
            yield
        finally:
            _local.claim = previous


def claim_of(flow_id: str, token: str | None) -> Claim | None:
    """The claim in flight on ``flow_id`` with token ``token`` (any when None) that nobody carries out yet."""
    with get_storage().db.read() as conn:
        run = run_records.get_run(conn, flow_id)
    if run is None or run.action_token is None or run.lease_holder is not None:
        return None  # idle, or another process carries it out already
    if token is not None and run.action_token != token:
        return None
    return Claim(flow_id, run.action, run.current_step, run.action_token, run.action_by or "")


def record_failure(claim: Claim, exc: BaseException) -> None:
    """Record ``exc`` (raised outside step code) on the claimed step; tried again if the database drops."""
    error, trace = f"{type(exc).__name__}: {exc}", "".join(tb_module.format_exception(exc))
    _retrying(lambda: fail(claim, claim.step_name, error, trace))


def release(claim: Claim) -> None:
    """Undo ``claim`` (its work was never handed to anyone); nothing happens once it is not in flight."""
    with get_storage().db.write() as conn:
        if run_records.update_run_if(
            conn, claim.flow_id, claim.token, state=claim.run_state, current_step=claim.current_step, **_no_action()
        ):
            run_records.update_step(conn, claim.flow_id, claim.step_name, state=claim.step_state)


# --- transitions of an action in flight (all conditional on its token) ---------------------------


def _lost(claim: Claim) -> StepCancelledError:
    step_name = _running_step_of(claim.flow_id) or claim.step_name
    return StepCancelledError(
        f"{claim.action}() of run {claim.flow_id!r} (step {step_name!r}) is no longer in flight "
        "(it was cancelled, or its lease ran out)",
        flow_id=claim.flow_id,
        step_name=step_name,
    )


@contextmanager
def _owning(claim: Claim) -> Iterator[Any]:
    """A write transaction in which ``claim`` is still the run's action in flight (else StepCancelledError)."""
    with get_storage().db.write() as conn:
        run = run_records.lock_run(conn, claim.flow_id)
        if run is None or run.action_token != claim.token:
            raise _lost(claim)
        yield conn


@contextmanager
def _owning_run(claim: Claim, **run_values: Any) -> Iterator[Any]:
    """As :func:`_owning`, with the run row's change made first: that conditional UPDATE (on the
    claim's token) locks the row and checks the claim in one statement."""
    with get_storage().db.write() as conn:
        if not run_records.update_run_if(conn, claim.flow_id, claim.token, **run_values):
            raise _lost(claim)
        yield conn


def begin_step(claim: Claim, step_name: str, code_version: str | None = None, initial_page: Any = None) -> int:
    """Start a new attempt of ``step_name`` (running ``code_version`` of its flow file); returns the attempt.

    ``initial_page`` (when given) is stored as the attempt's first page in the same transaction.
    """
    with _owning(claim) as conn:
        return _begin_step(conn, claim, step_name, code_version, initial_page)


def _begin_step(
    conn: Any,
    claim: Claim,
    step_name: str,
    code_version: str | None,
    initial_page: Any,
    *,
    run_row: bool = True,
    attempt: int | None = None,
    awaits_elements: bool | None = None,
) -> int:
    """Begin the attempt after ``attempt`` (the step's current one, read here when not given).

    ``awaits_elements``: whether future elements wait for the step, when known (else read here).
    """
    if attempt is None:
        step = run_records.get_step(conn, claim.flow_id, step_name)
        if step is None:
            raise NotFoundError(f"run {claim.flow_id!r} has no step {step_name!r}")
        attempt = step.attempt
    attempt += 1
    if attempt > 1:
        page_service.forget_future_elements(conn, claim.flow_id, step_name)
    run_records.update_step(
        conn,
        claim.flow_id,
        step_name,
        state=StepState.RUNNING.value,
        attempt=attempt,
        progress=0.0,
        message=None,
        started_at=utcnow(),
        ended_at=None,
        error=None,
        traceback=None,
        code_version=code_version,
        warning=None,
    )
    if run_row:
        run_records.update_run(
            conn, claim.flow_id, state=RunState.RUNNING.value, current_step=step_name, lease_until=_lease_until()
        )
    if initial_page is not None:
        page_service.start_attempt(
            claim.flow_id, step_name, attempt, initial_page, conn, awaits_elements=awaits_elements
        )
    return attempt


NO_PAGE_WARNING = (
    "this input step's run() stored no page: its user sees the initial page only. Add cards to "
    "store.get_page() and save them with store.update_page(page)"
)


def step_ran(claim: Claim, step_name: str, *, input_step: bool = False, attempt: int | None = None) -> None:
    """``step_name``'s ``run()`` returned: it awaits the user and the action is over.

    An ``input_step`` whose ``run()`` never stored its page is marked with :data:`NO_PAGE_WARNING`.
    ``attempt`` (the step's attempt, when the caller knows it) saves reading it again.
    """
    idle = {"state": RunState.AWAITING_INPUT.value, "current_step": step_name, **_no_action()}
    with _owning_run(claim, **idle) as conn:
        warning = None
        if input_step and attempt is None:
            step = run_records.get_step(conn, claim.flow_id, step_name)
            attempt = step.attempt if step is not None else None
        if (
            input_step
            and attempt is not None
            and not page_service.page_was_updated(conn, claim.flow_id, step_name, attempt)
        ):
            warning = NO_PAGE_WARNING
            log.warning("run %s, step %r: %s", claim.flow_id, step_name, warning)
        run_records.update_step(conn, claim.flow_id, step_name, state=StepState.AWAITING_INPUT.value, warning=warning)


def action_done(claim: Claim, step_name: str, next_step: str | None) -> None:
    """``step_name``'s action finished: it is complete; ``next_step`` becomes current, or the run completes."""
    with _owning(claim) as conn:
        _action_done(conn, claim, step_name, next_step)


def _action_done(conn: Any, claim: Claim, step_name: str, next_step: str | None, *, run_row: bool = True) -> None:
    """The step's part of :func:`action_done`; the run row too unless ``run_row`` is False (the caller sets it)."""
    run_records.update_step(
        conn, claim.flow_id, step_name, state=StepState.COMPLETE.value, progress=100.0, ended_at=utcnow()
    )
    if not run_row:
        return
    if next_step is not None:
        run_records.update_run(conn, claim.flow_id, state=RunState.RUNNING.value, current_step=next_step)
    else:
        run_records.update_run(conn, claim.flow_id, state=RunState.COMPLETE.value, current_step=None, **_no_action())


def _advance(claim: Claim, step_name: str, following: Step | None, code_version: str | None) -> int | None:
    """:func:`action_done` and, for the ``following`` step, :func:`begin_step` with its page: one transaction.

    Returns the following step's new attempt (None when the run is complete).
    """
    if following is None:
        with _owning_run(claim, state=RunState.COMPLETE.value, current_step=None, **_no_action()) as conn:
            _action_done(conn, claim, step_name, None, run_row=False)
        return None
    running = {"state": RunState.RUNNING.value, "current_step": following.name, "lease_until": _lease_until()}
    with _owning_run(claim, **running) as conn:
        _action_done(conn, claim, step_name, following.name, run_row=False)
        return _begin_step(conn, claim, following.name, code_version, following.page, run_row=False)


def reopen(claim: Claim, step_name: str) -> None:
    """``back()``: make ``step_name`` current again, awaiting input; every later step that ran goes stale."""
    with _owning(claim) as conn:
        steps = run_records.get_steps(conn, claim.flow_id)
        target = next(s for s in steps if s.name == step_name)
        for step in steps:
            if step.position > target.position and step.state != StepState.PENDING.value:
                run_records.update_step(conn, claim.flow_id, step.name, state=StepState.STALE.value)
        run_records.update_step(conn, claim.flow_id, step_name, state=StepState.AWAITING_INPUT.value, ended_at=None)
        run_records.update_run(
            conn, claim.flow_id, state=RunState.AWAITING_INPUT.value, current_step=step_name, **_no_action()
        )


def fail(claim: Claim, step_name: str, error: str, traceback: str | None) -> None:
    """The action's step failed: it keeps the error and traceback and the action is over."""
    with _owning(claim) as conn:
        run_records.update_step(
            conn,
            claim.flow_id,
            step_name,
            state=StepState.FAILED.value,
            ended_at=utcnow(),
            error=error,
            traceback=traceback,
        )
        run_records.update_run(conn, claim.flow_id, state=RunState.FAILED.value, current_step=step_name, **_no_action())


def take(claim: Claim, holder: str) -> bool:
    """Make ``holder`` the one carrying out ``claim``; False when another process took it or it ended.

    A task delivered twice (a broker redelivering it) is thus carried out once.
    """
    with get_storage().db.write() as conn:
        return run_records.take_lease(conn, claim.flow_id, claim.token, holder, _lease_until())


def renew(claim: Claim, holder: str) -> bool:
    """Extend ``holder``'s lease on ``claim``; False once it is not in flight any more (cancelled or expired)."""
    with get_storage().db.write() as conn:
        return run_records.renew_lease(conn, claim.flow_id, claim.token, holder, _lease_until())


# --- cancellation inside the process running the step ------------------------------------------

_local = threading.local()
_stops: dict[str, threading.Event] = {}
_stops_lock = threading.Lock()


def check_cancelled(flow_id: str, token_in_db: object = ...) -> None:
    """Raise ``StepCancelledError`` in the thread running an action of ``flow_id`` once it is cancelled.

    Store calls and progress updates call it; ``token_in_db`` is the run's action token as just
    read (omit it to rely on this process's own knowledge). Elsewhere it does nothing.
    """
    claim: Claim | None = getattr(_local, "claim", None)
    if claim is None or claim.flow_id != flow_id:
        return
    with _stops_lock:
        stop = _stops.get(claim.token)
    if (stop is not None and stop.is_set()) or (token_in_db is not ... and token_in_db != claim.token):
        step_name = _running_step_of(flow_id) or claim.step_name
        raise StepCancelledError(
            f"step {step_name!r} of run {flow_id!r} was cancelled; it stops here", flow_id=flow_id, step_name=step_name
        )


def _running_step_of(flow_id: str) -> str | None:
    """The step of ``flow_id`` whose code runs in this context (``next()`` claims the step it leaves)."""
    try:
        run_id, step_name = running_steps.current_step()
    except StepStateError:
        return None
    return step_name if run_id == flow_id else None


def _retrying(work: Callable[[], Any], attempts: int = 5, delay: float = 0.2) -> Any:
    """``work()``, tried again on errors of the database (a dropped connection) a few times."""
    for attempt in range(attempts):
        try:
            return work()
        except sa_exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * (attempt + 1))
    return None


def _holder_name() -> str:
    """A name for this process as the holder of a lease: host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _Heartbeat:
    """Renews the lease of a claim every third of the lease while the action runs here.

    The renewals are made by one thread per process for all the actions it carries out
    (:class:`_Renewer`), so that an action does not start and join a thread of its own.
    """

    def __init__(self, claim: Claim) -> None:
        """A claim with a ``holder`` was made with this process as its holder already (nothing to take)."""
        self.claim = claim
        self.taken = claim.holder is not None
        self.holder = claim.holder or _holder_name()
        self.stop = threading.Event()

    def __enter__(self) -> _Heartbeat:
        if not self.taken and not _retrying(lambda: take(self.claim, self.holder)):
            raise StepStateError(
                f"{self.claim.action}() of run {self.claim.flow_id!r} is being carried out elsewhere or is over"
            )
        with _stops_lock:
            _stops[self.claim.token] = self.stop
        _renewer.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _renewer.remove(self)
        with _stops_lock:
            _stops.pop(self.claim.token, None)


class _Renewer:
    """The thread of this process that renews the leases of the actions carried out here."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.beats: dict[str, tuple[_Heartbeat, float]] = {}  # token -> (heartbeat, when to renew)
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0

    @staticmethod
    def _interval() -> float:
        return get_settings().step_lease_seconds / 3

    def add(self, beat: _Heartbeat) -> None:
        """Renew ``beat``'s lease from now on (the thread starts on first use, and again after a fork)."""
        with self.lock:
            self.beats[beat.claim.token] = (beat, time.monotonic() + self._interval())
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._loop, name="flowdeck-leases", daemon=True)
                self.thread.start()
        self.wake.set()

    def remove(self, beat: _Heartbeat) -> None:
        """Stop renewing ``beat``'s lease."""
        with self.lock:
            self.beats.pop(beat.claim.token, None)

    def _loop(self) -> None:
        while True:
            self.wake.clear()  # an add() from here on wakes the wait below
            with self.lock:
                now = time.monotonic()
                ready = [beat for beat, at in self.beats.values() if at <= now]
                for beat in ready:
                    self.beats[beat.claim.token] = (beat, now + self._interval())
                soonest = min((at for _, at in self.beats.values()), default=now + 60.0)
            for beat in ready:
                self._renew(beat)
            if not ready:
                self.wake.wait(max(soonest - time.monotonic(), 0.0))

    def _renew(self, beat: _Heartbeat) -> None:
        with self.lock:
            if beat.claim.token not in self.beats:
                return  # the action ended meanwhile
        try:
            alive = renew(beat.claim, beat.holder)
        except Exception:  # the database is unreachable: try again; the lease runs out meanwhile
            log.warning("could not renew the lease of run %s", beat.claim.flow_id, exc_info=True)
            return
        if not alive:
            beat.stop.set()
            self.remove(beat)


_renewer = _Renewer()
if hasattr(os, "register_at_fork"):  # a forked child (a worker) starts afresh: no thread, no held lock
    os.register_at_fork(after_in_child=_renewer.__init__)


# --- carrying out an action ----------------------------------------------------------------------


def _store(flow_id: str, step: Step, user: str) -> Any:
    from flowdeck.store.store_interface import StoreInterface

    return StoreInterface(flow_id, user=user, step_name=step.name)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _settle(result: Any) -> Any:
    """The value of a hook's result: an ``async`` hook's coroutine is run to its end here."""
    if not inspect.isawaitable(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(result))
    # An event loop already runs in this thread: finish the coroutine on a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        # In this thread's context, so the coroutine acts for the same principal (``acting_as``).
        return pool.submit(contextvars.copy_context().run, asyncio.run, _awaited(result)).result()


def settle(result: Any) -> Any:
    """The value of a callback's or hook's result: an ``async`` function's coroutine is run to its end here."""
    return _settle(result)


def _overrides_hook(step: Step, name: str) -> bool:
    """Whether ``step`` defines hook ``name`` itself (the base class's does nothing)."""
    return not getattr(getattr(getattr(step, name, None), "__func__", None), "default_hook", False)


def _hook(name: str, step: Step, flow_id: str, user: str, *, swallow: bool) -> None:
    """Call ``step.<name>(store_interface)`` (sync or async); a hook that raises fails the step unless ``swallow``.

    A hook the step does not override does nothing, so it is not called (no store is built for it).
    """
    if not _overrides_hook(step, name):
        return
    try:
        _settle(getattr(step, name)(_store(flow_id, step, user)))
    except Exception:
        if not swallow:
            raise
        log.exception("the %s hook of step %r of run %s raised", name, step.name, flow_id)


def _ignored_result(step: Step, method: str, result: Any, flow_id: str) -> None:
    """Warn that ``step.<method>()`` returned a value: flowdeck hands data on only through the store."""
    if result is None:
        return
    log.warning(
        "run %s, step %r: %s() returned a %s, which flowdeck ignores; save what later steps need with "
        "StoreInterface(**flow_metadata).save_output(value, name)",
        flow_id,
        step.name,
        method,
        type(result).__name__,
    )


class _Execution:
    def __init__(
        self,
        flow: Flow,
        claim: Claim,
        who: Principal,
        make_metadata: MetadataFactory,
        run_handle: Any,
        code_version: str | None = None,
    ) -> None:
        self.flow, self.claim, self.who, self.run_handle = flow, claim, who, run_handle
        self.code_version = code_version
        self.make_metadata = make_metadata
        self.current = claim.step_name

    def metadata(self, step: Step, is_action: bool = False) -> dict:
        return self.make_metadata(self.claim.flow_id, step.name, self.who.name, is_action)

    def failed(self, step: Step, exc: BaseException) -> StepFailedError:
        _hook("on_failure", step, self.claim.flow_id, self.who.name, swallow=True)
        fail(self.claim, step.name, f"{type(exc).__name__}: {exc}", "".join(tb_module.format_exception(exc)))
        return StepFailedError(
            f"step {step.name!r} of run {self.claim.flow_id!r} failed: {type(exc).__name__}: {exc}; "
            "fix the cause and call run.rerun()",
            run=self.run_handle,
            flow_id=self.claim.flow_id,
            step_name=step.name,
        )

    def run_step(self, step: Step, attempt: int | None = None) -> None:
        """Run ``step``'s code (its attempt begun already when ``attempt`` is given)."""
        self.current = step.name
        if attempt is None:
            attempt = begin_step(self.claim, step.name, self.code_version, step.page)
        try:
            with running_steps.running_step(self.claim.flow_id, step.name):
                _ignored_result(step, "run", _settle(step.run(self.metadata(step))), self.claim.flow_id)
            check_cancelled(self.claim.flow_id)
            _hook("on_run_success", step, self.claim.flow_id, self.who.name, swallow=False)
        except StepCancelledError:
            raise
        except Exception as exc:
            raise self.failed(step, exc) from exc
        input_step = str(getattr(step.type, "value", step.type)) == "input"
        step_ran(self.claim, step.name, input_step=input_step, attempt=attempt)

    def act(self, step: Step) -> None:
        try:
            skips_default = step.overrides_action and step.override_skips_default
            if not skips_default and self.claim.uploads is not False:
                page_service.run_default_action(self.claim.flow_id, step.name)
            if step.overrides_action:
                with running_steps.running_step(self.claim.flow_id, step.name):
                    result = _settle(step.action_override(self.metadata(step, is_action=True)))
                _ignored_result(step, "action_override", result, self.claim.flow_id)
            check_cancelled(self.claim.flow_id)
            _hook("on_action_success", step, self.claim.flow_id, self.who.name, swallow=False)
        except StepCancelledError:
            raise
        except Exception as exc:
            raise self.failed(step, exc) from exc
        following = _step_after(self.flow, step.name)
        attempt = _advance(self.claim, step.name, following, self.code_version)
        if following is not None:
            self.current = following.name
            self.run_step(following, attempt)


def execute(
    flow: Flow,
    claim: Claim,
    who: Principal,
    make_metadata: MetadataFactory,
    run_handle: Any = None,
    code_version: str | None = None,
) -> None:
    """Carry out ``claim`` here: run the step code, renew the lease meanwhile, record the outcome.

    Steps are called with ``make_metadata(flow_id, step_name, user, is_action)`` (the flow layer's
    ``FlowMetadata``).

    Raises ``StepFailedError`` when step code raises (the step is then ``failed``; ``run_handle``
    goes on the error as ``err.run``) and ``StepCancelledError`` when the action was cancelled or
    its lease lost while it ran (the state is then what the canceller or the expiry wrote).
    """
    if claim.advanced == 0:
        return  # the claim completed the run: nothing is in flight any more
    execution = _Execution(flow, claim, who, make_metadata, run_handle, code_version)
    with _Heartbeat(claim):
        previous = getattr(_local, "claim", None)
        _local.claim = claim
        try:
            step = flow.step(claim.step_name)
            if claim.advanced:
                execution.run_step(step, claim.advanced)
            elif claim.action in ("start", "rerun"):
                execution.run_step(step)
            elif claim.action == "next":
                execution.act(step)
            else:
                reopen(claim, step.name)
        except (StepFailedError, StepCancelledError):
            raise
        except Exception as exc:  # outside step code (the database, the flow): the step fails now
            error, trace = f"{type(exc).__name__}: {exc}", "".join(tb_module.format_exception(exc))
            try:
                _retrying(lambda: fail(claim, execution.current, error, trace))
            except Exception:  # the lease runs out instead
                log.warning("could not record the failure of run %s", claim.flow_id, exc_info=True)
            raise
        finally:
            _local.claim = previous


# --- cancel --------------------------------------------------------------------------------------


def cancel(flow: Flow | None, flow_id: str, who: Principal) -> Claim:
    """Cancel the action in flight: its step becomes ``cancelled``, the code running it stops.

    The step's thread stops at its next progress update or store call (the caller revokes a Celery
    task: its id is the returned claim's token). ``Step.on_cancel`` then runs here, once (only the
    caller whose transition won runs it). A callback in flight is stopped the same way, but its
    step keeps its state (``awaiting_input``) and no hook runs. Raises ``StepStateError`` when no
    action is in flight.
    """
    load(flow_id, who)  # NotFoundError for strangers
    with get_storage().db.write() as conn:
        view = _locked(conn, flow_id)
        if view is None:
            raise NotFoundError(f"no run {flow_id!r} visible to user {who.name!r}")
        if view.run.action is None:
            raise StepStateError(
                f"run {flow_id!r} is {view.run.state}: no step is running, so there is nothing to cancel"
            )
        busy = [s.name for s in view.steps if s.state in BUSY_STEP_STATES] or [view.current_step]
        step_name = busy[-1]
        cancelled = Claim(flow_id, view.run.action, step_name, view.run.action_token or "", view.run.action_by or "")
        if view.run.action == CALLBACK_ACTION:  # the callback stops; the step keeps its state
            run_records.update_run(conn, flow_id, **_no_action())
            step_name = ""
        else:
            run_records.update_step(
                conn,
                flow_id,
                step_name,
                state=StepState.CANCELLED.value,
                ended_at=utcnow(),
                error=f"cancelled by {who.name}",
                traceback=None,
            )
            run_records.update_run(
                conn, flow_id, state=RunState.CANCELLED.value, current_step=step_name, **_no_action()
            )
    with _stops_lock:
        stop = _stops.get(cancelled.token)
    if stop is not None:
        stop.set()
    if flow is not None and step_name:
        try:
            _hook("on_cancel", flow.step(step_name), flow_id, who.name, swallow=True)
        except NotFoundError:
            log.warning("run %s: flow %r has no step %r for on_cancel", flow_id, flow.name, step_name)
    return cancelled


# --- fork ----------------------------------------------------------------------------------------


def fork(flow_id: str, at_step: str, who: Principal) -> str:
    """A new run of ``who`` holding the original's steps before ``at_step``, opened at ``at_step``.

    The earlier steps are complete with the original's outputs, pages and values (rows pointing at
    the same content-addressed blobs: no bytes are copied); ``at_step`` awaits input with its page
    and values as they were. The original is untouched. Returns the new run's id.
    """
    view = load(flow_id, who)
    if view.run.action is not None:
        raise _busy_error(view)
    target = view.step(at_step)
    ran = (StepState.COMPLETE.value, StepState.AWAITING_INPUT.value)
    if target.state not in ran:
        raise StepStateError(
            f"step {at_step!r} of run {flow_id!r} is {target.state}; fork at a step that has run "
            "(complete or awaiting input)"
        )
    earlier = [s for s in view.steps if s.position < target.position]
    if any(s.state != StepState.COMPLETE.value for s in earlier):
        raise StepStateError(
            f"the steps before {at_step!r} in run {flow_id!r} are not all complete; fork at an earlier step"
        )
    new_id = uuid.uuid4().hex
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, who.name)
        quotas.require_room_for_run(conn, who.name)
        run_records.insert_run(
            conn,
            new_id,
            flow_name=view.run.flow_name,
            flow_ref=view.run.flow_ref,
            owner=who.name,
            step_specs=[(s.name, s.title, s.step_type) for s in view.steps],
        )
        for step in [*earlier, target]:
            run_records.update_step(
                conn,
                new_id,
                step.name,
                state=StepState.COMPLETE.value if step is not target else StepState.AWAITING_INPUT.value,
                attempt=step.attempt,
                progress=step.progress,
                message=step.message,
                started_at=step.started_at,
                ended_at=step.ended_at if step is not target else None,
            )
        run_records.update_run(
            conn, new_id, state=RunState.AWAITING_INPUT.value, current_step=at_step, forked_from=flow_id
        )
        run_records.copy_run_rows(conn, flow_id, new_id, [(s.name, s.attempt) for s in [*earlier, target]])
    return new_id
