"""Step outputs: every saved value of every step attempt, newest last."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import assets, outputs, uploads
from flowdeck.storage.values import StoredValue

__all__ = ["find_output", "insert_output", "output_names", "referenced_blob_keys"]


def insert_output(conn: Connection, run_id: str, step_name: str, attempt: int, name: str, stored: StoredValue) -> None:
    """Record a saved value of one step attempt (an earlier save of the name stays as history)."""
    conn.execute(
        sa.insert(outputs).values(
            run_id=run_id,
            step_name=step_name,
            attempt=attempt,
            name=name,
            created_at=utcnow(),
            **stored.columns(),
        )
    )


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
