"""Runs, their steps and who they are shared with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records import shares as share_records
from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import runs, steps

__all__ = [
    "StepSpec",
    "delete_run",
    "get_run",
    "get_step",
    "get_steps",
    "insert_run",
    "list_runs",
    "lock_run",
    "update_run",
    "update_step",
]

StepSpec = tuple[str, str, str]  # (name, title, step type)


def insert_run(
    conn: Connection,
    run_id: str,
    *,
    flow_name: str,
    flow_ref: str | None,
    owner: str,
    step_specs: Sequence[StepSpec],
) -> None:
    """Create a run and its steps, all pending."""
    now = utcnow()
    conn.execute(
        sa.insert(runs).values(
            id=run_id,
            flow_name=flow_name,
            flow_ref=flow_ref,
            owner=owner,
            state="pending",
            current_step=None,
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        sa.insert(steps),
        [
            {
                "run_id": run_id,
                "name": name,
                "position": position,
                "title": title,
                "step_type": step_type,
                "state": "pending",
                "attempt": 0,
                "progress": 0.0,
            }
            for position, (name, title, step_type) in enumerate(step_specs)
        ],
    )


def get_run(conn: Connection, run_id: str) -> Row | None:
    """The run row, or None."""
    return conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()


def lock_run(conn: Connection, run_id: str) -> Row | None:
    """The run row, locked against concurrent state changes until the transaction ends."""
    query = sa.select(runs).where(runs.c.id == run_id)
    if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already serialises writers
        query = query.with_for_update()
    return conn.execute(query).first()


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    """Change columns of a run (``updated_at`` is set too)."""
    conn.execute(sa.update(runs).where(runs.c.id == run_id).values(updated_at=utcnow(), **values))


def get_steps(conn: Connection, run_id: str) -> list[Row]:
    """The run's steps in flow order."""
    return conn.execute(sa.select(steps).where(steps.c.run_id == run_id).order_by(steps.c.position)).all()


def get_step(conn: Connection, run_id: str, name: str) -> Row | None:
    """One step of a run, or None."""
    return conn.execute(sa.select(steps).where(steps.c.run_id == run_id, steps.c.name == name)).first()


def update_step(conn: Connection, run_id: str, name: str, **values: Any) -> None:
    """Change columns of one step."""
    conn.execute(sa.update(steps).where(steps.c.run_id == run_id, steps.c.name == name).values(**values))


def list_runs(conn: Connection, audience: share_records.Audience, *, limit: int = 200) -> list[Row]:
    """Runs the audience may see (their own and those shared with them; all for admins), newest first."""
    query = (
        sa.select(runs)
        .where(share_records.visible_clause("run", audience, runs.c.id, runs.c.owner))
        .order_by(runs.c.created_at.desc(), runs.c.id)
        .limit(limit)
    )
    return conn.execute(query).all()


def delete_run(conn: Connection, run_id: str) -> None:
    """Delete a run and, by cascade, its steps, outputs, pages, uploads and events."""
    from flowdeck.storage.schema import future_elements, outputs, pages, progress_events, uploads

    # Explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on, MySQL per engine.
    for table in (outputs, pages, uploads, future_elements, progress_events, steps):
        conn.execute(sa.delete(table).where(table.c.run_id == run_id))
    share_records.delete_shares(conn, "run", run_id)
    conn.execute(sa.delete(runs).where(runs.c.id == run_id))
