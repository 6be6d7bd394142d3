"""Running step actions off the request path.

With the ``inline`` executor the server runs ``next``/``back``/``rerun`` in a pool of worker
threads of its own process: the request returns at once (202) and the browser follows the step
over server-sent events. A run is *busy* from the moment its action is accepted until the worker
has finished, so a client never mistakes the state before the worker started for the result.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from flowdeck.errors import StepFailedError, StepStateError

__all__ = ["StepExecutor"]

log = logging.getLogger("flowdeck.server")


class StepExecutor:
    """A worker thread pool for step actions, with at most one action per run at a time."""

    def __init__(self, max_workers: int = 4) -> None:
        """Create the pool with ``max_workers`` threads (started lazily)."""
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="flowdeck-step")
        self._lock = threading.Lock()
        self._busy: dict[str, str] = {}

    def is_busy(self, run_id: str) -> bool:
        """Whether an action of ``run_id`` is queued or running in this process."""
        with self._lock:
            return run_id in self._busy

    def busy_action(self, run_id: str) -> str | None:
        """The action (``next``, ``back``, ``rerun``) in flight for ``run_id``, or None."""
        with self._lock:
            return self._busy.get(run_id)

    def submit(self, run_id: str, action: str, work: Callable[[], object]) -> Future[None]:
        """Run ``work`` for ``run_id`` in the pool; ``StepStateError`` if the run is busy already."""
        with self._lock:
            if run_id in self._busy:
                raise StepStateError(
                    f"run {run_id!r} is busy with {self._busy[run_id]}(); wait for it to finish"
                )
            self._busy[run_id] = action

        def job() -> None:
            try:
                work()
            except StepFailedError:
                pass  # recorded on the step (state failed, error and traceback); the UI shows it
            except Exception:
                log.exception("%s() of run %s failed outside the step's code", action, run_id)
            finally:
                with self._lock:
                    self._busy.pop(run_id, None)

        try:
            return self._pool.submit(job)
        except RuntimeError:
            with self._lock:
                self._busy.pop(run_id, None)
            raise

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let running actions finish."""
        self._pool.shutdown(wait=wait)
