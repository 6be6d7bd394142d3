"""Live run events for server-sent event streams: one database poll per process, shared by every follower.

Followers of runs (browser tabs, scripts) do not query the database themselves. One poller per
event loop reads, every :data:`POLL_SECONDS`, the status, the new progress events and the new
notices (callbacks, comments: :mod:`flowdeck.store.notices`) of *all* runs followed in this
process, in one read transaction of four queries, and wakes the followers, which pick what is new
for them. The cost of live progress is one thread hop and four queries per tick for the whole
process, plus a few rows per run followed; it does not grow with the number of followers.

The status is read before the events in each poll, so once a poll sees a run idle, every event
its step recorded is in that poll's events too: a stream that closes when the run goes idle has
sent them all.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from dataclasses import dataclass, field

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from flowdeck.auth.users import Principal
from flowdeck.errors import ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import notices as notice_records
from flowdeck.storage.schema import progress_events, runs, steps
from flowdeck.store import lifecycle
from flowdeck.store.notices import Notice
from flowdeck.store.progress import ProgressEvent
from flowdeck.store.runs import RunView

__all__ = [
    "MAX_EVENT_ID",
    "POLL_SECONDS",
    "InvalidEventId",
    "RunSnapshot",
    "Subscription",
    "access_epoch",
    "last_event_ids",
    "parse_last_event_id",
    "revoked_access",
    "subscribe",
]

#: How often the poller reads the followed runs' status and new progress events.
POLL_SECONDS = 0.2
#: At most this many progress events are read in one poll (the rest come in the next polls).
POLL_LIMIT = 5000
#: At most this many notices are read in one poll (the rest come in the next polls).
NOTICE_LIMIT = 1000
#: The largest event id a client may resume after (every backend's 64-bit integers hold it).
MAX_EVENT_ID = 2**62

# Bumped whenever this process takes someone's access to a run away (an unshare), so that its open
# event streams check their follower's access again at once instead of at their next periodic check.
_access_epoch = 0


def access_epoch() -> int:
    """A number that changes each time this process revokes access to a run (see :func:`revoked_access`)."""
    return _access_epoch


def revoked_access() -> None:
    """Note that access to a run was revoked: open event streams re-check their follower's access now."""
    global _access_epoch
    _access_epoch += 1


class InvalidEventId(ValidationError):
    """A ``Last-Event-ID`` or ``after`` that is not an event id (answered 400)."""


def parse_last_event_id(value: str | None) -> int | None:
    """The event id of a ``Last-Event-ID`` header (None when absent or empty).

    ``InvalidEventId`` unless it is a decimal integer from 0 to :data:`MAX_EVENT_ID`.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_EVENT_ID:
        raise InvalidEventId(
            f"Last-Event-ID must be a progress event id from 0 to {MAX_EVENT_ID}, got {value[:40]!r}; "
            "send the id of the last event received, or none to start from the newest"
        )
    return int(text)


# The poll serves followers whose access was checked when their stream opened.
_SYSTEM = Principal("flowdeck-events", "admin")


@dataclass
class RunSnapshot:
    """What the last poll read of one run: its status (None once deleted), events and notices past the cursors."""

    view: RunView | None
    events: list[ProgressEvent]
    #: False when the poll hit :data:`POLL_LIMIT`: more events may be waiting.
    complete: bool
    #: Notices (``callback``, ``comment``) past the lowest notice cursor of the run's followers.
    notices: list[Notice] = field(default_factory=list)


@dataclass(eq=False)
class Subscription:
    """One follower of one run: its position in the run's events and the snapshot polled for it."""

    run_id: str
    cursor: int
    _poller: _Poller
    _snapshot: RunSnapshot | None = None
    _failure: Exception | None = None
    #: The newest notice sent to this follower (None: it does not follow notices).
    notice_cursor: int | None = None

    async def next(self) -> RunSnapshot:
        """The first poll that included this follower and that it has not taken yet (waits for it).

        Its events are those past the lowest cursor of the run's followers: skip the ones at or
        below :attr:`cursor`. Raises what the poll raised when the database could not be read.
        """
        return await self._poller.wait(self)

    def advance(self, event_id: int) -> None:
        """Record that events up to ``event_id`` have been sent."""
        self.cursor = max(self.cursor, event_id)

    def advance_notice(self, notice_id: int) -> None:
        """Record that notices up to ``notice_id`` have been sent."""
        self.notice_cursor = max(self.notice_cursor or 0, notice_id)

    def close(self) -> None:
        """Stop following; the poller stops when nobody in this event loop follows anything."""
        self._poller.remove(self)


@dataclass(eq=False)
class _Poller:
    """The poller of one event loop: who follows which run there."""

    subscriptions: set[Subscription] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    updated: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, subscription: Subscription) -> None:
        self.subscriptions.add(subscription)
        self.wake.set()  # a new follower gets its first snapshot without waiting for the tick
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="flowdeck-events")

    def remove(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)
        if not self.subscriptions:
            self.wake.set()

    async def wait(self, subscription: Subscription) -> RunSnapshot:
        while subscription._snapshot is None and subscription._failure is None:
            if subscription not in self.subscriptions or self.task is None or self.task.done():
                self.add(subscription)
            await self.updated.wait()
        snapshot, failure = subscription._snapshot, subscription._failure
        subscription._snapshot = subscription._failure = None
        if failure is not None:
            raise failure
        assert snapshot is not None
        return snapshot

    async def _run(self) -> None:
        while self.subscriptions:
            included = list(self.subscriptions)
            cursors: dict[str, int] = {}
            notice_cursors: dict[str, int] = {}
            for sub in included:
                cursors[sub.run_id] = min(cursors.get(sub.run_id, sub.cursor), sub.cursor)
                if sub.notice_cursor is not None:
                    seen = notice_cursors.get(sub.run_id, sub.notice_cursor)
                    notice_cursors[sub.run_id] = min(seen, sub.notice_cursor)
            self.wake.clear()
            try:
                snapshots = await run_in_threadpool(_poll, cursors, notice_cursors)
            except Exception:
                # One run's follower must not end everyone's streams: poll each run on its own, and
                # only the followers of a run whose poll fails get the error.
                snapshots = await run_in_threadpool(_poll_each, cursors, notice_cursors)
            for sub in included:
                result = snapshots[sub.run_id]
                if isinstance(result, Exception):
                    sub._failure = result
                else:
                    sub._snapshot = result
            updated, self.updated = self.updated, asyncio.Event()
            updated.set()
            if not self.subscriptions:
                break
            try:
                await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)
            except TimeoutError:
                continue
            # Woken by a new follower: poll soon, but not more often than every 20 ms.
            await asyncio.sleep(0.02)


_pollers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Poller] = weakref.WeakKeyDictionary()


def subscribe(run_id: str, after: int, notices_after: int | None = None) -> Subscription:
    """Follow ``run_id`` from the event after ``after`` (and the notice after ``notices_after``, if given).

    Call from the event loop, and ``close()`` when done. ``InvalidEventId`` unless ``after`` is an
    integer from 0 to :data:`MAX_EVENT_ID`.
    """
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_EVENT_ID:
        raise InvalidEventId(f"an event id runs from 0 to {MAX_EVENT_ID}, got {after!r}")
    loop = asyncio.get_running_loop()
    poller = _pollers.get(loop)
    if poller is None:
        poller = _pollers[loop] = _Poller()
    notice_cursor = None if notices_after is None else max(0, int(notices_after))
    subscription = Subscription(run_id, after, poller, notice_cursor=notice_cursor)
    poller.add(subscription)
    return subscription


def _poll(cursors: dict[str, int], notice_cursors: dict[str, int] | None = None) -> dict[str, RunSnapshot]:
    """The status of each run, its progress events and notices after its cursors, in one read transaction."""
    ids = list(cursors)
    with get_storage().db.read() as conn:
        run_rows = {row.id: row for row in conn.execute(sa.select(runs).where(runs.c.id.in_(ids)))}
        step_rows = conn.execute(
            sa.select(steps).where(steps.c.run_id.in_(ids)).order_by(steps.c.run_id, steps.c.position)
        ).all()
        # Read after the status: a run seen idle above has all its step's events below.
        event_rows = conn.execute(
            sa.select(progress_events)
            .where(
                sa.or_(
                    *[
                        sa.and_(progress_events.c.run_id == run_id, progress_events.c.id > cursor)
                        for run_id, cursor in cursors.items()
                    ]
                )
            )
            .order_by(progress_events.c.id)
            .limit(POLL_LIMIT)
        ).all()
        notice_rows = notice_records.notices_after(conn, notice_cursors or {}, limit=NOTICE_LIMIT)
    complete = len(event_rows) < POLL_LIMIT
    by_run: dict[str, list[sa.Row]] = {run_id: [] for run_id in ids}
    for run_id, rows in itertools.groupby(step_rows, key=lambda row: row.run_id):
        by_run[run_id] = list(rows)
    events: dict[str, list[ProgressEvent]] = {run_id: [] for run_id in ids}
    for r in event_rows:
        events[r.run_id].append(ProgressEvent(r.id, r.run_id, r.step_name, r.completion, r.message, r.page_update))
    notices: dict[str, list[Notice]] = {run_id: [] for run_id in ids}
    for r in notice_rows:
        if r.run_id in notices:
            notices[r.run_id].append(Notice.from_row(r))
    views = {run_id: RunView.from_rows(row, by_run[run_id]) for run_id, row in run_rows.items()}
    if any(view.run.lease_expired() for view in views.values()):
        # A step whose process died: fail it (through the lifecycle) and show that in this poll.
        for view in views.values():
            if view.run.lease_expired() and lifecycle.expire_stale(view.id):
                views[view.id] = lifecycle.load(view.id, _SYSTEM)
    return {run_id: RunSnapshot(views.get(run_id), events[run_id], complete, notices[run_id]) for run_id in ids}


def _poll_each(
    cursors: dict[str, int], notice_cursors: dict[str, int] | None = None
) -> dict[str, RunSnapshot | Exception]:
    """:func:`_poll` run by run: the snapshot of each run, or the error its own poll raised."""
    out: dict[str, RunSnapshot | Exception] = {}
    for run_id, cursor in cursors.items():
        try:
            noticed = {run_id: notice_cursors[run_id]} if notice_cursors and run_id in notice_cursors else None
            out[run_id] = _poll({run_id: cursor}, noticed)[run_id]
        except Exception as exc:
            out[run_id] = exc
    return out


def last_event_ids(run_id: str, count: int = 1) -> list[int]:
    """The ids of the run's newest ``count`` progress events, newest first."""
    with get_storage().db.read() as conn:
        return list(
            conn.scalars(
                sa.select(progress_events.c.id)
                .where(progress_events.c.run_id == run_id)
                .order_by(progress_events.c.id.desc())
                .limit(count)
            )
        )
