"""Running step actions off the request path, with a fair share of the step workers for each user.

The server hands ``start``/``next``/``back``/``rerun`` to the deployment's executor
(:mod:`flowdeck.flow.executors`): threads of this process for ``inline``, Celery workers for
``celery``. The request returns at once (202) and the browser follows the step over
server-sent events. A run is *busy* from the moment its action is accepted until it has finished;
the mark is kept in the database, so every server process and worker agrees on it.

With ``inline``, the server's step workers are shared fairly: one user's actions occupy at most
``step_workers_per_user`` of them at once (half the pool by default), and queued actions are
started in turn, user by user, so one user's slow runs cannot starve everyone else's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flowdeck.auth.users import Principal
from flowdeck.config import get_settings
from flowdeck.flow.executors import (
    Executor,
    busy_action,
    busy_action_of,
    get_executor,
    is_busy,
    name_and_role,
    perform,
)
from flowdeck.flow.executors import wait as wait_idle
from flowdeck.flow.runner import claim_action, release_claim

__all__ = ["CallbackPool", "FairShareExecutor", "StepExecutor", "busy_action_of"]

log = logging.getLogger("flowdeck.server")
T = TypeVar("T")


class FairShareExecutor:
    """Runs actions on ``max_workers`` threads of this process, at most ``per_user`` of them per user.

    Actions waiting for a worker are queued per user and started round-robin between users, each
    in the order it was submitted. Like the ``inline`` executor, :meth:`submit` checks and claims
    the action at once (the run shows busy while it waits for a worker).
    """

    name = "inline"

    def __init__(self, max_workers: int = 4, per_user: int | None = None) -> None:
        """``per_user`` None or 0: half of ``max_workers``, at least 1."""
        self.max_workers = max(1, max_workers)
        self.per_user = max(1, min(self.max_workers, per_user or self.max_workers // 2))
        self._cond = threading.Condition()
        self._queues: OrderedDict[str, deque[tuple[str, str, str, str, threading.Event]]] = OrderedDict()
        self._running: Counter[str] = Counter()
        self._done: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, flow_id: str, user: str | Principal, action: str) -> None:
        """Claim the action and queue it for a worker (see :meth:`Executor.submit`).

        ``user`` may be the :class:`Principal` the server authenticated: the action is carried out
        with its role, which an API token may have lowered.
        """
        # A hand-off claim: the action may wait in a user's queue before a worker takes it.
        claim = claim_action(flow_id, user, action, handoff=True)
        user, role = name_and_role(user)
        with self._cond:
            if self._closed:
                release_claim(claim)
                raise RuntimeError("the server's step workers are shut down")
            done = threading.Event()
            self._done[flow_id] = done
            self._queues.setdefault(user, deque()).append((flow_id, action, claim.token, role, done))
            if len(self._threads) < self.max_workers:
                # Daemon threads: a process that never shuts the server down must still be able to exit.
                thread = threading.Thread(target=self._work, name=f"flowdeck-step-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._cond.notify()

    def _take(self) -> tuple[str, str, str, str, str | None, threading.Event] | None:
        """The next action to start (called holding the lock): the first user in turn under their share."""
        for user in list(self._queues):
            queue = self._queues[user]
            if not queue:
                del self._queues[user]
                continue
            if self._running[user] >= self.per_user:
                continue
            flow_id, action, token, role, done = queue.popleft()
            self._running[user] += 1
            self._queues.move_to_end(user)  # the next free worker goes to someone else first
            if not queue:
                del self._queues[user]
            return user, flow_id, action, token, role, done
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._take()
                while job is None:
                    if self._closed and not self._queues:
                        return
                    self._cond.wait()
                    job = self._take()
            user, flow_id, action, token, role, done = job
            try:
                perform(flow_id, user, action, token, role)
            except Exception:  # perform records failures itself; a worker must survive anything
                log.exception("%s() of run %s failed", action, flow_id)
            finally:
                with self._cond:
                    self._running[user] -= 1
                    if self._done.get(flow_id) is done:
                        del self._done[flow_id]
                    self._cond.notify_all()
                done.set()

    def queued(self, user: str) -> int:
        """How many of ``user``'s actions wait for a worker."""
        with self._cond:
            return len(self._queues.get(user, ()))

    def running(self, user: str) -> int:
        """How many of ``user``'s actions run now."""
        with self._cond:
            return self._running[user]

    def is_busy(self, flow_id: str) -> bool:
        """Whether an action of the run is on its way or running (in any process)."""
        return is_busy(flow_id)

    def busy_action(self, flow_id: str) -> str | None:
        """The action in flight for the run, or None."""
        return busy_action(flow_id)

    def wait(self, flow_id: str, timeout: float = 60.0) -> bool:
        """Block until the run is idle (and this process's work on it is done); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            done = self._done.get(flow_id)
        if done is not None and not done.wait(timeout):
            return False
        return wait_idle(flow_id, max(0.0, deadline - time.monotonic()))

    def shutdown(self, wait: bool = True) -> None:
        """Take no more actions; queued and running ones still finish (with ``wait``, before returning)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()


class StepExecutor:
    """The server's handle on the configured executor (at most one action per run at a time)."""

    def __init__(self, max_workers: int = 4, per_user: int | None = None) -> None:
        """The executor the settings name; for ``inline``, ``max_workers`` fairly shared threads.

        ``per_user`` defaults to the ``step_workers_per_user`` setting.
        """
        if get_settings().executor == "inline":
            share = per_user if per_user is not None else get_settings().step_workers_per_user
            self.executor: Executor = FairShareExecutor(max_workers, share)
        else:
            self.executor = get_executor(max_workers=max_workers)

    @property
    def name(self) -> str:
        """``inline`` or ``celery``."""
        return self.executor.name

    def is_busy(self, run_id: str) -> bool:
        """Whether an action of ``run_id`` is queued or running, in any process."""
        return self.executor.is_busy(run_id)

    def busy_action(self, run_id: str) -> str | None:
        """The action (``start``, ``next``, ``back``, ``rerun``) in flight for ``run_id``, or None."""
        return self.executor.busy_action(run_id)

    def submit(self, run_id: str, user: str | Principal, action: str) -> None:
        """Hand ``action`` of ``run_id`` (acting for ``user``, a name or the authenticated principal) to the
        executor; ``StepStateError`` if busy."""
        self.executor.submit(run_id, user, action)

    def wait(self, run_id: str, timeout: float = 60.0) -> bool:
        """Block until ``run_id`` is idle; False on timeout."""
        return self.executor.wait(run_id, timeout)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let actions running in this process finish."""
        self.executor.shutdown(wait=wait)


class CallbackPool:
    """Threads that fire callbacks for API requests, off the event loop, fairly shared between users.

    A callback answers its request (unlike a step action, which is handed off with a 202), so the
    request waits for it here. At most ``max_workers`` callbacks run at once in this process, and at
    most ``per_user`` of one user's: a user's further callbacks wait their turn (in order) without
    holding a thread, so one user firing callbacks on many runs cannot starve everyone else. The
    pool is separate from the step workers and from the thread pool that serves plain requests.
    """

    def __init__(self, max_workers: int = 4, per_user: int | None = None) -> None:
        """``per_user`` None or 0: half of ``max_workers``, at least 1."""
        self.max_workers = max(1, max_workers)
        self.per_user = max(1, min(self.max_workers, per_user or self.max_workers // 2))
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="flowdeck-callback")
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self._waiting: dict[str, deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    def running(self, user: str) -> int:
        """How many of ``user``'s callbacks hold a slot now (running or about to)."""
        with self._lock:
            return self._running[user]

    async def _acquire(self, user: str) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._running[user] < self.per_user:
                self._running[user] += 1
                return
            turn: asyncio.Future[None] = loop.create_future()
            self._waiting.setdefault(user, deque()).append((loop, turn))
        try:
            await turn
        except asyncio.CancelledError:
            with self._lock:
                queue = self._waiting.get(user)
                if queue is not None and (loop, turn) in queue:
                    queue.remove((loop, turn))
                    return_slot = False
                else:
                    return_slot = True  # the slot was handed over as the wait was cancelled
            if return_slot:
                self._release(user)
            raise

    def _release(self, user: str) -> None:
        """Hand the user's slot to their next waiting callback, or free it."""
        with self._lock:
            queue = self._waiting.get(user)
            while queue:
                loop, turn = queue.popleft()
                if not queue:
                    del self._waiting[user]
                if turn.done():
                    continue
                loop.call_soon_threadsafe(self._hand, user, turn)
                return
            self._running[user] -= 1
            if self._running[user] <= 0:
                del self._running[user]

    def _hand(self, user: str, turn: asyncio.Future[None]) -> None:
        if turn.done():  # cancelled meanwhile: pass the slot on
            self._release(user)
        else:
            turn.set_result(None)

    async def run(self, user: str, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a callback thread once one of ``user``'s slots is free; its result."""
        await self._acquire(user)
        try:
            return await asyncio.wrap_future(self._pool.submit(fn, *args))
        finally:
            self._release(user)

    def shutdown(self, wait: bool = True) -> None:
        """Take no more callbacks; with ``wait``, let the running ones finish first."""
        self._pool.shutdown(wait=wait)
