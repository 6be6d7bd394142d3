"""Housekeeping: removing blobs that no row refers to."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flowdeck.storage.deployment import Storage, get_storage
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
    whether any row refers to it now. Where the blob backend can (local files, S3), gc first moves
    each candidate out of reach: a save of the same bytes from then on stores them anew, and one that reused the
    blob before shows in its time or its row, so no save can slip between the last check and the
    delete. A blob a gc that stopped half-way left aside is put back first.
    """
    storage = get_storage()
    if not dry_run:
        storage.blobs.put_back_all()
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
        if dry_run or not storage.blobs.can_set_aside:
            outcome = _check_then_delete(storage, key, cutoff, dry_run)
        else:
            outcome = _set_aside_then_delete(storage, key, cutoff)
        removed += outcome == "removed"
        recent += outcome == "recent"
    partial = 0 if dry_run else storage.blobs.remove_stale_temp(older_than=grace_seconds)
    return GcReport(examined, removed, recent, partial)


def _still_orphan(storage: Storage, key: str) -> bool:
    with storage.db.read() as conn:
        return not output_records.blob_is_referenced(conn, key)


def _check_then_delete(storage: Storage, key: str, cutoff: float, dry_run: bool) -> str:
    """Ask when blob ``key`` was last used and whether a row refers to it, then delete it if neither.

    A save that reuses the blob between the last question and the delete is not seen: the narrow
    window of a backend that cannot set a blob aside (gc uses this on such backends and in dry runs).
    """
    used = storage.blobs.last_used(key)
    if used is None:
        return "gone"  # another gc
    if used > cutoff:
        return "recent"
    if not _still_orphan(storage, key):
        return "referenced"
    if not dry_run:
        storage.blobs.delete(key)
    return "removed"


def _set_aside_then_delete(storage: Storage, key: str, cutoff: float) -> str:
    """Set blob ``key`` aside, then delete it unless it was used lately or a row refers to it now."""
    used = storage.blobs.set_aside(key)
    if used is None:
        return "gone"
    discarded = False
    try:
        if used > cutoff:
            return "recent"
        if not _still_orphan(storage, key):
            return "referenced"
        storage.blobs.discard_set_aside(key)
        discarded = True
        return "removed"
    finally:
        if not discarded:
            storage.blobs.put_back(key)
