"""Running a flow: starting runs, moving between steps, and the run handle ``FlowRun``."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.config import get_settings
from flowdeck.errors import CallbackError, StepStateError, ValidationError
from flowdeck.flow.callbacks import CallbackEvent, CallbackOutcome, fire, reacts_to_value
from flowdeck.flow.loader import flow_file_version, flow_reference, load_flow, remember_flow, remembered_flow
from flowdeck.flow.model import Flow, FlowMetadata, check_step_page
from flowdeck.store import lifecycle
from flowdeck.store import pages as page_service
from flowdeck.store import runs as run_service
from flowdeck.store.status import FlowStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from flowdeck.page import Card, Page

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

    def set_value(self, title_or_id: str, value: Any, *, step_name: str | None = None) -> None:
        """Set an input element of the current step's page, by its title or element id.

        When the element has a ``page_update`` callback it runs too, as a callback of this user
        (see :meth:`fire`); if it raises, the value is not set and ``CallbackError`` is raised.
        ``step_name``: the step whose page the caller saw; ``StepStateError`` once it is not current.
        """
        view = self._view()
        step = self._awaiting_step(view, "set_value", step_name)
        page = page_service.get_page(view, step.name)
        element = page_service.find_element(page, title_or_id)
        if element is not None and reacts_to_value(page, element):
            self.fire(CallbackEvent("set_value", title_or_id, value))
            return
        page_service.set_value(view, step.name, title_or_id, value)

    def upload(self, title_or_id: str, filename: str, data: bytes, *, step_name: str | None = None) -> None:
        """Upload a file to a DataSource of the current step's page (type checked by content).

        When the DataSource has an ``on_upload_completion`` callback it runs too (see :meth:`fire`);
        if it raises, the upload is dropped and ``CallbackError`` is raised. ``step_name``: the step
        whose page the caller saw; ``StepStateError`` once it is not current.
        """
        view = self._view()
        step = self._awaiting_step(view, "upload", step_name)
        element = page_service.find_element(page_service.get_page(view, step.name), title_or_id)
        if element is None or getattr(element, "on_upload_completion", None) is None:
            page_service.upload(view, step.name, title_or_id, filename, data)
            return
        if isinstance(data, io.IOBase):
            data = data.read(get_settings().max_upload_bytes + 1)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValidationError(f"upload data must be bytes or a binary file object, got {type(data).__name__}")
        encoded = base64.b64encode(bytes(data)).decode("ascii")
        name = page_service.upload_filename(filename)
        self.fire(CallbackEvent("upload", title_or_id, {"filename": name, "data_base64": encoded}))

    # --- callbacks ---------------------------------------------------------------------------

    #: The Celery queue callbacks go to with ``FLOWDECK_EXECUTOR=celery`` (None: ``flowdeck``).
    callback_queue: str | None = None

    def fire(self, event: CallbackEvent | Mapping[str, Any]) -> CallbackOutcome:
        """Fire a callback of the current page as this handle's user (see :func:`flowdeck.flow.callbacks.fire`).

        The callback goes through the run lifecycle (``StepStateError`` while another action is in
        flight), never advances the step, and when it raises leaves the page as it was and raises
        ``CallbackError`` (``err.traceback``; ``err.run`` is this handle, ``err.step_name`` the step).
        """
        try:
            return fire(self.flow_id, self.principal, event, queue=self.callback_queue)
        except CallbackError as exc:
            exc.run = self
            raise

    def update_card(self, title_or_id: str, input_data: dict[str, Any] | None = None) -> CallbackOutcome:
        """Run a card's ``page_update`` callback (its "Update" button)."""
        return self.fire(CallbackEvent("update_card", title_or_id, None, input_data))

    def apply_filters(self, card_title_or_id: str, values: dict[str, Any]) -> CallbackOutcome:
        """Set a card's filters (``{filter title or id: value}``) and run its ``filter_update`` callback."""
        return self.fire(CallbackEvent("filter", card_title_or_id, dict(values)))

    def click(self, title_or_id: str, input_data: dict[str, Any] | None = None) -> str | Card | None:
        """Click a Button, RichText or InfographData: run its ``on_click``.

        Returns the message of a standard event (or the text a page update returned), the temporary
        card of a drilldown (never saved on the page), and None for a page update, a container
        toggle or a download (see :meth:`fire` for the whole outcome).
        """
        outcome = self.fire(CallbackEvent("click", title_or_id, None, input_data))
        if outcome.kind in ("standard", "page_update"):
            return outcome.message
        if outcome.kind == "drilldown":
            return outcome.drilldown_card()
        return None

    def drilldown(self, title_or_id: str, input_data: dict[str, Any] | None = None) -> Card:
        """Open a drilldown of an element (a Table's row action, ``{"action": title}`` picks one).

        Returns the temporary card the drilldown filled; it is never saved on the page.
        """
        outcome = self.fire(CallbackEvent("drilldown", title_or_id, None, input_data))
        card = outcome.drilldown_card()
        if card is None:
            raise ValidationError(
                f"{title_or_id!r} ran a {outcome.kind} callback, not a drilldown; use run.click() for it"
            )
        return card

    def select_rows(self, title_or_id: str, rows: list[int]) -> CallbackOutcome:
        """Select rows (positions) of a Table, and run its ``on_row_select`` callback."""
        return self.fire(CallbackEvent("select_rows", title_or_id, [int(r) for r in rows]))

    def edit_cell(self, title_or_id: str, row: int, column: str, value: Any) -> CallbackOutcome:
        """Change one cell of an editable Table, and run its ``on_edit_update`` callback."""
        return self.fire(CallbackEvent("edit_cell", title_or_id, {"row": row, "column": column, "value": value}))

    def refresh(self) -> CallbackOutcome:
        """Run the page's ``on_auto_refresh`` callback (what an open page does every few seconds)."""
        return self.fire(CallbackEvent("refresh"))

    def toggle(self, title_or_id: str, open: bool = True) -> CallbackOutcome:
        """Open (show) or close (hide) a Container card; closing runs its ``on_close``."""
        return self.fire(CallbackEvent("toggle", title_or_id, bool(open)))

    def _awaiting_step(self, view: run_service.RunView, action: str, step_name: str | None = None) -> Any:
        if step_name is not None and view.current_step != step_name:
            view.step(step_name)  # NotFoundError for a step the run does not have
            raise StepStateError(
                f"step {step_name!r} is not the current step of run {self.flow_id!r} (the current step is "
                f"{view.current_step!r}); {action}() changes only the current step's inputs"
            )
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
        code_version = self._code_version()
        claim = lifecycle.claim(
            self.flow_id, self.principal, action, take=True, flow=self.flow, code_version=code_version
        )
        lifecycle.execute(self.flow, claim, self.principal, FlowMetadata, self, code_version)
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


def create_run(
    flow: Flow, user: str | None = None, *, on_created: Callable[[Connection, str], None] | None = None
) -> FlowRun:
    """Record a new run of ``flow`` owned by ``user`` without running any step.

    Its first step is ``pending`` until an executor performs ``start`` (or
    :meth:`FlowRun.run_first_step` runs it here). ``on_created(conn, run_id)`` runs in the
    transaction that records the run (see :func:`flowdeck.store.runs.create_run`).
    """
    if not isinstance(flow, Flow):
        raise ValidationError(f"a run needs a Flow, got {type(flow).__name__}")
    if not flow.steps:
        raise ValidationError(f"flow {flow.name!r} has no steps; chain at least one step")
    for step in flow.steps:  # a page set after the step was made is checked before any run is recorded
        check_step_page(step.title, step.page)
    principal = resolve_principal(user)
    ref = flow_reference(flow)
    run_id = run_service.create_run(
        flow.name, ref, principal, [(s.name, s.title, s.type.value) for s in flow.steps], on_created=on_created
    )
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


def _initial_page(view: run_service.RunView, step_name: str) -> Page:
    """The page ``step_name`` of the run's flow starts with, as its definition gives it."""
    return flow_of(view).step(step_name).page


page_service.provide_initial_pages(_initial_page)


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
    return [run_service.flow_status(view) for view in lifecycle.list_runs(principal)]


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
