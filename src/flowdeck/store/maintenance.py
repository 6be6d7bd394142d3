"""Housekeeping: removing blobs that no row refers to."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import outputs as output_records

__all__ = ["GcReport", "collect_garbage"]


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection looked at and removed."""

    examined: int
    removed: int
    kept_recent: int
    partial_writes_removed: int = 0


def collect_garbage(grace_seconds: float = 3600.0, dry_run: bool = False) -> GcReport:
    """Delete blobs no output, upload or asset refers to, and partial writes of crashed writers.

    Blobs and partial writes younger than ``grace_seconds`` are kept: a writer stores its blob
    before it commits the row that refers to it, and that row may not be committed yet. A save whose
    bytes are stored already (deduplicated) touches the blob instead, so it counts as young too.

    What gc read first can be stale by the time it deletes (a save may just have reused an old
    orphan's bytes), so right before each delete it asks again: when the blob was last used, and
    whether any row refers to it now.
    """
    storage = get_storage()
    with storage.db.read() as conn:
        referenced = output_records.referenced_blob_keys(conn)
    cutoff = time.time() - grace_seconds
    examined = removed = recent = 0
    for key, mtime in list(storage.blobs.iter_keys()):
        examined += 1
        if key in referenced:
            continue
        if mtime > cutoff:
            recent += 1
            continue
        used = storage.blobs.last_used(key)
        if used is None:
            continue  # gone already (another gc)
        if used > cutoff:
            recent += 1
            continue
        with storage.db.read() as conn:
            if output_records.blob_is_referenced(conn, key):
                continue
        if not dry_run:
            storage.blobs.delete(key)
        removed += 1
    partial = 0 if dry_run else storage.blobs.remove_stale_temp(older_than=grace_seconds)
    return GcReport(examined, removed, recent, partial)
