"""Where step actions run: a thread pool in this process (``inline``) or Celery workers (``celery``).

An executor takes an action of a run — ``start`` (its first step), ``next``, ``back`` or
``rerun`` — checks it against the run's state, marks the run busy *in the database* and returns at
once; the step then runs elsewhere. Because the busy mark is the state of a step (``running`` or
``acting``), every process sharing the deployment sees it, whichever executor or process took the
action. Step failures are recorded on the step (``failed``, error and traceback) as usual. The
action in flight is recorded on the run by :mod:`flowdeck.store.lifecycle`, with a lease the
process carrying it out renews.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, runtime_checkable

from flowdeck.auth.users import Principal, acting_as, lowered_to, resolve_principal
from flowdeck.config import get_settings
from flowdeck.errors import ConfigurationError, StepCancelledError, StepFailedError, StepStateError
from flowdeck.flow.runner import (
    ACTIONS,
    FlowRun,
    claim_action,
    flow_of,
    record_failure,
    release_claim,
)
from flowdeck.store import lifecycle
from flowdeck.store import runs as run_service

__all__ = [
    "ACTIONS",
    "DEFAULT_QUEUE",
    "CeleryExecutor",
    "Executor",
    "InlineExecutor",
    "busy_action",
    "busy_action_of",
    "get_executor",
    "is_busy",
    "name_and_role",
    "perform",
    "redact_url",
    "wait",
]

log = logging.getLogger("flowdeck.executor")

#: The Celery queue flowdeck sends actions to and ``flowdeck worker`` consumes by default.
DEFAULT_QUEUE = "flowdeck"

# Reading a run's action in flight needs no access check: it reveals nothing but a flag, and every
# caller has already loaded the run as its user.
_SYSTEM = Principal("flowdeck-executor", "admin")


def is_busy(flow_id: str) -> bool:
    """Whether an action of run ``flow_id`` is on its way or running, in any process."""
    return busy_action(flow_id) is not None


def busy_action(flow_id: str) -> str | None:
    """The action in flight for ``flow_id`` (``start``, ``rerun``, ``next``, ``back``), or None.

    Reading it fails a step whose lease ran out, so a run whose process died does not stay busy.
    """
    try:
        view = lifecycle.load(flow_id, _SYSTEM)
    except LookupError:
        return None
    return busy_action_of(view)


def busy_action_of(view: run_service.RunView) -> str | None:
    """The action in flight for a run already loaded, or None (recorded on the run when claimed)."""
    return view.busy_action


def wait(flow_id: str, timeout: float = 60.0, poll: float = 0.05) -> bool:
    """Block until run ``flow_id`` is not busy; False if it still is after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while is_busy(flow_id):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def perform(flow_id: str, user: str, action: str, token: str | None = None, role: str | None = None) -> None:
    """Carry out a claimed action of a run in this process (what a pool thread or a worker does).

    ``token`` names the claim; an action no longer in flight (cancelled, its lease ran out, or
    delivered twice) is dropped. ``role`` is the role the action was asked for with, when lower than
    the user's stored one (an admin's API token without the ``admin`` scope): the step's code, and
    every ``StoreInterface`` it makes for the user, act with that role. A step that raises is
    recorded as failed by the lifecycle. Anything that goes wrong around the step code (the flow
    cannot be imported) is recorded on the claimed step too, so the run never stays busy; the
    error is logged.
    """
    claim = lifecycle.claim_of(flow_id, token)
    if claim is None or claim.action != action:
        log.warning("%s() of run %s is no longer in flight; dropped", action, flow_id)
        return
    try:
        principal = lowered_to(resolve_principal(user), role)
        flow = flow_of(run_service.load_run(flow_id, principal))
    except Exception as exc:
        log.exception("%s() of run %s could not begin", action, flow_id)
        try:
            record_failure(claim, exc)
        except Exception:
            log.exception("could not record the failure of %s() on run %s", action, flow_id)
        return
    try:
        with acting_as(principal):
            FlowRun(flow, flow_id, principal).perform(claim)
    except (StepFailedError, StepCancelledError):
        pass
    except StepStateError as exc:  # another process took the action (a task delivered twice)
        log.warning("%s() of run %s: %s; dropped", action, flow_id, exc)
    except Exception as exc:  # recorded on the step by the lifecycle, unless it never began
        log.exception("%s() of run %s failed outside the step's code", action, flow_id)
        try:
            record_failure(claim, exc)
        except StepCancelledError:  # recorded already
            pass
        except Exception:  # the lease runs out instead
            log.exception("could not record the failure of %s() on run %s", action, flow_id)


def name_and_role(user: str | Principal) -> tuple[str, str | None]:
    """The user's name, and the role to carry the action out with (None: the stored one)."""
    if isinstance(user, Principal):
        return user.name, user.role
    return user, None


@runtime_checkable
class Executor(Protocol):
    """Runs the actions of runs somewhere other than the caller's thread."""

    name: str

    def submit(self, flow_id: str, user: str | Principal, action: str) -> None:
        """Check ``action`` (``start``/``next``/``back``/``rerun``), mark the run busy, return at once.

        ``user`` is a name, or the :class:`Principal` the server authenticated: the action is then
        carried out with its role, which an API token may have lowered.

        Raises at once, with nothing changed, what the action itself would raise for the run's
        state (``StepStateError``, ``MissingInputError``, ``NotFoundError``).
        """
        ...

    def is_busy(self, flow_id: str) -> bool:
        """Whether an action of the run is on its way or running (in any process)."""
        ...

    def busy_action(self, flow_id: str) -> str | None:
        """The action in flight for the run, or None."""
        ...

    def wait(self, flow_id: str, timeout: float = 60.0) -> bool:
        """Block until the run is idle; False on timeout."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking actions; with ``wait``, let those running here finish."""
        ...


class InlineExecutor:
    """Runs actions in a pool of threads of this process (the default, ``FLOWDECK_EXECUTOR=inline``)."""

    name = "inline"

    def __init__(self, max_workers: int = 4) -> None:
        """A pool of ``max_workers`` threads, started as work arrives."""
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="flowdeck-step")
        self._lock = threading.Lock()
        self._futures: dict[str, Future[None]] = {}

    def submit(self, flow_id: str, user: str | Principal, action: str) -> None:
        """Claim the action and run it on a pool thread (see :meth:`Executor.submit`)."""
        claim = claim_action(flow_id, user, action, handoff=True)
        name, role = name_and_role(user)
        try:
            future = self._pool.submit(perform, flow_id, name, action, claim.token, role)
        except RuntimeError:  # the pool is shut down
            release_claim(claim)
            raise
        with self._lock:
            self._futures[flow_id] = future
        future.add_done_callback(lambda done: self._forget(flow_id, done))

    def _forget(self, flow_id: str, future: Future[None]) -> None:
        with self._lock:
            if self._futures.get(flow_id) is future:
                del self._futures[flow_id]

    def is_busy(self, flow_id: str) -> bool:
        """Whether an action of the run is on its way or running (in any process)."""
        return is_busy(flow_id)

    def busy_action(self, flow_id: str) -> str | None:
        """The action in flight for the run, or None."""
        return busy_action(flow_id)

    def wait(self, flow_id: str, timeout: float = 60.0) -> bool:
        """Block until the run is idle (and this pool's work on it is done); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            future = self._futures.get(flow_id)
        if future is not None:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False
        return wait(flow_id, max(0.0, deadline - time.monotonic()))

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking actions; with ``wait``, let running ones finish."""
        self._pool.shutdown(wait=wait)


class CeleryExecutor:
    """Sends each action as a Celery task to workers (``FLOWDECK_EXECUTOR=celery``, ``flowdeck worker``).

    The task names only the run, the user, the action and the role it was asked with (see
    :func:`perform`); the worker loads the run with the flow
    the run records, so the flow must be importable on the workers.
    """

    name = "celery"

    def __init__(self, queue: str = DEFAULT_QUEUE) -> None:
        """Send to ``queue`` on the configured broker (``FLOWDECK_BROKER_URL``)."""
        self.queue = queue

    def submit(self, flow_id: str, user: str | Principal, action: str) -> None:
        """Claim the action and queue it for a worker (see :meth:`Executor.submit`).

        When the broker cannot be reached the claim is undone and ``ConfigurationError`` says so.
        """
        from flowdeck.flow.celery_app import perform_task

        claim = claim_action(flow_id, user, action, handoff=True)
        name, role = name_and_role(user)
        try:
            # The task id is the claim's token, so cancelling the action can revoke the task.
            perform_task.apply_async(
                args=(flow_id, name, action, claim.token, role), task_id=claim.token, queue=self.queue, retry=False
            )
        except Exception as exc:
            release_claim(claim)
            broker = get_settings().broker_url
            raise ConfigurationError(
                f"could not queue {action}() of run {flow_id!r} on broker {redact_url(broker)}: "
                f"{type(exc).__name__}: {exc}; start the broker or set FLOWDECK_BROKER_URL"
            ) from exc

    def is_busy(self, flow_id: str) -> bool:
        """Whether an action of the run is queued or running (in any process)."""
        return is_busy(flow_id)

    def busy_action(self, flow_id: str) -> str | None:
        """The action in flight for the run, or None."""
        return busy_action(flow_id)

    def wait(self, flow_id: str, timeout: float = 60.0) -> bool:
        """Block until a worker has finished the run's action; False on timeout."""
        return wait(flow_id, timeout)

    def shutdown(self, wait: bool = True) -> None:
        """Nothing runs here; queued actions stay with the broker for the workers."""


def redact_url(url: str) -> str:
    """``url`` with any password masked, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def get_executor(max_workers: int = 4, queue: str = DEFAULT_QUEUE) -> Executor:
    """The executor the settings ask for (``executor``: ``inline`` or ``celery``)."""
    if get_settings().executor == "celery":
        return CeleryExecutor(queue=queue)
    return InlineExecutor(max_workers=max_workers)
