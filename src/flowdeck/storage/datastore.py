"""The tables of datastore assets: bulk writes, index creation and queries run in the database.

Tables live in the deployment's own database unless ``FLOWDECK_DATASTORE_URL`` names another.
Writes go through :func:`flowdeck.storage.external_sql.write_frame` (COPY on PostgreSQL, one
transaction that swaps the new table in, so readers see the old rows or the new ones, never an
empty table). Queries are SQLAlchemy ``Select`` statements confined to the asset's own table.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import ColumnClause, Extract, TextClause, quoted_name

from flowdeck.config import get_settings
from flowdeck.errors import AccessError, ValidationError
from flowdeck.storage import external_sql
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.schema import metadata

__all__ = [
    "check_table_name",
    "datastore_engine",
    "run_select",
    "table_exists",
    "uses_own_database",
    "write_table",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Functions a datastore query may call: aggregates and pure value functions, nothing that reads files,
# settings or other relations of the server.
_FUNCTIONS = frozenset(
    {
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "abs",
        "round",
        "floor",
        "ceil",
        "ceiling",
        "lower",
        "upper",
        "length",
        "char_length",
        "substr",
        "substring",
        "trim",
        "coalesce",
        "nullif",
        "greatest",
        "least",
        "date_trunc",
        "extract",
        "cast",
        "stddev",
        "variance",
    }
)
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def datastore_engine() -> Engine:
    """The engine of the database that holds datastore tables."""
    url = get_settings().datastore_url
    if not url:
        return get_storage().db.engine
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(url, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def check_table_name(name: object) -> str:
    """``name`` if it is a plain SQL identifier that is not one of flowdeck's own tables."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"datastore asset name {name!r} is not a valid SQL table name: use letters, digits and '_', "
            "starting with a letter or '_', at most 63 characters"
        )
    lowered = name.lower()
    if lowered in {t.lower() for t in metadata.tables} or lowered == "alembic_version" or lowered.startswith("_fd_"):
        raise ValidationError(
            f"datastore asset name {name!r} is the name of one of flowdeck's own tables; choose another"
        )
    return name


def table_exists(engine: Engine, name: str) -> bool:
    """Whether table ``name`` exists in the datastore database."""
    with engine.connect() as conn:
        return sa.inspect(conn).has_table(name)


def write_table(
    engine: Engine,
    frame: pd.DataFrame,
    name: str,
    *,
    replace: bool,
    indexes: Sequence[Sequence[str] | str | Mapping[str, Any]] | None,
) -> int:
    """Write ``frame`` as table ``name`` (replacing it atomically when ``replace``); returns the row count.

    A unique index the rows break is a ``ValidationError``, and nothing is written.
    """
    try:
        return external_sql.write_frame(
            engine, frame, name, if_exists="overwrite" if replace else "fail", indexes=indexes
        )
    except sa.exc.IntegrityError as exc:
        unique = [cols for cols, is_unique in map(external_sql.index_columns, indexes or []) if is_unique]
        raise ValidationError(
            f"the rows for datastore table {name!r} break a unique index (on {unique}): {exc.orig}; nothing was written"
        ) from exc


#: Statement parts SQLAlchemy writes out as given: ``prefix_with``, ``suffix_with``, ``with_hint``,
#: ``with_statement_hint``.
_RAW_CLAUSES = ("_prefixes", "_suffixes", "_hints", "_statement_hints")
_WORD = re.compile(r"^[A-Za-z_]+$")


def _custom_type(type_: Any) -> bool:
    """Whether ``type_`` may write SQL of its own: a ``UserDefinedType`` (its ``get_col_spec`` goes into a
    CAST as it is), or a ``TypeDecorator`` that wraps one or adds ``bind_expression``/``column_expression``."""
    while isinstance(type_, sa.types.TypeDecorator):
        for method in ("bind_expression", "column_expression"):
            if getattr(type(type_), method) is not getattr(sa.types.TypeDecorator, method):
                return True
        type_ = getattr(type_, "impl_instance", None) or getattr(type_, "impl", None)
    variants = getattr(type_, "_variant_mapping", None) or {}
    return isinstance(type_, sa.types.UserDefinedType) or any(_custom_type(v) for v in variants.values())


def _raw_sql(element: Any) -> str | None:
    """What in ``element`` SQLAlchemy would write into the statement unchecked, if anything."""
    if isinstance(element, TextClause) or (
        isinstance(element, ColumnClause) and element.is_literal and element.name != "*"
    ):
        return "raw SQL text (text(), literal_column())"
    for name in ("operator", "modifier"):
        if isinstance(getattr(element, name, None), operators.custom_op):
            return "a custom operator (.op(), .bool_op())"
    if any(getattr(element, name, None) for name in _RAW_CLAUSES):
        return "prefix_with(), suffix_with() or a hint"
    for attribute in ("name", "collation"):
        name = getattr(element, attribute, None)
        if isinstance(name, quoted_name) and name.quote is False:
            return f"the unquoted name {str(name)[:100]!r} (quoted_name(..., quote=False))"
    if isinstance(element, Extract) and not _WORD.match(str(element.field)):
        return f"the extract() field {str(element.field)[:100]!r}"
    if isinstance(element, sa.sql.functions.Function) and element.packagenames:
        return f"a function of a schema or package ({'.'.join(element.packagenames)[:100]})"
    if _custom_type(getattr(element, "type", None)):
        return f"the custom type {type(element.type).__name__}"
    return None


def _confine(statement: sa.Select, table_name: str) -> None:
    """Refuse statements that read any table but ``table_name``, call unlisted functions or carry raw SQL.

    Raw SQL is anything SQLAlchemy writes out as it is given: ``text()``, literal columns, custom
    operators, prefixes, suffixes and hints, unquoted names, extract fields, and custom types.
    """
    for element in visitors.iterate(statement):
        raw = _raw_sql(element)
        if raw is not None:
            raise AccessError(
                f"datastore queries are built from the model's columns; {raw} is not allowed in select_ or where_"
            )
        if isinstance(element, sa.sql.functions.Function) and element.name.lower() not in _FUNCTIONS:
            raise AccessError(
                f"function {element.name!r} is not allowed in a datastore query; allowed: {sorted(_FUNCTIONS)}"
            )
        if isinstance(element, sa.TableClause) and (element.name != table_name or element.schema is not None):
            raise AccessError(
                f"this query reads table {str(element.fullname)!r}; a datastore query may read only its asset's table "
                f"{table_name!r}"
            )


def run_select(engine: Engine, statement: sa.Select, table_name: str) -> pd.DataFrame:
    """Run ``statement`` (confined to ``table_name``) in the datastore database; only its result is read."""
    if not isinstance(statement, sa.Select):
        raise ValidationError(
            f"select_ must be a SQLAlchemy Select (sqlalchemy.select(...)), got {type(statement).__name__}"
        )
    _confine(statement, table_name)
    with engine.connect() as conn:
        result = conn.execute(statement)
        keys = list(result.keys())
        hints = external_sql._description_hints(engine, result)
        rows: Any = result.fetchall()
    return external_sql._rows_to_frame(keys, rows, hints, {})


def uses_own_database() -> bool:
    """Whether datastore tables live in a database of their own (``FLOWDECK_DATASTORE_URL``)."""
    return bool(get_settings().datastore_url)
