"""What triggers look at outside flowdeck's own tables: rows of a SQL query, objects in a bucket."""

from __future__ import annotations

import contextlib
import fnmatch
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flowdeck.errors import ValidationError

__all__ = ["list_objects", "object_content_type", "query_rows"]


def query_rows(engine: Engine, sql: str, limit: int = 100_000, timeout: float | None = None) -> list[tuple[Any, ...]]:
    """The rows of a read-only query (at most ``limit``), in a transaction that is rolled back.

    ``timeout`` (seconds) stops the query on the server where the database can: PostgreSQL
    (``statement_timeout``), MariaDB (``max_statement_time``), MySQL (``max_execution_time``) and
    SQLite (a progress handler); a query stopped so is a ValidationError saying so.
    """
    started = time.monotonic()
    with engine.connect() as conn:
        try:
            with _time_limit(conn, timeout):
                result = conn.execute(sa.text(sql))
                return [tuple(row) for row in result.fetchmany(limit)]
        except sa.exc.DBAPIError as exc:
            if timeout is not None and time.monotonic() - started >= timeout * 0.9:
                raise ValidationError(
                    f"the trigger's query was stopped after its query_timeout of {timeout:g} s; "
                    "make it cheaper or give a longer query_timeout"
                ) from exc
            raise
        finally:
            conn.rollback()


@contextlib.contextmanager
def _time_limit(conn: Connection, seconds: float | None) -> Iterator[None]:
    """Bound the statements run on ``conn`` inside to ``seconds`` each, where the database allows it."""
    if seconds is None:
        yield
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(
            f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}"
        )  # ends with the transaction
        yield
    elif dialect in ("mysql", "mariadb"):
        setting = (
            f"max_statement_time = {seconds:.3f}"
            if getattr(conn.dialect, "is_mariadb", False)
            else f"max_execution_time = {max(1, int(seconds * 1000))}"
        )
        name = setting.split(" ", 1)[0]
        conn.exec_driver_sql(f"SET SESSION {setting}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SET SESSION {name} = DEFAULT")  # the connection goes back to the pool
    elif dialect == "sqlite":
        driver = conn.connection.driver_connection
        deadline = time.monotonic() + seconds
        driver.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        finally:
            driver.set_progress_handler(None, 0)
    else:
        yield  # a stored connection's read timeout bounds the others


def object_content_type(client: Any, bucket: str, key: str) -> str | None:
    """The MIME type stored with object ``key`` of ``bucket`` (None if it has none or is gone)."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head.get("ContentType")


def list_objects(client: Any, bucket: str, prefix: str = "", pattern: str | None = None) -> list[tuple[str, str, int]]:
    """``(key, etag, size)`` of every object under ``prefix`` whose key matches the glob ``pattern``."""
    found: list[tuple[str, str, int]] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if pattern and not fnmatch.fnmatch(key, pattern):
                continue
            found.append((key, str(item.get("ETag", "")).strip('"'), int(item.get("Size", 0))))
    return found
