"""Storing triggers and firing them: each firing is recorded once and starts one run.

A check runs in two phases. First, in one write transaction holding the due triggers' rows
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL and MySQL; SQLite's write lock), each trigger
looks at what it watches, and each new firing is inserted as a tick whose ``(trigger, firing key)``
is unique, together with the trigger's new state. Then every waiting tick is claimed with a
compare-and-set update and a lease, so one scheduler alone starts its run. The run is recorded in
the same transaction as the tick's ``run_id``; a scheduler that stops between claiming a tick and
recording its outcome leaves a lease that runs out, and another scheduler takes the tick over: it
creates the run if there is none, else starts the recorded run unless it was started already
(claiming a run's start is atomic). Two schedulers, a restart, or a scheduler killed mid-way can
therefore neither fire one firing twice nor lose it. With ``FLOWDECK_EXECUTOR=celery`` the
scheduler only records the run and queues its start; a worker runs the steps.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.config import get_settings
from flowdeck.errors import AccessError, NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import triggers as records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.triggers.base import CheckContext, Trigger, trigger_from_spec

__all__ = [
    "TickInfo",
    "TriggerInfo",
    "check_triggers",
    "dump_input_parameters",
    "get_trigger",
    "lease_seconds",
    "list_triggers",
    "load_input_parameters",
    "pause_trigger",
    "remove_trigger",
    "resume_trigger",
    "run_scheduler",
    "save_trigger",
    "save_trigger_in",
    "set_trigger_state",
    "start_due_ticks",
    "stored_trigger",
    "trigger_metrics",
]

log = logging.getLogger("flowdeck.scheduler")
#: The longest wait between two attempts to start a run.
MAX_BACKOFF_SECONDS = 300.0
#: How long a scheduler holds a tick it claimed before another scheduler may take it over.
DEFAULT_LEASE_SECONDS = 120.0


@dataclass(frozen=True)
class TickInfo:
    """One recorded firing: when, why, what came of it (``fired``, ``dry_run``, ``retry``, ``failed``, ...)."""

    id: int
    firing_key: str
    created_at: dt.datetime
    outcome: str
    reason: str | None
    run_id: str | None
    error: str | None
    duration_ms: float | None
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class TriggerInfo:
    """A stored trigger as its owner sees it."""

    name: str
    kind: str
    spec: dict[str, Any]
    flow_name: str
    owner: str
    active: bool
    dry_run: bool
    max_retries: int
    interval_seconds: float
    next_check_at: dt.datetime | None
    last_checked_at: dt.datetime | None
    last_reason: str | None
    state: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data = dict(self.__dict__)
        for key in ("next_check_at", "last_checked_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _info(row: Any) -> TriggerInfo:
    return TriggerInfo(
        name=row.name,
        kind=row.kind,
        spec=json.loads(row.spec_json),
        flow_name=row.flow_name,
        owner=row.owner,
        active=bool(row.active),
        dry_run=bool(row.dry_run),
        max_retries=row.max_retries,
        interval_seconds=row.interval_seconds,
        next_check_at=as_utc(row.next_check_at),
        last_checked_at=as_utc(row.last_checked_at),
        last_reason=row.last_reason,
        state=json.loads(row.state_json),
    )


def _tick(row: Any) -> TickInfo:
    return TickInfo(
        row.id,
        row.firing_key,
        as_utc(row.created_at),
        row.outcome,
        row.reason,
        row.run_id,
        row.error,
        row.duration_ms,
        row.attempts,
    )


def save_trigger(trigger: Trigger, active: bool | None = True) -> str:
    """Store ``trigger`` (configured with ``configure(app_id=...)``); returns its name.

    ``active=True`` stores it active, ``False`` paused; ``None`` keeps the flag of a trigger of that
    name stored already (a new one is active). A stored trigger's state is kept either way.
    """
    if trigger.app_id is None or trigger.name is None:
        raise ValidationError("configure(app_id=FLOW_NAME, user_id=USER) the trigger before starting it")
    owner = resolve_principal(trigger.user_id)
    with get_storage().db.write() as conn:
        name = save_trigger_in(conn, trigger, owner, active)
    _warn_unless_registered(name, str(trigger.app_id))
    return name


def _warn_unless_registered(trigger_name: str, flow_name: str) -> None:
    """Say at once when a trigger names a flow not registered yet: its firings would fail until it is."""
    from flowdeck.flow.registry import get_registered_flow

    try:
        get_registered_flow(flow_name)
    except NotFoundError:
        warnings.warn(
            f"trigger {trigger_name!r} starts flow {flow_name!r}, which is not registered: its firings fail "
            "until it is (flowdeck.register_flow(flow), or flowdeck flows add PATH)",
            UserWarning,
            stacklevel=4,
        )


_BYTES_KEY = "__flowdeck_bytes_base64__"


def _input_json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {_BYTES_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def _input_json_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(_BYTES_KEY), str):
        return base64.b64decode(obj[_BYTES_KEY])
    return obj


def dump_input_parameters(input_parameters: Any) -> str:
    """``input_parameters`` as JSON, an upload's bytes kept as bytes (tagged base64)."""
    return json.dumps(input_parameters, default=_input_json_default)


def load_input_parameters(text: str) -> Any:
    """The input parameters :func:`dump_input_parameters` stored, with their bytes back."""
    return json.loads(text, object_hook=_input_json_hook)


def save_trigger_in(conn: Any, trigger: Trigger, owner: Principal, active: bool | None = True) -> str:
    """:func:`save_trigger` inside a write transaction the caller holds, owned by ``owner``.

    ``owner`` is resolved by the caller before its transaction (resolving may write). What is
    checked before anything is written: the trigger is configured and its spec loads again; then
    ``AccessError`` when a trigger of that name belongs to another user and ``owner`` is no admin.
    """
    if trigger.app_id is None or trigger.name is None:
        raise ValidationError("configure(app_id=FLOW_NAME, user_id=USER) the trigger before starting it")
    spec = trigger.spec()
    trigger_from_spec(trigger.kind, spec)  # what is stored must load again
    values = {
        "id": uuid.uuid4().hex,
        "name": trigger.name,
        "kind": trigger.kind,
        "spec_json": json.dumps(spec, sort_keys=True),
        "flow_name": trigger.app_id,
        "owner": owner.name,
        "input_json": dump_input_parameters(trigger.input_parameters),
        "callback_json": json.dumps(callback) if (callback := trigger.callback_spec()) else None,
        "state_json": "{}",
        "active": True if active is None else active,
        "dry_run": trigger.dry_run,
        "max_retries": trigger.max_retries,
        "interval_seconds": trigger.interval_seconds,
        "next_check_at": utcnow(),
    }
    user_records.ensure_user(conn, owner.name)
    existing = records.get_trigger(conn, trigger.name)
    if existing is not None and existing.owner != owner.name and not owner.is_admin:
        raise AccessError(f"trigger {trigger.name!r} belongs to another user; choose another name")
    if existing is not None and active is None:
        values["active"] = bool(existing.active)
    records.put_trigger(conn, values)
    return trigger.name


def _visible(row: Any, who: Principal) -> bool:
    return row is not None and (who.is_admin or row.owner == who.name)


def get_trigger(name: str, user: str | None = None, ticks: int = 20) -> tuple[TriggerInfo, list[TickInfo]]:
    """A trigger and its newest ``ticks`` ticks; ``NotFoundError`` when the user may not see it."""
    who = resolve_principal(user)
    with get_storage().db.read() as conn:
        row = records.get_trigger(conn, name)
        if not _visible(row, who):
            raise NotFoundError(f"no trigger {name!r} visible to user {who.name!r}; see `flowdeck triggers list`")
        return _info(row), [_tick(t) for t in records.list_ticks(conn, row.id, ticks)]


def stored_trigger(name: str, user: str | None = None) -> TriggerInfo | None:
    """The stored trigger ``name`` as ``user`` may see it, else None (never stored, or not theirs)."""
    who = resolve_principal(user)
    with get_storage().db.read() as conn:
        row = records.get_trigger(conn, name)
    return _info(row) if _visible(row, who) else None


def set_trigger_state(name: str, state: dict[str, Any], user: str | None = None) -> None:
    """Replace what trigger ``name`` remembers between checks; ``NotFoundError`` when the user may not see it."""
    who = resolve_principal(user)
    with get_storage().db.write() as conn:
        row = records.get_trigger(conn, name)
        if not _visible(row, who):
            raise NotFoundError(f"no trigger {name!r} visible to user {who.name!r}; see `flowdeck triggers list`")
        records.set_state(conn, row.id, json.dumps(state, sort_keys=True))


def trigger_metrics(name: str, user: str | None = None) -> dict[str, Any]:
    """Firings of trigger ``name`` counted by outcome, its last check and whether it is active."""
    who = resolve_principal(user)
    with get_storage().db.read() as conn:
        row = records.get_trigger(conn, name)
        if not _visible(row, who):
            raise NotFoundError(f"no trigger {name!r} visible to user {who.name!r}; see `flowdeck triggers list`")
        outcomes = records.count_ticks(conn, row.id)
    info = _info(row)
    return {
        "name": info.name,
        "active": info.active,
        "firings": sum(outcomes.values()),
        "outcomes": outcomes,
        "last_checked_at": info.last_checked_at.isoformat() if info.last_checked_at else None,
        "last_reason": info.last_reason,
        "next_check_at": info.next_check_at.isoformat() if info.next_check_at else None,
    }


def list_triggers(user: str | None = None) -> list[TriggerInfo]:
    """The triggers a user may see (all for admins), by name."""
    who = resolve_principal(user)
    with get_storage().db.read() as conn:
        rows = records.list_triggers(conn, None if who.is_admin else who.name)
    return [_info(r) for r in rows]


def _set_active(name: str, user: str | None, active: bool) -> None:
    who = resolve_principal(user)
    with get_storage().db.write() as conn:
        if not _visible(records.get_trigger(conn, name), who):
            raise NotFoundError(f"no trigger {name!r} visible to user {who.name!r}; see `flowdeck triggers list`")
        records.set_active(conn, name, active)


def pause_trigger(name: str, user: str | None = None) -> None:
    """Stop checking a trigger (state and history kept)."""
    _set_active(name, user, False)


def resume_trigger(name: str, user: str | None = None) -> None:
    """Check a paused trigger again (from now)."""
    _set_active(name, user, True)


def remove_trigger(name: str, user: str | None = None) -> None:
    """Delete a trigger and its tick history."""
    who = resolve_principal(user)
    with get_storage().db.write() as conn:
        if not _visible(records.get_trigger(conn, name), who):
            raise NotFoundError(f"no trigger {name!r} visible to user {who.name!r}; see `flowdeck triggers list`")
        records.delete_trigger(conn, name)


def _owner(conn: Any, name: str) -> Principal:
    row = user_records.get_user(conn, name)
    role = row.role if row is not None else "user"
    return Principal(name, role, tuple(user_records.groups_of(conn, name)))


def _check_due(force: bool, names: list[str] | None) -> int:
    """Phase one: look at each due trigger and record its new firings; returns how many were recorded."""
    now = utcnow()
    recorded = 0
    with get_storage().db.write() as conn:
        for row in records.lock_due_triggers(conn, None if force else now, names):
            state = json.loads(row.state_json)
            next_check = now + dt.timedelta(seconds=row.interval_seconds)
            try:
                trigger = trigger_from_spec(row.kind, json.loads(row.spec_json))
                result = trigger.check(state, CheckContext(_owner(conn, row.owner), now))
            except Exception as exc:  # the trigger's source failed: keep the state, say why, look again later
                log.warning("trigger %s: check failed: %s", row.name, exc)
                records.update_trigger_state(
                    conn, row.id, row.state_json, next_check, f"check failed: {type(exc).__name__}: {exc}"
                )
                continue
            outcome = "dry_run" if row.dry_run else "pending"
            for firing in result.firings:
                if records.insert_tick(conn, row.id, firing.key, outcome, firing.reason):
                    recorded += 1
            records.update_trigger_state(
                conn,
                row.id,
                json.dumps(result.state, sort_keys=True, default=str),
                result.next_check_at or next_check,
                result.reason,
            )
    return recorded


def _backoff(attempts: int) -> float:
    return min(2.0 ** (attempts - 1), MAX_BACKOFF_SECONDS)


def lease_seconds() -> float:
    """Seconds a scheduler holds a claimed tick before another may take it over.

    ``FLOWDECK_TRIGGER_LEASE_SECONDS`` (default 120).
    """
    try:
        return max(0.1, float(os.environ.get("FLOWDECK_TRIGGER_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)))
    except ValueError:
        return DEFAULT_LEASE_SECONDS


def _pause_at(point: str) -> None:
    """Stop here for a while when ``FLOWDECK_SCHEDULER_PAUSE_AT`` names ``point`` (``claimed``, ``created``).

    What a recovery test uses to stop a scheduler at a known place; it prints a line first.
    """
    if os.environ.get("FLOWDECK_SCHEDULER_PAUSE_AT") == point:
        print(f"scheduler paused at {point}", flush=True)
        time.sleep(float(os.environ.get("FLOWDECK_SCHEDULER_PAUSE_SECONDS", "60")))


def _fire(tick: Any, queue: str | None) -> dict[str, Any]:
    """Start (or finish starting) the run of a claimed tick; returns how the tick ended.

    The run and the tick's ``run_id`` are recorded in one transaction, so a tick taken over after
    its scheduler stopped either has no run (one is created now) or names its run (which is
    started now unless it was started already): a firing starts exactly one run.
    """
    from flowdeck.flow.headless import (
        advance_headless,
        call_trigger_callback,
        check_input_parameters,
        create_headless_run,
        hand_off_headless,
    )
    from flowdeck.flow.runner import open_run

    attempts = tick.attempts + 1
    started = time.perf_counter()
    run_id = tick.run_id
    parameters = load_input_parameters(tick.input_json) or None
    callback = json.loads(tick.callback_json) if tick.callback_json else None
    input_data = {"trigger": tick.name, "firing_key": tick.firing_key, "reason": tick.reason, "run_id": None}
    try:
        if callback and callback.get("flow_id"):  # the SDK's form: act on the run that set it up, start none
            run_id = callback["flow_id"]
            call_trigger_callback(callback, run_id, tick.owner, {**input_data, "run_id": run_id})
        else:
            if run_id is None:
                run, inputs = create_headless_run(
                    tick.flow_name,
                    tick.owner,
                    parameters,
                    started_by=f"trigger:{tick.name}",
                    on_created=lambda conn, new_id: records.set_tick_run(conn, tick.id, new_id),
                )
                run_id = run.flow_id
                _pause_at("created")
            else:  # taken over (or retried): the run exists; start it unless that was done
                run = open_run(run_id, tick.owner)
                inputs = check_input_parameters(run.flow, parameters)
            call = {"spec": callback, "input_data": {**input_data, "run_id": run_id}} if callback else None
            if get_settings().executor == "celery":  # the worker calls the callback after the steps
                hand_off_headless(run, inputs, queue, callback=call)
            else:
                advance_headless(run, inputs)
                if call:
                    call_trigger_callback(callback, run_id, tick.owner, call["input_data"])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        retry = attempts <= tick.max_retries
        log.warning("trigger %s: starting flow %r failed (attempt %d): %s", tick.name, tick.flow_name, attempts, error)
        return {
            "outcome": "retry" if retry else "failed",
            "run_id": run_id,
            "error": error,
            "duration_ms": (time.perf_counter() - started) * 1000,
            "next_attempt_at": utcnow() + dt.timedelta(seconds=_backoff(attempts)) if retry else None,
        }
    return {
        "outcome": "fired",
        "run_id": run_id,
        "error": None,
        "duration_ms": (time.perf_counter() - started) * 1000,
        "next_attempt_at": None,
    }


def start_due_ticks(queue: str | None = None) -> list[TickInfo]:
    """Phase two: start the run of every waiting tick this process claims; returns those it handled.

    With ``FLOWDECK_EXECUTOR=celery`` the run's steps go to the workers (on ``queue``, by default
    flowdeck's): this process only claims the tick, records the run and queues its start.
    """
    storage = get_storage()
    handled: list[int] = []
    with storage.db.read() as conn:
        waiting = records.due_ticks(conn, utcnow())
    for tick in waiting:
        lease_until = utcnow() + dt.timedelta(seconds=lease_seconds())
        with storage.db.write() as conn:
            if not records.claim_tick(conn, tick.id, tick.outcome, tick.attempts, lease_until):
                continue  # another scheduler has it
        if tick.outcome == "starting":
            log.warning(
                "trigger %s: taking over firing %s, whose scheduler stopped before recording its run (run %s)",
                tick.name,
                tick.firing_key,
                tick.run_id or "not created",
            )
        _pause_at("claimed")
        values = _fire(tick, queue)
        with storage.db.write() as conn:
            records.update_tick(conn, tick.id, **values)
        handled.append(tick.id)
    if not handled:
        return []
    with storage.db.read() as conn:
        return [_tick(r) for r in records.get_ticks(conn, handled)]


def check_triggers(names: list[str] | None = None, *, force: bool = True, queue: str | None = None) -> list[TickInfo]:
    """Check every active trigger now (``force=False``: only those due), then start the runs of new firings.

    Returns the ticks whose runs this call started (or tried to start). ``queue``: the Celery queue
    runs are handed to with ``FLOWDECK_EXECUTOR=celery`` (default flowdeck's). ``names`` limits the
    check to those triggers; a name no trigger has is a ``NotFoundError``, and a stopped trigger
    named there is not checked (a ``UserWarning`` says so).
    """
    if names is not None:
        if isinstance(names, str):
            raise ValidationError(f"check_triggers() takes a list of trigger names, got the text {names!r}")
        with get_storage().db.read() as conn:
            rows = records.list_triggers(conn)
        known = [row.name for row in rows]
        missing = sorted(set(names) - set(known))
        if missing:
            raise NotFoundError(f"no trigger named {', '.join(map(repr, missing))}; the triggers are {known}")
        paused = [row.name for row in rows if row.name in set(names) and not row.active]
        if paused:
            warnings.warn(
                f"trigger {', '.join(map(repr, paused))} is stopped, so it is not checked; start() it again "
                "to have it checked",
                UserWarning,
                stacklevel=2,
            )
    _check_due(force, names)
    return start_due_ticks(queue)


def run_scheduler(poll_seconds: float = 1.0, stop: threading.Event | None = None, queue: str | None = None) -> None:
    """Check due triggers, start their runs and send notifications until ``stop`` is set (``flowdeck scheduler``).

    With ``FLOWDECK_EXECUTOR=celery`` runs are handed to the workers on ``queue`` (default flowdeck's).
    """
    stop = stop or threading.Event()
    log.info("scheduler polling every %.1f s", poll_seconds)
    from flowdeck.store.notifications import check_notifications

    while not stop.is_set():
        try:
            for tick in check_triggers(force=False, queue=queue):
                log.info("tick %s: %s run %s %s", tick.firing_key, tick.outcome, tick.run_id, tick.error or "")
            check_notifications()
        except Exception:  # one failed poll (the database restarting, ...) must not end the scheduler
            log.exception("scheduler poll failed; trying again")
        stop.wait(poll_seconds)
