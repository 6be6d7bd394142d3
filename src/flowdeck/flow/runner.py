"""Running a flow: starting runs, moving between steps, and the run handle ``FlowRun``."""

from __future__ import annotations

import traceback as tb_module
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.errors import MissingInputError, StepFailedError, StepStateError, ValidationError
from flowdeck.flow.loader import flow_reference, load_flow, remember_flow, remembered_flow
from flowdeck.flow.model import Flow, FlowMetadata, Step
from flowdeck.store import pages as page_service
from flowdeck.store import progress as progress_service
from flowdeck.store import runs as run_service
from flowdeck.store.status import FlowStatus, StepState

if TYPE_CHECKING:
    from flowdeck.page import Page

__all__ = [
    "ACTIONS",
    "Claim",
    "FlowRun",
    "claim_action",
    "create_run",
    "delete_run",
    "list_runs",
    "open_run",
    "record_failure",
    "release_claim",
    "share_run",
    "start",
    "unshare_run",
]

#: The actions an executor performs for a run: its first step, and the three moves of a run.
ACTIONS = ("start", "next", "back", "rerun")


class FlowRun:
    """A handle on one run of a flow, for one user.

    Every property reads the stored state, so several handles (in several processes) on one run
    agree. Actions run the step code in this process.
    """

    def __init__(self, flow: Flow, flow_id: str, principal: Principal) -> None:
        self.flow = flow
        self.flow_id = flow_id
        self.principal = principal

    # --- reading -----------------------------------------------------------------------------

    @property
    def user(self) -> str:
        """The user this handle acts for."""
        return self.principal.name

    def _view(self) -> run_service.RunView:
        return run_service.load_run(self.flow_id, self.principal)

    @property
    def current_step(self) -> str | None:
        """The name of the step whose page awaits the user (None once the run is complete)."""
        return self._view().current_step

    @property
    def state(self) -> str:
        """The run's state (``awaiting_input``, ``failed``, ``complete``, ...)."""
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
        if step.state != StepState.AWAITING_INPUT.value:
            raise StepStateError(
                f"step {step.name!r} is {step.state}; {action}() needs it awaiting input"
                + ("; call run.rerun() first" if step.state == StepState.FAILED.value else "")
            )
        return step

    # --- moving ------------------------------------------------------------------------------

    def next(self) -> FlowRun:
        """Check required inputs, run the current step's action, then run the next step.

        Raises ``MissingInputError`` (nothing moves) when required inputs are missing,
        ``StepStateError`` when the run's state does not allow it, and ``StepFailedError`` when
        step code raises (the step is then ``failed`` and can be re-run).
        """
        view = self._view()
        step_row = _check_next(view)
        step = self.flow.step(step_row.name)
        run_service.set_step_state(self.flow_id, step.name, StepState.ACTING)
        self._act(step)
        return self

    def _act(self, step: Step) -> None:
        """The action of ``step`` (already ``acting``), then the next step or the run's completion."""
        try:
            if not (step.overrides_action and step.override_skips_default):
                page_service.run_default_action(self._view(), step.name)
            if step.overrides_action:
                with progress_service.running_step(self.flow_id, step.name):
                    step.action_override(self._metadata(step, is_action=True))
        except Exception as exc:
            self._fail(step, exc)
        run_service.set_step_state(self.flow_id, step.name, StepState.COMPLETE)
        position = self.flow.step_names.index(step.name)
        if position + 1 < len(self.flow.steps):
            self._run_step(self.flow.steps[position + 1])
        else:
            run_service.complete_run(self.flow_id)

    def back(self) -> FlowRun:
        """Reopen the previous step with its page and values as they were; later steps go stale."""
        view = self._view()
        step_row = run_service.check_state(view, "back")
        # a complete run reopens its last step; otherwise the step before the current one
        target = step_row.name if view.current_step is None else view.steps[step_row.position - 1].name
        run_service.reopen_step(self.flow_id, target)
        return self

    def rerun(self) -> FlowRun:
        """Run the current step again from its initial page (e.g. after it failed)."""
        view = self._view()
        if view.current_step is None:
            raise StepStateError(f"run {self.flow_id!r} is complete; there is no current step to re-run")
        self._run_step(self.flow.step(view.current_step))
        return self

    def run_first_step(self) -> FlowRun:
        """Run the first step of a run made by :func:`create_run` (``StepFailedError`` if it raises)."""
        self._run_step(self.flow.steps[0])
        return self

    def perform(self, action: str) -> FlowRun:
        """Carry out an action claimed with :func:`claim_action` (what executors call).

        The claim already checked the action against the run's state and marked the step it
        concerns ``running`` or ``acting``, so this does the work without checking again. Step
        failures are recorded on the step and raised as ``StepFailedError``, as with :meth:`next`.
        """
        if action not in ACTIONS:
            raise ValidationError(f"unknown action {action!r}; use one of {list(ACTIONS)}")
        claimed = _claimed_step(self._view())
        if claimed is None:
            raise StepStateError(
                f"run {self.flow_id!r} has no claimed step for {action}(); "
                "submit the action through an executor (flowdeck.flow.executors.get_executor())"
            )
        step = self.flow.step(claimed.name)
        if action in ("start", "rerun"):
            self._run_step(step)
        elif action == "next":
            self._act(step)
        else:
            run_service.reopen_step(self.flow_id, step.name)
        return self

    # --- internals ---------------------------------------------------------------------------

    def _metadata(self, step: Step, is_action: bool = False) -> FlowMetadata:
        return FlowMetadata(self.flow_id, step.name, self.principal.name, is_action)

    def _fail(self, step: Step, exc: BaseException) -> None:
        run_service.set_step_state(
            self.flow_id,
            step.name,
            StepState.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            traceback="".join(tb_module.format_exception(exc)),
        )
        raise StepFailedError(
            f"step {step.name!r} of run {self.flow_id!r} failed: {type(exc).__name__}: {exc}; "
            "fix the cause and call run.rerun()",
            run=self,
            flow_id=self.flow_id,
            step_name=step.name,
        ) from exc

    def _run_step(self, step: Step) -> None:
        attempt = run_service.begin_step(self.flow_id, step.name)
        page_service.start_attempt(self.flow_id, step.name, attempt, step.page)
        try:
            with progress_service.running_step(self.flow_id, step.name):
                step.run(self._metadata(step))
        except Exception as exc:
            self._fail(step, exc)
        run_service.set_step_state(self.flow_id, step.name, StepState.AWAITING_INPUT)

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
    return FlowRun(flow, run_id, principal)


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
    view = run_service.load_run(flow_id, principal)
    return FlowRun(flow_of(view), flow_id, principal)


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
    return [run_service.flow_status(run_service.load_run(r.id, principal)) for r in run_service.list_runs(principal)]


# --- claims: the run's state says an action is on its way ------------------------------------------

_BUSY_STATES = run_service.BUSY_STATES


@dataclass(frozen=True)
class Claim:
    """What :func:`claim_action` changed, so :func:`release_claim` can undo it if the work never starts."""

    flow_id: str
    action: str
    step_name: str
    step_state: str
    run_state: str
    current_step: str | None


def _check_next(view: run_service.RunView) -> Any:
    step_row = run_service.check_state(view, "next")
    missing = page_service.missing_required_inputs(view, step_row.name)
    if missing:
        raise MissingInputError(
            f"step {step_row.name!r} needs input before next(): " + ", ".join(repr(m) for m in missing),
            missing,
        )
    return step_row


def _claimed_step(view: run_service.RunView) -> Any:
    return next((s for s in view.steps if s.state in _BUSY_STATES), None)


def _busy_error(view: run_service.RunView) -> StepStateError:
    step = _claimed_step(view)
    what = f"step {step.name!r} ({step.state})" if step is not None else "a step"
    return StepStateError(f"run {view.id!r} is busy with {what}; wait for it to finish")


def claim_action(flow_id: str, user: str | Principal | None, action: str) -> Claim:
    """Check that ``action`` may happen now and mark the run busy with it, in the database.

    ``start`` and ``rerun`` mark their step ``running``; ``next`` marks the current step
    ``acting``; ``back`` marks the step it reopens ``acting``. Another process (a worker) then
    carries it out with :meth:`FlowRun.perform`. Raises ``StepStateError`` when the run is busy
    already or its state does not allow the action, and ``MissingInputError`` for ``next`` with
    required inputs missing; nothing changes then.
    """
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}; use one of {list(ACTIONS)}")
    principal = user if isinstance(user, Principal) else resolve_principal(user)
    view = run_service.load_run(flow_id, principal)
    if view.run.state in _BUSY_STATES or _claimed_step(view) is not None:
        raise _busy_error(view)
    if action == "start":
        if view.run.state != "pending":
            raise StepStateError(f"run {flow_id!r} has started already; use next(), back() or rerun()")
        target, new_state = view.steps[0], StepState.RUNNING
    elif action == "next":
        target, new_state = _check_next(view), StepState.ACTING
    elif action == "back":
        step_row = run_service.check_state(view, "back")
        target = step_row if view.current_step is None else view.steps[step_row.position - 1]
        new_state = StepState.ACTING
    else:
        if view.current_step is None:
            raise StepStateError(f"run {flow_id!r} is {view.run.state}; there is no current step to re-run")
        target, new_state = view.step(view.current_step), StepState.RUNNING
    claim = Claim(flow_id, action, target.name, target.state, str(view.run.state), view.current_step)
    if not run_service.claim_step(flow_id, target.name, target.state, view.current_step, new_state):
        raise _busy_error(run_service.load_run(flow_id, principal))
    return claim


def release_claim(claim: Claim) -> None:
    """Put the run back as it was before ``claim`` (the work was never handed to anyone)."""
    run_service.restore_step(claim.flow_id, claim.step_name, claim.step_state, claim.run_state, claim.current_step)


def record_failure(flow_id: str, exc: BaseException) -> None:
    """Record ``exc`` on the run's busy step (failed, with the traceback) when it arose outside step code.

    Executors call it when a claimed action could not even begin (e.g. the flow failed to import
    in a worker), so the run does not stay busy for ever.
    """
    run_service.fail_busy_steps(
        flow_id, error=f"{type(exc).__name__}: {exc}", traceback="".join(tb_module.format_exception(exc))
    )
