"""Running a flow: starting runs, moving between steps, and the run handle ``FlowRun``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.errors import StepStateError, ValidationError
from flowdeck.flow.loader import flow_file_version, flow_reference, load_flow, remember_flow, remembered_flow
from flowdeck.flow.model import Flow, FlowMetadata
from flowdeck.store import lifecycle
from flowdeck.store import pages as page_service
from flowdeck.store import runs as run_service
from flowdeck.store.status import FlowStatus

if TYPE_CHECKING:
    from flowdeck.page import Page

__all__ = [
    "ACTIONS",
    "Claim",
    "FlowRun",
    "cancel_run",
    "claim_action",
    "create_run",
    "delete_run",
    "fork_run",
    "list_runs",
    "open_run",
    "record_failure",
    "release_claim",
    "share_run",
    "start",
    "unshare_run",
]

log = logging.getLogger("flowdeck.runner")

#: The actions an executor performs for a run: its first step, and the three moves of a run.
ACTIONS = lifecycle.ACTIONS


class FlowRun:
    """A handle on one run of a flow, for one user.

    Every property reads the stored state, so several handles (in several processes) on one run
    agree. Actions run the step code in this process; each one is claimed atomically first
    (:mod:`flowdeck.store.lifecycle`), so an action another process has in flight is refused.
    """

    def __init__(self, flow: Flow, flow_id: str, principal: Principal) -> None:
        self.flow = flow
        self.flow_id = flow_id
        self.principal = principal
        self._flow_ref: str | None = None

    # --- reading -----------------------------------------------------------------------------

    @property
    def user(self) -> str:
        """The user this handle acts for."""
        return self.principal.name

    def _view(self) -> run_service.RunView:
        return lifecycle.load(self.flow_id, self.principal)

    def _code_version(self) -> str | None:
        """The digest of the flow file's source this process runs (recorded on each step attempt)."""
        if self._flow_ref is None:
            self._flow_ref = self._view().run.flow_ref or ""
        return flow_file_version(self._flow_ref)

    @property
    def current_step(self) -> str | None:
        """The name of the step whose page awaits the user (None once the run is complete)."""
        return self._view().current_step

    @property
    def state(self) -> str:
        """The run's state (``awaiting_input``, ``failed``, ``cancelled``, ``complete``, ...)."""
        return str(self._view().run.state)

    def status(self) -> FlowStatus:
        """The run's state and each step's state, progress, message, timings and error."""
        return run_service.flow_status(self._view())

    def page(self, step_name: str | None = None) -> Page:
        """The current page of ``step_name`` (default: the current step)."""
        view = self._view()
        name = step_name or view.current_step
        if name is None:
            raise StepStateError(f"run {self.flow_id!r} is complete; pass step_name= to see a step's page")
        return page_service.get_page(view, name)

    # --- user input --------------------------------------------------------------------------

    def set_value(self, title_or_id: str, value: Any) -> None:
        """Set an input element of the current step's page, by its title or element id."""
        view = self._view()
        step = self._awaiting_step(view, "set_value")
        page_service.set_value(view, step.name, title_or_id, value)

    def upload(self, title_or_id: str, filename: str, data: bytes) -> None:
        """Upload a file to a DataSource of the current step's page (type checked by content)."""
        view = self._view()
        step = self._awaiting_step(view, "upload")
        page_service.upload(view, step.name, title_or_id, filename, data)

    def _awaiting_step(self, view: run_service.RunView, action: str) -> Any:
        if view.current_step is None:
            raise StepStateError(f"run {self.flow_id!r} is complete; {action}() needs a step awaiting input")
        step = view.step(view.current_step)
        if not view.awaiting_input:
            state = f"busy with {view.busy_action}()" if view.busy_action else step.state
            raise StepStateError(
                f"step {step.name!r} is {state}; {action}() needs it awaiting input"
                + ("; call run.rerun() first" if step.state in ("failed", "cancelled") else "")
            )
        return step

    # --- moving ------------------------------------------------------------------------------

    def _do(self, action: str) -> FlowRun:
        # Carried out here at once: the claim takes the lease in its own transaction.
        claim = lifecycle.claim(self.flow_id, self.principal, action, take=True)
        lifecycle.execute(self.flow, claim, self.principal, FlowMetadata, self, self._code_version())
        return self

    def next(self) -> FlowRun:
        """Check required inputs, run the current step's action, then run the next step.

        Raises ``MissingInputError`` (nothing moves) when required inputs are missing,
        ``StepStateError`` when the run's state does not allow it (or another process has an
        action of the run in flight), ``StepFailedError`` when step code raises (the step is then
        ``failed`` and can be re-run) and ``StepCancelledError`` when the step is cancelled.
        """
        return self._do("next")

    def back(self) -> FlowRun:
        """Reopen the previous step with its page and values as they were; later steps go stale."""
        return self._do("back")

    def rerun(self) -> FlowRun:
        """Run the current step again from its initial page (e.g. after it failed or was cancelled)."""
        return self._do("rerun")

    def run_first_step(self) -> FlowRun:
        """Run the first step of a run made by :func:`create_run` (``StepFailedError`` if it raises)."""
        return self._do("start")

    def cancel(self) -> FlowRun:
        """Cancel the step running now (in any process): it becomes ``cancelled`` and stops.

        Its code stops at its next progress update or store call (a Celery task is revoked too);
        ``Step.on_cancel`` runs here once. The run can then be re-run or stepped back.
        ``StepStateError`` when no step is running.
        """
        cancel_run(self.flow_id, self.principal, self.flow)
        return self

    def perform(self, claim: lifecycle.Claim) -> FlowRun:
        """Carry out an action claimed with :func:`claim_action` (what executors call)."""
        lifecycle.execute(self.flow, claim, self.principal, FlowMetadata, self, self._code_version())
        return self

    def __repr__(self) -> str:
        return f"FlowRun(flow={self.flow.name!r}, flow_id={self.flow_id!r}, user={self.user!r})"


def create_run(flow: Flow, user: str | None = None) -> FlowRun:
    """Record a new run of ``flow`` owned by ``user`` without running any step.

    Its first step is ``pending`` until an executor performs ``start`` (or
    :meth:`FlowRun.run_first_step` runs it here).
    """
    if not isinstance(flow, Flow):
        raise ValidationError(f"a run needs a Flow, got {type(flow).__name__}")
    if not flow.steps:
        raise ValidationError(f"flow {flow.name!r} has no steps; chain at least one step")
    principal = resolve_principal(user)
    ref = flow_reference(flow)
    run_id = run_service.create_run(flow.name, ref, principal, [(s.name, s.title, s.type.value) for s in flow.steps])
    remember_flow(run_id, flow)
    run = FlowRun(flow, run_id, principal)
    run._flow_ref = ref or ""  # known: no need to read it back
    return run


def start(flow: Flow, user: str | None = None) -> FlowRun:
    """Create a run of ``flow`` owned by ``user`` and run its first step.

    Returns the run handle; ``run.flow_id`` identifies the run everywhere. When the first step
    fails, the run is kept (state ``failed``) and ``StepFailedError`` is raised (``err.run``).
    """
    if not isinstance(flow, Flow):
        raise ValidationError(f"flowdeck.start() takes a Flow, got {type(flow).__name__}")
    return create_run(flow, user).run_first_step()


def flow_of(view: run_service.RunView) -> Flow:
    """The flow object of a run: the one in memory, else loaded from where the run says it is defined."""
    flow = remembered_flow(view.id)
    if flow is not None:
        return flow
    ref = view.run.flow_ref
    if not ref:
        raise ValidationError(
            f"run {view.id!r} of flow {view.run.flow_name!r} was started from a flow defined in a "
            "function or an interactive session; define the flow at module level in an importable "
            "module or a .py file so other processes can load it"
        )
    flow = load_flow(ref)
    remember_flow(view.id, flow)
    return flow


def open_run(flow_id: str, user: str | None = None) -> FlowRun:
    """A handle on an existing run (from any process), for ``user``."""
    principal = resolve_principal(user)
    view = lifecycle.load(flow_id, principal)
    return FlowRun(flow_of(view), flow_id, principal)


def fork_run(flow_id: str, at_step: str, user: str | None = None) -> FlowRun:
    """Start a new run of ``user`` from step ``at_step`` of run ``flow_id``.

    The new run holds the original's outputs, pages and values of the steps before ``at_step``
    (the same stored blobs; nothing is copied byte by byte) and opens ``at_step`` with its inputs
    as they were and editable; ``next()`` goes on from there. The original run is untouched.
    """
    principal = resolve_principal(user)
    flow = flow_of(lifecycle.load(flow_id, principal))
    new_id = lifecycle.fork(flow_id, at_step, principal)
    remember_flow(new_id, flow)
    return FlowRun(flow, new_id, principal)


def delete_run(flow_id: str, user: str | None = None) -> None:
    """Delete a run: its outputs, pages and uploads go; assets stay."""
    run_service.delete_run(flow_id, resolve_principal(user))


def share_run(
    flow_id: str, owner: str | None = None, users: list[str] | None = None, groups: list[str] | None = None
) -> None:
    """Let ``users`` (and members of ``groups``) view and continue a run of ``owner``'s.

    ``owner`` is who shares: the run's owner or an admin. As with ``user=`` arguments, a user name
    seen for the first time is registered (the server and the CLI share only with existing users).
    """
    run_service.share_run(flow_id, resolve_principal(owner), users or [], groups or [], register_users=True)


def unshare_run(
    flow_id: str, owner: str | None = None, users: list[str] | None = None, groups: list[str] | None = None
) -> None:
    """Stop sharing a run with ``users`` and ``groups``; ``owner`` is who revokes (the owner or an admin).

    Revoking a share that does not exist changes nothing. A user still in a group the run is shared
    with keeps access through that group.
    """
    run_service.unshare_run(flow_id, resolve_principal(owner), users or [], groups or [])


def list_runs(user: str | None = None) -> list[FlowStatus]:
    """Status of every run ``user`` may see, newest first."""
    principal = resolve_principal(user)
    return [run_service.flow_status(view) for view in run_service.list_runs(principal)]


# --- claims: an action marked in flight, carried out elsewhere ----------------------------------

Claim = lifecycle.Claim


def claim_action(flow_id: str, user: str | Principal | None, action: str, *, handoff: bool = False) -> Claim:
    """Check that ``action`` may happen now and mark it in flight, atomically (see :func:`lifecycle.claim`).

    Another thread or process (a worker) then carries it out with :meth:`FlowRun.perform`;
    ``handoff`` gives it time to be taken (:data:`lifecycle.HANDOFF_SECONDS`).
    """
    principal = user if isinstance(user, Principal) else resolve_principal(user)
    return lifecycle.claim(flow_id, principal, action, handoff=handoff)


def cancel_run(flow_id: str, who: Principal, flow: Flow | None = None) -> Claim:
    """Cancel the action in flight of a run (see :func:`lifecycle.cancel`) and revoke its Celery task.

    ``flow`` (when known) runs the cancelled step's ``on_cancel`` hook.
    """
    cancelled = lifecycle.cancel(flow, flow_id, who)
    _revoke(cancelled.token)
    return cancelled


def _revoke(token: str) -> None:
    """Revoke (and terminate) the Celery task of an action; its id is the action's token."""
    from flowdeck.config import get_settings

    if get_settings().executor != "celery":
        return
    try:
        from flowdeck.flow.celery_app import app

        app.control.revoke(token, terminate=True, signal="SIGTERM")
    except Exception:  # the step still stops cooperatively
        log.warning("could not revoke the task of action %s", token, exc_info=True)


def release_claim(claim: Claim) -> None:
    """Put the run back as it was before ``claim`` (the work was never handed to anyone)."""
    lifecycle.release(claim)


def record_failure(claim: Claim, exc: BaseException) -> None:
    """Record ``exc`` on the claimed step (failed, with the traceback) when it arose outside step code.

    Executors call it when a claimed action could not even begin (e.g. the flow failed to import
    in a worker), so the run does not wait for the lease to run out.
    """
    lifecycle.record_failure(claim, exc)
