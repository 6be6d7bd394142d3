"""Storing triggers and firing them: each firing is recorded once and starts one run.

A check runs in two phases. First, in one write transaction holding the due triggers' rows
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL and MySQL; SQLite's write lock), each trigger
looks at what it watches, and each new firing is inserted as a tick whose ``(trigger, firing key)``
is unique, together with the trigger's new state. Then every waiting tick is claimed with a
compare-and-set update, so one scheduler alone starts its run. Two schedulers, or a restart, can
therefore never fire one firing twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flowdeck.auth.users import Principal, resolve_principal
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
    "get_trigger",
    "list_triggers",
    "pause_trigger",
    "remove_trigger",
    "resume_trigger",
    "run_scheduler",
    "save_trigger",
    "start_due_ticks",
]

log = logging.getLogger("flowdeck.scheduler")
#: The longest wait between two attempts to start a run.
MAX_BACKOFF_SECONDS = 300.0


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


def save_trigger(trigger: Trigger, active: bool = True) -> str:
    """Store ``trigger`` (configured with ``configure(app_id=...)``); returns its name."""
    if trigger.app_id is None or trigger.name is None:
        raise ValidationError("configure(app_id=FLOW_NAME, user_id=USER) the trigger before starting it")
    owner = resolve_principal(trigger.user_id)
    spec = trigger.spec()
    trigger_from_spec(trigger.kind, spec)  # what is stored must load again
    values = {
        "id": uuid.uuid4().hex,
        "name": trigger.name,
        "kind": trigger.kind,
        "spec_json": json.dumps(spec, sort_keys=True),
        "flow_name": trigger.app_id,
        "owner": owner.name,
        "input_json": json.dumps(trigger.input_parameters, default=str),
        "state_json": "{}",
        "active": active,
        "dry_run": trigger.dry_run,
        "max_retries": trigger.max_retries,
        "interval_seconds": trigger.interval_seconds,
        "next_check_at": utcnow(),
    }
    with get_storage().db.write() as conn:
        user_records.ensure_user(conn, owner.name)
        existing = records.get_trigger(conn, trigger.name)
        if existing is not None and existing.owner != owner.name and not owner.is_admin:
            raise AccessError(f"trigger {trigger.name!r} belongs to another user; choose another name")
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


def start_due_ticks() -> list[TickInfo]:
    """Phase two: start the run of every waiting tick this process claims; returns those it handled."""
    from flowdeck.flow.headless import run_headless

    storage = get_storage()
    handled: list[int] = []
    with storage.db.read() as conn:
        waiting = records.due_ticks(conn, utcnow())
    for tick in waiting:
        with storage.db.write() as conn:
            if not records.claim_tick(conn, tick.id, tick.outcome, tick.attempts):
                continue  # another scheduler has it
        attempts = tick.attempts + 1
        started = time.perf_counter()
        try:
            run_id = run_headless(
                tick.flow_name, tick.owner, json.loads(tick.input_json) or None, started_by=f"trigger:{tick.name}"
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            retry = attempts <= tick.max_retries
            values: dict[str, Any] = {
                "outcome": "retry" if retry else "failed",
                "error": error,
                "duration_ms": (time.perf_counter() - started) * 1000,
                "next_attempt_at": utcnow() + dt.timedelta(seconds=_backoff(attempts)) if retry else None,
            }
            log.warning(
                "trigger %s: starting flow %r failed (attempt %d): %s", tick.name, tick.flow_name, attempts, error
            )
        else:
            values = {
                "outcome": "fired",
                "run_id": run_id,
                "error": None,
                "duration_ms": (time.perf_counter() - started) * 1000,
                "next_attempt_at": None,
            }
        with storage.db.write() as conn:
            records.update_tick(conn, tick.id, **values)
        handled.append(tick.id)
    if not handled:
        return []
    with storage.db.read() as conn:
        import sqlalchemy as sa

        from flowdeck.storage.schema import trigger_ticks

        rows = conn.execute(
            sa.select(trigger_ticks).where(trigger_ticks.c.id.in_(handled)).order_by(trigger_ticks.c.id)
        )
        return [_tick(r) for r in rows]


def check_triggers(names: list[str] | None = None, *, force: bool = True) -> list[TickInfo]:
    """Check every active trigger now (``force=False``: only those due), then start the runs of new firings.

    Returns the ticks whose runs this call started (or tried to start).
    """
    _check_due(force, names)
    return start_due_ticks()


def run_scheduler(poll_seconds: float = 1.0, stop: threading.Event | None = None) -> None:
    """Check due triggers, start their runs and send notifications until ``stop`` is set (``flowdeck scheduler``)."""
    stop = stop or threading.Event()
    log.info("scheduler polling every %.1f s", poll_seconds)
    from flowdeck.store.notifications import check_notifications

    while not stop.is_set():
        try:
            for tick in check_triggers(force=False):
                log.info("tick %s: %s run %s %s", tick.firing_key, tick.outcome, tick.run_id, tick.error or "")
            check_notifications()
        except Exception:  # one failed poll (the database restarting, ...) must not end the scheduler
            log.exception("scheduler poll failed; trying again")
        stop.wait(poll_seconds)
