"""Live notices of a run besides step progress: a callback changed the page, a comment was written.

Notices are rows in the database, so every server process's event poller sees them and sends them
on the run's event stream (``callback`` and ``comment`` events). They are kept
:data:`KEEP_SECONDS`: a stream follows only what happens while it is open, and a browser that
reconnects reads the page again.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection

from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import notices as notice_records
from flowdeck.storage.records._util import utcnow

__all__ = [
    "KEEP_SECONDS",
    "Notice",
    "NoticeKind",
    "callback_data",
    "last_notice_id",
    "publish",
    "publish_callback",
    "record",
]

#: How long a notice is kept after it was published.
KEEP_SECONDS = 600.0
#: Old notices are deleted once every this many notices (ids), not on every publish.
_PRUNE_EVERY = 64

NoticeKind = Literal["callback", "comment"]
#: Parts of a callback's outcome meant only for whoever fired it.
_PRIVATE = ("drilldown", "download")


@dataclass(frozen=True)
class Notice:
    """One notice of a run: its id (growing with time), kind and JSON data."""

    id: int
    run_id: str
    kind: str
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> Notice:
        """The notice of a ``run_notices`` row."""
        return cls(int(row.id), row.run_id, row.kind, json.loads(row.payload))


def record(conn: Connection, run_id: str, kind: NoticeKind, data: dict[str, Any]) -> int:
    """Record a notice inside the caller's write transaction; returns its id."""
    notice_id = notice_records.insert_notice(conn, run_id, kind, json.dumps(data, separators=(",", ":")))
    if notice_id % _PRUNE_EVERY == 0:
        notice_records.prune_notices(conn, None, utcnow() - dt.timedelta(seconds=KEEP_SECONDS))
    return notice_id


def publish(run_id: str, kind: NoticeKind, data: dict[str, Any]) -> int:
    """Record a notice of ``run_id`` in its own transaction; returns its id."""
    with get_storage().db.write() as conn:
        return record(conn, run_id, kind, data)


def callback_data(outcome: dict[str, Any], by: str) -> dict[str, Any]:
    """What other followers of a run see of a callback's outcome: all but its private parts, plus ``by``."""
    shared = {key: value for key, value in outcome.items() if key not in _PRIVATE}
    shared["by"] = by
    return shared


def publish_callback(run_id: str, outcome: dict[str, Any], by: str) -> int:
    """Publish the ``callback`` notice of an outcome (its JSON) fired by user ``by``."""
    return publish(run_id, "callback", callback_data(outcome, by))


def last_notice_id(run_id: str) -> int:
    """The id of the run's newest notice (0 when none): a new stream follows the ones after it."""
    with get_storage().db.read() as conn:
        return notice_records.last_notice_id(conn, run_id)
