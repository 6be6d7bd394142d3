"""Asset lineages, their versions and who they are shared with.

A lineage is (owner, label, asset_type, name); each saved version is one ``assets`` row. Searches
select catalogue columns only (never ``inline_data``), so listing reads no object bytes, and apply
the visibility rule (owner, shared with the user or one of their groups, or everyone for admins) in
the SQL itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.records._util import insert_ignoring_duplicate, utcnow
from flowdeck.storage.schema import asset_lineages, asset_shares, assets
from flowdeck.storage.values import StoredValue

__all__ = [
    "CATALOGUE_COLUMNS",
    "Viewer",
    "delete_lineage",
    "delete_version",
    "ensure_lineage",
    "find_lineage",
    "get_version",
    "insert_lineages",
    "insert_version",
    "insert_versions",
    "is_shared_with",
    "lineage_shares",
    "lineage_versions",
    "lock_lineage",
    "newest_version_id",
    "next_version",
    "object_data",
    "search",
    "share_lineage",
    "unshare_lineage",
    "update_version",
]

# What a listing reads: everything but the object bytes.
CATALOGUE_COLUMNS = (
    assets.c.id,
    assets.c.lineage_id,
    assets.c.version,
    assets.c.asset_class,
    assets.c.description,
    assets.c.metadata_json,
    assets.c.codec,
    assets.c.size,
    assets.c.blob_key,
    assets.c.checksum,
    assets.c.flow_id,
    assets.c.step_name,
    assets.c.created_by,
    assets.c.time_created,
    assets.c.time_updated,
    asset_lineages.c.owner,
    asset_lineages.c.label,
    asset_lineages.c.asset_type,
    asset_lineages.c.name,
)

_JOINED = assets.join(asset_lineages, assets.c.lineage_id == asset_lineages.c.id)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a user, their groups, and whether they see everything (admins)."""

    user: str
    groups: tuple[str, ...] = ()
    everyone: bool = False


def _visible_to(viewer: Viewer) -> sa.ColumnElement[bool]:
    """The lineages ``viewer`` may see, as a WHERE clause on the joined tables."""
    if viewer.everyone:
        return sa.true()
    shared = sa.and_(asset_shares.c.principal_kind == "user", asset_shares.c.principal == viewer.user)
    if viewer.groups:
        shared = sa.or_(
            shared,
            sa.and_(asset_shares.c.principal_kind == "group", asset_shares.c.principal.in_(list(viewer.groups))),
        )
    shared_with = sa.exists().where(asset_shares.c.lineage_id == asset_lineages.c.id, shared)
    return sa.or_(asset_lineages.c.owner == viewer.user, shared_with)


def search(
    conn: Connection,
    viewer: Viewer,
    *,
    label: str | None = None,
    asset_type: str | None = None,
    name: str | None = None,
    asset_id: str | None = None,
    created_from: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    limit: int | None = None,
) -> list[Row]:
    """Catalogue rows of the versions ``viewer`` may see that match every criterion given, newest first.

    ``name=""`` matches versions without a name; ``created_from``/``created_before`` bound
    ``time_created`` (inclusive/exclusive).
    """
    query = sa.select(*CATALOGUE_COLUMNS).select_from(_JOINED).where(_visible_to(viewer))
    if label is not None:
        query = query.where(asset_lineages.c.label == label)
    if asset_type is not None:
        query = query.where(asset_lineages.c.asset_type == asset_type)
    if name is not None:
        query = query.where(asset_lineages.c.name == name)
    if asset_id is not None:
        query = query.where(assets.c.id == asset_id)
    if created_from is not None:
        query = query.where(assets.c.time_created >= created_from)
    if created_before is not None:
        query = query.where(assets.c.time_created < created_before)
    query = query.order_by(assets.c.time_created.desc(), assets.c.version.desc(), assets.c.id)
    if limit is not None:
        query = query.limit(limit)
    return conn.execute(query).all()


def get_version(conn: Connection, asset_id: str) -> Row | None:
    """The catalogue row of one version (whoever may see it), or None."""
    return conn.execute(sa.select(*CATALOGUE_COLUMNS).select_from(_JOINED).where(assets.c.id == asset_id)).first()


def object_data(conn: Connection, asset_id: str) -> Row | None:
    """The columns that load a version's object (codec, size, inline_data, blob_key, checksum), or None."""
    return conn.execute(
        sa.select(assets.c.codec, assets.c.size, assets.c.inline_data, assets.c.blob_key, assets.c.checksum)
        .where(assets.c.id == asset_id)
    ).first()


def lineage_versions(conn: Connection, lineage_id: str) -> list[Row]:
    """Catalogue rows of every version of a lineage, newest first."""
    return conn.execute(
        sa.select(*CATALOGUE_COLUMNS).select_from(_JOINED)
        .where(assets.c.lineage_id == lineage_id)
        .order_by(assets.c.version.desc())
    ).all()


def is_shared_with(conn: Connection, lineage_id: str, viewer: Viewer) -> bool:
    """Whether the lineage is visible to ``viewer`` (owner, shared, or admin)."""
    row = conn.execute(
        sa.select(asset_lineages.c.id).where(asset_lineages.c.id == lineage_id, _visible_to(viewer))
    ).first()
    return row is not None


def ensure_lineage(conn: Connection, lineage_id: str, owner: str, label: str, asset_type: str, name: str) -> str:
    """The id of the (owner, label, asset_type, name) lineage, created with ``lineage_id`` if new."""
    key = sa.and_(
        asset_lineages.c.owner == owner,
        asset_lineages.c.label == label,
        asset_lineages.c.asset_type == asset_type,
        asset_lineages.c.name == name,
    )
    existing = conn.execute(sa.select(asset_lineages.c.id).where(key)).scalar()
    if existing is not None:
        return existing
    insert_ignoring_duplicate(
        conn,
        asset_lineages,
        {"id": lineage_id, "owner": owner, "label": label, "asset_type": asset_type, "name": name,
         "created_at": utcnow()},
    )
    # Another writer may have created it between the two statements: read whichever row won.
    return conn.execute(sa.select(asset_lineages.c.id).where(key)).scalar_one()


def find_lineage(conn: Connection, owner: str, label: str, asset_type: str, name: str) -> str | None:
    """The id of the (owner, label, asset_type, name) lineage, or None."""
    return conn.execute(
        sa.select(asset_lineages.c.id).where(
            asset_lineages.c.owner == owner,
            asset_lineages.c.label == label,
            asset_lineages.c.asset_type == asset_type,
            asset_lineages.c.name == name,
        )
    ).scalar()


def lock_lineage(conn: Connection, lineage_id: str) -> None:
    """Hold the lineage row until the transaction ends, so concurrent saves number versions in turn."""
    if conn.dialect.name == "sqlite":  # BEGIN IMMEDIATE already serialises writers
        return
    conn.execute(sa.select(asset_lineages.c.id).where(asset_lineages.c.id == lineage_id).with_for_update())


def next_version(conn: Connection, lineage_id: str) -> int:
    """The number the next version of a lineage gets (1 for the first)."""
    newest = conn.execute(
        sa.select(sa.func.max(assets.c.version)).where(assets.c.lineage_id == lineage_id)
    ).scalar()
    return int(newest or 0) + 1


def newest_version_id(conn: Connection, lineage_id: str) -> str | None:
    """The id of the lineage's newest version, or None."""
    return conn.execute(
        sa.select(assets.c.id).where(assets.c.lineage_id == lineage_id).order_by(assets.c.version.desc()).limit(1)
    ).scalar()


def insert_version(
    conn: Connection,
    asset_id: str,
    lineage_id: str,
    version: int,
    *,
    asset_class: str,
    description: str | None,
    metadata_json: str,
    stored: StoredValue,
    flow_id: str | None,
    step_name: str | None,
    created_by: str,
    now: dt.datetime,
) -> None:
    """Record a new version of a lineage."""
    conn.execute(
        sa.insert(assets).values(
            id=asset_id, lineage_id=lineage_id, version=version, asset_class=asset_class,
            description=description, metadata_json=metadata_json, flow_id=flow_id, step_name=step_name,
            created_by=created_by, time_created=now, time_updated=now, **stored.columns(),
        )
    )


def update_version(
    conn: Connection,
    asset_id: str,
    *,
    asset_class: str,
    description: str | None,
    metadata_json: str,
    stored: StoredValue,
    flow_id: str | None,
    step_name: str | None,
    created_by: str,
    now: dt.datetime,
) -> None:
    """Replace a version's content in place (its id, number and ``time_created`` stay)."""
    conn.execute(
        sa.update(assets).where(assets.c.id == asset_id).values(
            asset_class=asset_class, description=description, metadata_json=metadata_json, flow_id=flow_id,
            step_name=step_name, created_by=created_by, time_updated=now, **stored.columns(),
        )
    )


def delete_version(conn: Connection, asset_id: str) -> None:
    """Remove one version (its blob stays until ``flowdeck gc`` finds nothing refers to it)."""
    conn.execute(sa.delete(assets).where(assets.c.id == asset_id))


def delete_lineage(conn: Connection, lineage_id: str) -> None:
    """Remove a lineage with its versions and shares."""
    conn.execute(sa.delete(asset_shares).where(asset_shares.c.lineage_id == lineage_id))
    conn.execute(sa.delete(assets).where(assets.c.lineage_id == lineage_id))
    conn.execute(sa.delete(asset_lineages).where(asset_lineages.c.id == lineage_id))


def share_lineage(conn: Connection, lineage_id: str, kind: str, principal: str) -> None:
    """Share every version of a lineage with a user or group (kind ``user`` or ``group``)."""
    insert_ignoring_duplicate(
        conn, asset_shares, {"lineage_id": lineage_id, "principal_kind": kind, "principal": principal}
    )


def unshare_lineage(conn: Connection, lineage_id: str, kind: str, principal: str) -> None:
    """Stop sharing a lineage with a user or group."""
    conn.execute(
        sa.delete(asset_shares).where(
            asset_shares.c.lineage_id == lineage_id,
            asset_shares.c.principal_kind == kind,
            asset_shares.c.principal == principal,
        )
    )


def lineage_shares(conn: Connection, lineage_id: str) -> list[tuple[str, str]]:
    """(kind, principal) pairs a lineage is shared with, sorted."""
    rows = conn.execute(
        sa.select(asset_shares.c.principal_kind, asset_shares.c.principal)
        .where(asset_shares.c.lineage_id == lineage_id)
        .order_by(asset_shares.c.principal_kind, asset_shares.c.principal)
    )
    return [(r[0], r[1]) for r in rows]


def insert_lineages(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many lineage rows at once (bulk loading, e.g. for benchmarks and imports)."""
    if rows:
        conn.execute(sa.insert(asset_lineages), list(rows))


def insert_versions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many version rows at once (bulk loading, e.g. for benchmarks and imports)."""
    if rows:
        conn.execute(sa.insert(assets), list(rows))
