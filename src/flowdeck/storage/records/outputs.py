"""Step outputs: every saved value of every step attempt, newest last."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import assets, outputs, steps, uploads
from flowdeck.storage.values import StoredValue

__all__ = ["find_output", "insert_output", "output_names", "referenced_blob_keys"]


# Built once: saving is on the hot path, and constructing a statement costs more than running it.
_INSERT_FOR_STEP = sa.insert(outputs).from_select(
    ["run_id", "step_name", "attempt", "name", "codec", "size", "inline_data", "blob_key", "checksum", "created_at"],
    sa.select(
        steps.c.run_id,
        steps.c.name,
        sa.case((steps.c.attempt < 1, 1), else_=steps.c.attempt),
        sa.bindparam("name", type_=sa.String),
        sa.bindparam("codec", type_=sa.String),
        sa.bindparam("size", type_=sa.BigInteger),
        sa.bindparam("inline_data", type_=sa.LargeBinary),
        sa.bindparam("blob_key", type_=sa.String),
        sa.bindparam("checksum", type_=sa.String),
        sa.bindparam("created_at", type_=sa.DateTime(timezone=True)),
    ).where(steps.c.run_id == sa.bindparam("run_id"), steps.c.name == sa.bindparam("step_name")),
).returning(outputs.c.id)


def insert_output(conn: Connection, run_id: str, step_name: str, name: str, stored: StoredValue) -> bool:
    """Record a saved value of the step's current attempt (earlier saves of the name stay as history).

    Returns False when the run has no such step. One statement: the attempt is read in the insert.
    """
    result = conn.execute(
        _INSERT_FOR_STEP,
        {"run_id": run_id, "step_name": step_name, "name": name, "created_at": utcnow(), **stored.columns()},
    )
    return result.first() is not None


def find_output(conn: Connection, run_id: str, name: str, candidates: Sequence[tuple[str, int]]) -> Row | None:
    """The newest row of ``name`` in the first of ``candidates`` (step, attempt) that has one."""
    if not candidates:
        return None
    wanted = dict(candidates)
    rows = conn.execute(
        sa.select(outputs.c.id, outputs.c.step_name, outputs.c.attempt)
        .where(outputs.c.run_id == run_id, outputs.c.name == name, outputs.c.step_name.in_(list(wanted)))
        .order_by(outputs.c.id.desc())
    ).all()
    best: dict[str, int] = {}
    for row in rows:
        if wanted.get(row.step_name) == row.attempt and row.step_name not in best:
            best[row.step_name] = row.id
    for step_name, _attempt in candidates:
        if step_name in best:
            return conn.execute(sa.select(outputs).where(outputs.c.id == best[step_name])).first()
    return None


def output_names(conn: Connection, run_id: str, candidates: Sequence[tuple[str, int]]) -> list[str]:
    """Sorted names saved by any of ``candidates`` (step, attempt)."""
    if not candidates:
        return []
    cond = sa.or_(*[sa.and_(outputs.c.step_name == s, outputs.c.attempt == a) for s, a in candidates])
    rows = conn.execute(sa.select(outputs.c.name).where(outputs.c.run_id == run_id, cond).distinct())
    return sorted(r[0] for r in rows)


def referenced_blob_keys(conn: Connection) -> set[str]:
    """Every blob key a row refers to (outputs, uploads, assets)."""
    keys: set[str] = set()
    for table in (outputs, uploads, assets):
        keys.update(
            r[0] for r in conn.execute(sa.select(table.c.blob_key).where(table.c.blob_key.is_not(None)).distinct())
        )
    return keys
