"""Runs, their steps and who they are shared with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage import prepared
from flowdeck.storage.prepared import ResultRow
from flowdeck.storage.records import outputs as output_records
from flowdeck.storage.records import shares as share_records
from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import future_elements, outputs, pages, runs, steps

__all__ = [
    "StepSpec",
    "copy_run_rows",
    "delete_run",
    "get_run",
    "get_run_with_steps",
    "get_step",
    "get_steps",
    "insert_run",
    "list_runs",
    "list_runs_with_steps",
    "lock_run",
    "lock_run_with_steps",
    "renew_lease",
    "take_lease",
    "update_run",
    "update_run_if",
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
    run = {
        "id": run_id,
        "flow_name": flow_name,
        "flow_ref": flow_ref,
        "owner": owner,
        "state": "pending",
        "current_step": None,
        "created_at": now,
        "updated_at": now,
    }
    prepared.execute(conn, _INSERT_RUN, run)
    prepared.execute_many(
        conn,
        _INSERT_STEP,
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


# Built once: these run several times per step, and constructing a statement costs more than
# running it. On SQLite they run through ``prepared`` (compiled once, then straight on the driver);
# elsewhere SQLAlchemy caches their compiled form. An UPDATE without ``.values()`` sets the columns
# named by the parameters it is executed with.
_INSERT_RUN = sa.insert(runs)
_INSERT_STEP = sa.insert(steps)
_GET_RUN = sa.select(runs).where(runs.c.id == sa.bindparam("b_run_id"))
_LOCK_RUN = _GET_RUN.with_for_update()
_UPDATE_RUN = sa.update(runs).where(runs.c.id == sa.bindparam("b_run_id"))
_UPDATE_RUN_IF = sa.update(runs).where(
    runs.c.id == sa.bindparam("b_run_id"), runs.c.action_token == sa.bindparam("b_token")
)
_GET_STEPS = sa.select(steps).where(steps.c.run_id == sa.bindparam("b_run_id")).order_by(steps.c.position)
_GET_STEP = sa.select(steps).where(steps.c.run_id == sa.bindparam("b_run_id"), steps.c.name == sa.bindparam("b_name"))
_UPDATE_STEP = sa.update(steps).where(
    steps.c.run_id == sa.bindparam("b_run_id"), steps.c.name == sa.bindparam("b_name")
)
_STEP_COLUMNS = [c.label(f"step__{c.name}") for c in steps.c]
# Whether future elements wait for the step: read with the run, so that beginning a step that has
# none (nearly every step) needs no query of its own.
_STEP_AWAITS_ELEMENTS = (
    sa.exists()
    .where(future_elements.c.run_id == steps.c.run_id, future_elements.c.target_step == steps.c.name)
    .label("step__awaits_elements")
)
_GET_RUN_WITH_STEPS = (
    sa.select(runs, *_STEP_COLUMNS, _STEP_AWAITS_ELEMENTS)
    .join(steps, steps.c.run_id == runs.c.id)
    .where(runs.c.id == sa.bindparam("b_run_id"))
    .order_by(steps.c.position)
)


# The newest page of the run's current step in that step's attempt, on the current step's row only:
# next() reads it with the run, under the claim's lock, instead of in a query of its own.
_CURRENT_PAGE = sa.case(
    (
        steps.c.name == runs.c.current_step,
        sa.select(pages.c.document)
        .where(
            pages.c.run_id == steps.c.run_id,
            pages.c.step_name == steps.c.name,
            pages.c.attempt == sa.case((steps.c.attempt < 1, 1), else_=steps.c.attempt),
        )
        .order_by(pages.c.version.desc())
        .limit(1)
        .scalar_subquery(),
    )
).label("step__current_page")
_GET_RUN_WITH_STEPS_AND_PAGE = _GET_RUN_WITH_STEPS.add_columns(_CURRENT_PAGE)
# A reader's get_input: each step's newest row of the output asked for comes with the run, so that
# finding it in the in-link needs no query of its own.
_GET_RUN_WITH_STEPS_AND_OUTPUT = (
    sa.select(runs, *_STEP_COLUMNS, *output_records.OUTPUT_COLUMNS)
    .select_from(runs.join(steps, steps.c.run_id == runs.c.id).outerjoin(outputs, output_records.OUTPUT_OF_STEP))
    .where(runs.c.id == sa.bindparam("b_run_id"))
    .order_by(steps.c.position)
)


def get_run(conn: Connection, run_id: str) -> ResultRow | None:
    """The run row, or None."""
    return prepared.execute(conn, _GET_RUN, {"b_run_id": run_id}).first()


def get_run_with_steps(
    conn: Connection, run_id: str, *, current_page: bool = False, output: str | None = None
) -> tuple[ResultRow, list[ResultRow]] | None:
    """The run row and its steps in flow order (columns ``step__<name>``), read in one query; None when missing.

    Each row also says whether future elements wait for its step (``step__awaits_elements``). With
    ``current_page`` the current step's row also holds the document of its newest page in its
    attempt (``step__current_page``; None on the other rows, and when it has none). With ``output``
    (a name) each step's row holds instead the newest row of that output its current attempt saved
    (``output__<column>``, see :class:`~flowdeck.storage.records.outputs.OutputRow`).
    """
    if output is not None:
        found = prepared.execute(conn, _GET_RUN_WITH_STEPS_AND_OUTPUT, {"b_run_id": run_id, "b_output": output}).all()
        return (found[0], found) if found else None
    query = _GET_RUN_WITH_STEPS_AND_PAGE if current_page else _GET_RUN_WITH_STEPS
    found = prepared.execute(conn, query, {"b_run_id": run_id}).all()
    if not found:
        return None
    return found[0], found


def lock_run(conn: Connection, run_id: str) -> ResultRow | None:
    """The run row, locked against concurrent state changes until the transaction ends."""
    # SQLite's BEGIN IMMEDIATE already serialises writers.
    query = _GET_RUN if conn.dialect.name == "sqlite" else _LOCK_RUN
    return prepared.execute(conn, query, {"b_run_id": run_id}).first()


def lock_run_with_steps(
    conn: Connection, run_id: str, *, current_page: bool = False, output: str | None = None
) -> tuple[ResultRow, list[ResultRow]] | None:
    """The run row, locked as by :func:`lock_run`, and its steps (as :func:`get_run_with_steps`); None when missing.

    One query on SQLite (whose ``BEGIN IMMEDIATE`` is the lock); elsewhere the run row is locked first.
    """
    if conn.dialect.name != "sqlite" and conn.execute(_LOCK_RUN, {"b_run_id": run_id}).first() is None:
        return None
    return get_run_with_steps(conn, run_id, current_page=current_page, output=output)


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    """Change columns of a run (``updated_at`` is set too)."""
    prepared.execute(conn, _UPDATE_RUN, {"b_run_id": run_id, "updated_at": utcnow(), **values})


def update_run_if(conn: Connection, run_id: str, token: str, **values: Any) -> bool:
    """Change columns of a run only while ``token`` is its action in flight; True when it changed."""
    result = prepared.execute(
        conn, _UPDATE_RUN_IF, {"b_run_id": run_id, "b_token": token, "updated_at": utcnow(), **values}
    )
    return result.rowcount == 1


def take_lease(conn: Connection, run_id: str, token: str, holder: str, until: Any) -> bool:
    """Make ``holder`` the one process carrying out action ``token`` (a conditional UPDATE); False if taken."""
    result = conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.action_token == token, runs.c.lease_holder.is_(None))
        .values(lease_holder=holder, lease_until=until)
    )
    return result.rowcount == 1


def renew_lease(conn: Connection, run_id: str, token: str, holder: str, until: Any) -> bool:
    """Extend ``holder``'s lease on action ``token`` (a conditional UPDATE); False once it is not in flight."""
    result = conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.action_token == token, runs.c.lease_holder == holder)
        .values(lease_until=until)
    )
    return result.rowcount == 1


def get_steps(conn: Connection, run_id: str) -> list[Row]:
    """The run's steps in flow order."""
    return conn.execute(_GET_STEPS, {"b_run_id": run_id}).all()


def get_step(conn: Connection, run_id: str, name: str) -> Row | None:
    """One step of a run, or None."""
    return conn.execute(_GET_STEP, {"b_run_id": run_id, "b_name": name}).first()


def update_step(conn: Connection, run_id: str, name: str, **values: Any) -> None:
    """Change columns of one step."""
    prepared.execute(conn, _UPDATE_STEP, {"b_run_id": run_id, "b_name": name, **values})


def list_runs(conn: Connection, audience: share_records.Audience, *, limit: int = 200) -> list[Row]:
    """Runs the audience may see (their own and those shared with them; all for admins), newest first."""
    query = (
        sa.select(runs)
        .where(share_records.visible_clause("run", audience, runs.c.id, runs.c.owner))
        .order_by(runs.c.created_at.desc(), runs.c.id)
        .limit(limit)
    )
    return conn.execute(query).all()


def list_runs_with_steps(
    conn: Connection, audience: share_records.Audience, *, limit: int = 200
) -> list[tuple[Row, list[Row]]]:
    """Like :func:`list_runs`, with each run's steps in flow order, read in one query."""
    visible = (
        sa.select(runs.c.id.label("visible_id"))
        .where(share_records.visible_clause("run", audience, runs.c.id, runs.c.owner))
        .order_by(runs.c.created_at.desc(), runs.c.id)
        .limit(limit)
    )
    # A derived table rather than IN (... LIMIT): MariaDB refuses LIMIT in an IN subquery.
    page = visible.subquery("visible")
    step_cols = [c.label(f"step__{c.name}") for c in steps.c]
    query = (
        sa.select(runs, *step_cols)
        .join(page, page.c.visible_id == runs.c.id)
        .join(steps, steps.c.run_id == runs.c.id)
        .order_by(runs.c.created_at.desc(), runs.c.id, steps.c.position)
    )
    out: list[tuple[Row, list[Row]]] = []
    for row in conn.execute(query):
        if not out or out[-1][0].id != row.id:
            out.append((row, []))
        out[-1][1].append(row)
    return out


def copy_run_rows(conn: Connection, source: str, target: str, step_attempts: Sequence[tuple[str, int]]) -> None:
    """Copy the outputs, pages and uploads of ``(step, attempt)`` from run ``source`` to run ``target``.

    Rows are copied, not the bytes: blob-backed values point at the same content-addressed blobs.
    """
    from flowdeck.storage.schema import future_elements, outputs, pages, uploads

    if not step_attempts:
        return
    fe_cols = [c for c in future_elements.c if c.name not in ("id", "run_id")]
    conn.execute(
        sa.insert(future_elements).from_select(
            ["run_id", *[c.name for c in fe_cols]],
            sa.select(sa.literal(target, type_=sa.String(32)).label("run_id"), *fe_cols)
            .where(
                future_elements.c.run_id == source,
                future_elements.c.source_step.in_([n for n, _ in step_attempts]),
            )
            .order_by(future_elements.c.id),
        )
    )
    for table in (outputs, pages, uploads):
        cols = [c for c in table.c if c.name not in ("id", "run_id")]
        which = sa.or_(*[sa.and_(table.c.step_name == n, table.c.attempt == a) for n, a in step_attempts])
        select = (
            sa.select(sa.literal(target, type_=sa.String(32)).label("run_id"), *cols)
            .where(table.c.run_id == source, which)
            .order_by(table.c.id)
        )
        conn.execute(sa.insert(table).from_select(["run_id", *[c.name for c in cols]], select))


def delete_run(conn: Connection, run_id: str) -> None:
    """Delete a run and, by cascade, its steps, outputs, pages, uploads, events, comments and notices."""
    from flowdeck.storage.schema import (
        card_comments,
        future_elements,
        outputs,
        pages,
        progress_events,
        run_notices,
        uploads,
    )

    # Explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on, MySQL per engine.
    for table in (outputs, pages, uploads, future_elements, progress_events, card_comments, run_notices, steps):
        conn.execute(sa.delete(table).where(table.c.run_id == run_id))
    share_records.delete_shares(conn, "run", run_id)
    conn.execute(sa.delete(runs).where(runs.c.id == run_id))
