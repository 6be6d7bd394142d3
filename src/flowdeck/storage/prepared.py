"""Statements that run on every step, prepared once and run straight on SQLite's driver.

SQLAlchemy Core builds an execution context, processes parameters and dispatches events for every
statement it runs. For the handful of statements a step's lifecycle runs several times each, that
work costs more than SQLite takes to run them. :func:`execute` compiles such a statement once per
set of parameter names (with SQLAlchemy, so the SQL is exactly what Core would send), keeps the
SQL text, the order of its parameters and the type conversions of its parameters and result
columns, and from then on hands the SQL to the ``sqlite3`` connection of the SQLAlchemy connection
it is given, inside that connection's transaction.

On every other database, whenever a statement listener is attached to the engine (so that
whatever watches the statements sees them all), and on a connection whose transaction SQLAlchemy
has yet to begin, the statement goes through ``conn.execute``. A driver error comes out as the
same SQLAlchemy exception either way.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

__all__ = ["PreparedResult", "ResultRow", "execute", "execute_many"]

#: A row :func:`execute` returns: SQLAlchemy's ``Row``, or the prepared path's named tuple; either
#: gives its values by position, by attribute and through ``_mapping``.
ResultRow = Any

# Distinct (statement, parameter names) pairs are few; this bounds the memo should a caller vary them.
_MAX_PLANS = 512


class PreparedResult:
    """The result of :func:`execute`: the parts of SQLAlchemy's ``Result`` the records use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        #: Rows an UPDATE or DELETE changed (as the driver reports it).
        self.rowcount = rowcount

    def all(self) -> list[Any]:
        """Every row (each with attribute access and ``_mapping``, as SQLAlchemy's rows)."""
        return self._rows

    def first(self) -> Any:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self._rows[0][0] if self._rows else None


class _Plan:
    """One statement compiled for one set of parameter names: SQL, parameter order, conversions."""

    def __init__(self, statement: Executable, names: Sequence[str], dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        order = compiled.positiontup
        if (
            order is None
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.effective_returning
            or compiled.insert_prefetch
            or compiled.update_prefetch
        ):
            raise _Unsupported
        self.statement = statement  # kept so that its id, part of the memo key, is not reused
        self.sql = compiled.string
        # Each positional parameter: the key of ``params`` it comes from (or None and the value the
        # statement itself holds: a literal SQLAlchemy made a parameter of), and its conversion.
        self.sources: list[tuple[str | None, Any, Callable[[Any], Any] | None]] = []
        for name in order:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.key in names:
                self.sources.append((bind.key, None, process))
            elif bind.required or bind.callable is not None:
                raise _Unsupported  # SQLAlchemy says what is missing, or computes the value
            else:
                self.sources.append((None, bind.effective_value, process))
        self.row_type: Any = None
        self.result_processors: list[Callable[[Any], Any] | None] = []
        selected = getattr(statement, "selected_columns", None)
        if selected is not None:
            keys = [column.key for column in selected]
            if len(set(keys)) != len(keys) or not all(k.isidentifier() and not k.startswith("_") for k in keys):
                raise _Unsupported
            self.row_type = _row_type(tuple(keys))
            self.result_processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in selected
            ]

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's positional parameters for ``params``."""
        out = []
        for key, fixed, process in self.sources:
            value = fixed if key is None else params[key]
            out.append(value if process is None else process(value))
        return out

    def rows(self, cursor: sqlite3.Cursor) -> list[Any]:
        """The cursor's rows with the result columns' conversions applied."""
        make, processors = self.row_type._make, self.result_processors
        fetched = cursor.fetchall()
        if not any(processors):
            return [make(row) for row in fetched]
        return [
            make([value if p is None else p(value) for p, value in zip(processors, row, strict=True)])
            for row in fetched
        ]


class _Unsupported(Exception):
    """The statement uses a feature the plan does not reproduce: it runs through SQLAlchemy."""


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def _row_type(keys: tuple[str, ...]) -> Any:
    """A named-tuple row class with SQLAlchemy's ``_mapping`` view, one per set of column keys."""
    found = _ROW_TYPES.get(keys)
    if found is None:
        base = namedtuple("PreparedRow", keys)  # type: ignore[misc]

        class PreparedRow(base):  # type: ignore[valid-type,misc]
            """A result row: values by position, by attribute and through ``_mapping``."""

            __slots__ = ()

            @property
            def _mapping(self) -> dict[str, Any]:
                return dict(zip(self._fields, self, strict=True))

        found = _ROW_TYPES[keys] = PreparedRow
    return found


# Plans by dialect (one per engine: they go with it), then by (statement, parameter names).
_plans: weakref.WeakKeyDictionary[Any, dict[tuple[int, tuple[str, ...]], _Plan | None]] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


def _plan(statement: Executable, names: tuple[str, ...], dialect: Any) -> _Plan | None:
    key = (id(statement), names)
    try:
        return _plans[dialect][key]
    except KeyError:
        pass
    try:
        plan: _Plan | None = _Plan(statement, names, dialect)
    except _Unsupported:
        plan = None
    with _plans_lock:
        plans = _plans.setdefault(dialect, {})
        if len(plans) < _MAX_PLANS:
            plans[key] = plan
    return plan


def _driver(conn: Connection) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection to run on, or None when the statement must go through SQLAlchemy.

    That is: on another database; when a listener wants to see the statements run on ``conn`` (its
    engine's or its own); and outside a transaction begun on the driver (a connection whose
    transaction SQLAlchemy has yet to begin would otherwise run the statement on its own, committed
    at once).
    """
    if conn.dialect.name != "sqlite":
        return None
    events = conn.dispatch
    if events.before_cursor_execute or events.after_cursor_execute:
        return None
    driver = conn.connection.driver_connection
    return driver if driver.in_transaction else None


def execute(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> Any:
    """Run ``statement`` with ``params`` in ``conn``'s transaction; returns a ``Result``-like object.

    On SQLite without statement listeners the prepared SQL runs on the driver connection
    (:class:`PreparedResult`); otherwise this is ``conn.execute(statement, params)``.
    """
    driver = _driver(conn)
    if driver is None:
        return conn.execute(statement, params)
    plan = _plan(statement, tuple(params), conn.dialect)
    if plan is None:
        return conn.execute(statement, params)
    parameters = plan.parameters(params)
    try:
        cursor = driver.execute(plan.sql, parameters)
        rows = plan.rows(cursor) if plan.row_type is not None else []
    except sqlite3.Error as exc:
        raise _as_sqlalchemy_error(exc, plan, parameters, conn) from exc
    return PreparedResult(rows, cursor.rowcount)


def execute_many(conn: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run an INSERT or UPDATE ``statement`` once per mapping of ``rows`` (all with the same keys).

    On SQLite without statement listeners this is one ``executemany`` on the driver; otherwise
    ``conn.execute(statement, rows)``.
    """
    if not rows:
        return
    driver = _driver(conn)
    plan = None if driver is None else _plan(statement, tuple(rows[0]), conn.dialect)
    if plan is None or plan.row_type is not None or any(tuple(r) != tuple(rows[0]) for r in rows):
        conn.execute(statement, list(rows))
        return
    parameters = [plan.parameters(r) for r in rows]
    try:
        driver.executemany(plan.sql, parameters)
    except sqlite3.Error as exc:
        raise _as_sqlalchemy_error(exc, plan, parameters, conn) from exc


def _as_sqlalchemy_error(exc: sqlite3.Error, plan: _Plan, parameters: Any, conn: Connection) -> Exception:
    """The ``sqlalchemy.exc`` error SQLAlchemy raises for this driver error (IntegrityError, ...)."""
    return sa.exc.DBAPIError.instance(plan.sql, parameters, exc, sqlite3.Error, dialect=conn.dialect)
