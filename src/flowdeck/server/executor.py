"""Running step actions off the request path.

The server hands ``start``/``next``/``back``/``rerun`` to the deployment's executor
(:mod:`flowdeck.flow.executors`): a pool of threads of this process for ``inline``, Celery workers
for ``celery``. The request returns at once (202) and the browser follows the step over
server-sent events. A run is *busy* from the moment its action is accepted until it has finished;
the mark is kept in the database, so every server process and worker agrees on it.
"""

from __future__ import annotations

from flowdeck.flow.executors import Executor, busy_action_of, get_executor

__all__ = ["StepExecutor", "busy_action_of"]


class StepExecutor:
    """The server's handle on the configured executor (at most one action per run at a time)."""

    def __init__(self, max_workers: int = 4) -> None:
        """Use the executor the settings name; ``max_workers`` threads for ``inline``."""
        self.executor: Executor = get_executor(max_workers=max_workers)

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

    def submit(self, run_id: str, user: str, action: str) -> None:
        """Hand ``action`` of ``run_id`` (acting for ``user``) to the executor; ``StepStateError`` if busy."""
        self.executor.submit(run_id, user, action)

    def wait(self, run_id: str, timeout: float = 60.0) -> bool:
        """Block until ``run_id`` is idle; False on timeout."""
        return self.executor.wait(run_id, timeout)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let actions running in this process finish."""
        self.executor.shutdown(wait=wait)
