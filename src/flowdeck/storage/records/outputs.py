"""Step outputs: every saved value of every step attempt, newest last."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import assets, outputs, steps, uploads
from flowdeck.storage.values import StoredValue

__all__ = [
    "OUTPUT_COLUMNS",
    "OUTPUT_OF_STEP",
    "OutputRow",
    "blob_is_referenced",
    "delete_outputs_after",
    "find_output",
    "insert_output",
    "last_output_id",
    "output_names",
    "referenced_blob_keys",
]


# Built once: saving is on the hot path, and constructing a statement costs more than running it.
_INSERT_FOR_STEP = (
    sa.insert(outputs)
    .from_select(
        [
            "run_id",
            "step_name",
            "attempt",
            "name",
            "codec",
            "size",
            "inline_data",
            "blob_key",
            "checksum",
            "created_at",
        ],
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
        ).where(
            steps.c.run_id == sa.bindparam("run_id"),
            steps.c.name == sa.bindparam("step_name"),
            steps.c.state != "pending",
        ),
    )
    .returning(outputs.c.id)
)


def insert_output(conn: Connection, run_id: str, step_name: str, name: str, stored: StoredValue) -> bool:
    """Record a saved value of the step's current attempt (earlier saves of the name stay as history).

    Returns False when the run has no such step, or the step has not run yet (its first attempt's
    outputs are what that attempt saves). One statement: the attempt is read in the insert.
    """
    result = conn.execute(
        _INSERT_FOR_STEP,
        {"run_id": run_id, "step_name": step_name, "name": name, "created_at": utcnow(), **stored.columns()},
    )
    return result.first() is not None


class OutputRow(NamedTuple):
    """An ``outputs`` row read beside its step's row (columns named ``output__<column>``)."""

    id: int
    run_id: str
    step_name: str
    attempt: int
    name: str
    codec: str
    size: int
    inline_data: bytes | None
    blob_key: str | None
    checksum: str | None
    created_at: Any

    @classmethod
    def from_step_row(cls, row: Any) -> OutputRow | None:
        """The output a step row carries (see :data:`OUTPUT_OF_STEP`); None when it has none."""
        if row.output__id is None:
            return None
        get = row._mapping.get
        return cls(*(get(key) for key in _OUTPUT_KEYS))


_OUTPUT_KEYS = [f"output__{name}" for name in OutputRow._fields]
_NEWEST = outputs.alias("newest")
#: Joined to a ``steps`` row (``LEFT OUTER JOIN outputs ON ...``): the newest row of the output named
#: by the parameter ``b_output`` saved by the step's current attempt (the first, before it ran).
OUTPUT_OF_STEP = sa.and_(
    # Implied by the id, and said so that the join visibly links the two tables (SQLAlchemy's
    # FROM linter does not look into the subquery and would warn of a cartesian product).
    outputs.c.run_id == steps.c.run_id,
    outputs.c.step_name == steps.c.name,
    outputs.c.id
    == (
        sa.select(sa.func.max(_NEWEST.c.id))
        .where(
            _NEWEST.c.run_id == steps.c.run_id,
            _NEWEST.c.name == sa.bindparam("b_output", type_=sa.String),
            _NEWEST.c.step_name == steps.c.name,
            _NEWEST.c.attempt == sa.case((steps.c.attempt < 1, 1), else_=steps.c.attempt),
        )
        .scalar_subquery()
    ),
)
#: The columns of :data:`OUTPUT_OF_STEP`'s row, named as :meth:`OutputRow.from_step_row` reads them.
OUTPUT_COLUMNS = [outputs.c[name].label(f"output__{name}") for name in OutputRow._fields]


_FIND_OUTPUT: dict[int, sa.Select] = {}


def _find_output_statement(count: int) -> sa.Select:
    """The newest row of a name among ``count`` (step, attempt) candidates, nearest candidate first.

    Built once per number of candidates (parameters ``b_s<i>``/``b_a<i>``), so that the lookup is
    one query whose construction is not paid on every read.
    """
    statement = _FIND_OUTPUT.get(count)
    if statement is None:
        steps_ = [sa.bindparam(f"b_s{i}", type_=sa.String) for i in range(count)]
        attempts = [sa.bindparam(f"b_a{i}", type_=sa.Integer) for i in range(count)]
        which = sa.or_(
            *[sa.and_(outputs.c.step_name == s, outputs.c.attempt == a) for s, a in zip(steps_, attempts, strict=True)]
        )
        rank = sa.case(
            *[(outputs.c.step_name == s, sa.literal_column(str(i))) for i, s in enumerate(steps_)],
            else_=sa.literal_column(str(count)),
        )
        statement = (
            sa.select(outputs)
            .where(outputs.c.run_id == sa.bindparam("b_run_id"), outputs.c.name == sa.bindparam("b_name"), which)
            .order_by(rank, outputs.c.id.desc())
            .limit(1)
        )
        _FIND_OUTPUT[count] = statement
    return statement


def find_output(conn: Connection, run_id: str, name: str, candidates: Sequence[tuple[str, int]]) -> Row | None:
    """The newest row of ``name`` in the first of ``candidates`` (step, attempt) that has one (one query)."""
    if not candidates:
        return None
    params: dict = {"b_run_id": run_id, "b_name": name}
    for i, (step_name, attempt) in enumerate(candidates):
        params[f"b_s{i}"] = step_name
        params[f"b_a{i}"] = attempt
    return conn.execute(_find_output_statement(len(candidates)), params).first()


def output_names(conn: Connection, run_id: str, candidates: Sequence[tuple[str, int]]) -> list[str]:
    """Sorted names saved by any of ``candidates`` (step, attempt)."""
    if not candidates:
        return []
    cond = sa.or_(*[sa.and_(outputs.c.step_name == s, outputs.c.attempt == a) for s, a in candidates])
    rows = conn.execute(sa.select(outputs.c.name).where(outputs.c.run_id == run_id, cond).distinct())
    return sorted(r[0] for r in rows)


def last_output_id(conn: Connection, run_id: str) -> int:
    """The id of the newest output row of a run (0 when it has none)."""
    return int(conn.execute(sa.select(sa.func.max(outputs.c.id)).where(outputs.c.run_id == run_id)).scalar() or 0)


def delete_outputs_after(conn: Connection, run_id: str, output_id: int) -> int:
    """Drop the output rows of a run newer than ``output_id`` (undoing a failed callback); how many."""
    return int(conn.execute(sa.delete(outputs).where(outputs.c.run_id == run_id, outputs.c.id > output_id)).rowcount)


def blob_is_referenced(conn: Connection, key: str) -> bool:
    """Whether any output, upload or asset row refers to blob ``key`` now."""
    for table in (outputs, uploads, assets):
        if conn.execute(sa.select(table.c.blob_key).where(table.c.blob_key == key).limit(1)).first() is not None:
            return True
    return False


def referenced_blob_keys(conn: Connection) -> set[str]:
    """Every blob key a row refers to (outputs, uploads, assets)."""
    keys: set[str] = set()
    for table in (outputs, uploads, assets):
        keys.update(
            r[0] for r in conn.execute(sa.select(table.c.blob_key).where(table.c.blob_key.is_not(None)).distinct())
        )
    return keys
