"""What triggers look at outside flowdeck's own tables: rows of a SQL query, objects in a bucket."""

from __future__ import annotations

import fnmatch
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["list_objects", "query_rows"]


def query_rows(engine: Engine, sql: str, limit: int = 100_000) -> list[tuple[Any, ...]]:
    """The rows of a read-only query (at most ``limit``), in a transaction that is rolled back."""
    with engine.connect() as conn:
        try:
            result = conn.execute(sa.text(sql))
            return [tuple(row) for row in result.fetchmany(limit)]
        finally:
            conn.rollback()


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
