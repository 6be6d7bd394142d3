"""Who owns the datastore asset of a table name (table names are shared by every user)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowdeck.storage.schema import asset_lineages

__all__ = ["datastore_owners"]


def datastore_owners(conn: Connection, table_name: str) -> list[str]:
    """The owners of datastore lineages labelled ``table_name``."""
    rows = conn.execute(
        sa.select(asset_lineages.c.owner).where(
            asset_lineages.c.label == table_name, asset_lineages.c.asset_type == "datastore"
        )
    )
    return [row.owner for row in rows]
