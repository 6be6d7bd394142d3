"""Rows whose stored bytes carry a signature under the deployment's key: signed pickles and skops files.

Used by key rotation to re-sign them under a new key.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.schema import assets, outputs
from flowdeck.storage.values import StoredValue

__all__ = ["TABLES", "replace_asset_metadata", "replace_value", "signed_rows"]

TABLES = {"outputs": outputs, "assets": assets}


def signed_rows(
    conn: Connection, table: str, codecs: tuple[str, ...], after: Any = None, limit: int = 200
) -> list[Row]:
    """Up to ``limit`` rows of ``table`` ("outputs" or "assets") stored with ``codecs``, by id, after ``after``.

    Key rotation walks them a batch at a time.
    """
    source = TABLES[table]
    columns: list[Any] = [
        source.c.id,
        source.c.codec,
        source.c.size,
        source.c.inline_data,
        source.c.blob_key,
        source.c.checksum,
    ]
    if table == "assets":
        columns.append(source.c.metadata_json)
    query = sa.select(*columns).where(source.c.codec.in_(codecs)).order_by(source.c.id).limit(limit)
    if after is not None:
        query = query.where(source.c.id > after)
    return list(conn.execute(query).all())


def replace_value(conn: Connection, table: str, row_id: Any, stored: StoredValue) -> None:
    """Point a row at newly stored bytes (codec, size, inline data or blob)."""
    source = TABLES[table]
    conn.execute(sa.update(source).where(source.c.id == row_id).values(**stored.columns()))


def replace_asset_metadata(conn: Connection, asset_id: str, metadata_json: str) -> None:
    """Replace an asset version's metadata document."""
    conn.execute(sa.update(assets).where(assets.c.id == asset_id).values(metadata_json=metadata_json))
