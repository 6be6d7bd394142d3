"""Stored triggers, their state and their tick history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import trigger_ticks, triggers

__all__ = [
    "claim_tick",
    "count_ticks",
    "delete_trigger",
    "due_ticks",
    "get_ticks",
    "get_trigger",
    "insert_tick",
    "list_ticks",
    "list_triggers",
    "lock_due_triggers",
    "put_trigger",
    "set_active",
    "set_state",
    "set_tick_run",
    "update_tick",
    "update_trigger_state",
]


def put_trigger(conn: Connection, values: dict[str, Any]) -> str:
    """Create the trigger called ``values['name']`` or replace its definition (its state is kept); returns its id."""
    now = utcnow()
    existing = conn.execute(sa.select(triggers.c.id).where(triggers.c.name == values["name"])).first()
    if existing is None:
        conn.execute(sa.insert(triggers).values(**values, created_at=now, updated_at=now))
        return values["id"]
    changes = {k: v for k, v in values.items() if k not in ("id", "state_json")}
    conn.execute(sa.update(triggers).where(triggers.c.id == existing.id).values(**changes, updated_at=now))
    return existing.id


def get_trigger(conn: Connection, name: str) -> Row | None:
    """The trigger called ``name``, or None."""
    return conn.execute(sa.select(triggers).where(triggers.c.name == name)).first()


def list_triggers(conn: Connection, owner: str | None = None) -> list[Row]:
    """Every trigger (of ``owner`` when given), by name."""
    query = sa.select(triggers).order_by(triggers.c.name)
    if owner is not None:
        query = query.where(triggers.c.owner == owner)
    return list(conn.execute(query))


def delete_trigger(conn: Connection, name: str) -> bool:
    """Remove a trigger and its ticks; True when it existed."""
    return conn.execute(sa.delete(triggers).where(triggers.c.name == name)).rowcount > 0


def set_active(conn: Connection, name: str, active: bool) -> bool:
    """Pause or resume; True when the trigger exists."""
    values: dict[str, Any] = {"active": active, "updated_at": utcnow()}
    if active:
        values["next_check_at"] = utcnow()
    return conn.execute(sa.update(triggers).where(triggers.c.name == name).values(**values)).rowcount > 0


def lock_due_triggers(conn: Connection, now: dt.datetime | None, names: list[str] | None = None) -> list[Row]:
    """Active triggers due by ``now`` (all active ones when None), locked for this transaction.

    On PostgreSQL and MySQL rows another scheduler holds are skipped (``FOR UPDATE SKIP LOCKED``);
    SQLite's write transaction holds the database lock already.
    """
    query = sa.select(triggers).where(triggers.c.active.is_(True)).order_by(triggers.c.next_check_at)
    if now is not None:
        query = query.where(triggers.c.next_check_at <= now)
    if names:
        query = query.where(triggers.c.name.in_(names))
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query))


def update_trigger_state(
    conn: Connection, trigger_id: str, state_json: str, next_check_at: dt.datetime, reason: str
) -> None:
    """Store a trigger's new state after a check."""
    now = utcnow()
    conn.execute(
        sa.update(triggers)
        .where(triggers.c.id == trigger_id)
        .values(state_json=state_json, next_check_at=next_check_at, last_checked_at=now, last_reason=reason)
    )


def set_state(conn: Connection, trigger_id: str, state_json: str) -> None:
    """Replace what a trigger remembers between checks."""
    conn.execute(
        sa.update(triggers).where(triggers.c.id == trigger_id).values(state_json=state_json, updated_at=utcnow())
    )


def count_ticks(conn: Connection, trigger_id: str) -> dict[str, int]:
    """A trigger's ticks counted by outcome."""
    query = (
        sa.select(trigger_ticks.c.outcome, sa.func.count())
        .where(trigger_ticks.c.trigger_id == trigger_id)
        .group_by(trigger_ticks.c.outcome)
    )
    return {outcome: int(count) for outcome, count in conn.execute(query)}


def insert_tick(conn: Connection, trigger_id: str, firing_key: str, outcome: str, reason: str) -> bool:
    """Record a firing; False (nothing written) when this trigger recorded ``firing_key`` before."""
    return insert_ignoring_duplicate(
        conn,
        trigger_ticks,
        {
            "trigger_id": trigger_id,
            "firing_key": firing_key[:255],
            "created_at": utcnow(),
            "outcome": outcome,
            "reason": reason,
            "attempts": 0,
            "next_attempt_at": utcnow() if outcome == "pending" else None,
        },
    )


def due_ticks(conn: Connection, now: dt.datetime) -> list[Row]:
    """Ticks waiting to start their run: new, retrying after a back-off that has passed, or claimed
    by a scheduler whose lease ran out before it recorded the outcome (it stopped mid-way)."""
    query = (
        sa.select(
            trigger_ticks,
            triggers.c.name,
            triggers.c.flow_name,
            triggers.c.owner,
            triggers.c.input_json,
            triggers.c.callback_json,
            triggers.c.max_retries,
        )
        .join(triggers, triggers.c.id == trigger_ticks.c.trigger_id)
        .where(trigger_ticks.c.outcome.in_(("pending", "retry", "starting")), trigger_ticks.c.next_attempt_at <= now)
        .order_by(trigger_ticks.c.id)
    )
    return list(conn.execute(query))


def claim_tick(conn: Connection, tick_id: int, outcome: str, attempts: int, lease_until: dt.datetime) -> bool:
    """Mark a waiting tick ``starting`` until ``lease_until``; True for exactly one of several schedulers.

    The lease is kept in ``next_attempt_at``: a tick still ``starting`` after it is due again
    (its scheduler stopped before recording the outcome) and another scheduler takes it over.
    """
    result = conn.execute(
        sa.update(trigger_ticks)
        .where(trigger_ticks.c.id == tick_id, trigger_ticks.c.outcome == outcome, trigger_ticks.c.attempts == attempts)
        .values(outcome="starting", attempts=attempts + 1, next_attempt_at=lease_until)
    )
    return result.rowcount == 1


def set_tick_run(conn: Connection, tick_id: int, run_id: str) -> None:
    """Record the run a tick started (in the transaction that records the run)."""
    conn.execute(sa.update(trigger_ticks).where(trigger_ticks.c.id == tick_id).values(run_id=run_id))


def update_tick(conn: Connection, tick_id: int, **values: Any) -> None:
    """Record how a tick ended (outcome, run, error, duration, next attempt)."""
    conn.execute(sa.update(trigger_ticks).where(trigger_ticks.c.id == tick_id).values(**values))


def get_ticks(conn: Connection, tick_ids: list[int]) -> list[Row]:
    """The ticks with these ids, oldest first."""
    query = sa.select(trigger_ticks).where(trigger_ticks.c.id.in_(tick_ids)).order_by(trigger_ticks.c.id)
    return list(conn.execute(query))


def list_ticks(conn: Connection, trigger_id: str, limit: int = 50) -> list[Row]:
    """A trigger's newest ticks first."""
    return list(
        conn.execute(
            sa.select(trigger_ticks)
            .where(trigger_ticks.c.trigger_id == trigger_id)
            .order_by(trigger_ticks.c.id.desc())
            .limit(limit)
        )
    )
