"""Runs without a person: start a registered flow by name and drive it with input parameters.

``input_parameters`` follows the SDK::

    {"steps": {step_name: {element_title: {"value": v, "card_title": c}}}}

Uploads (DataSource elements) take ``{"value": bytes_or_path, "filename": f}``. The run advances
while every required input of the current step is present and stops, awaiting input, at the first
step that lacks one. Only the public runner API (``start``, ``upload``, ``set_value``, ``next``)
moves the run, so a headless run is the same as one a person clicks through.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import inspect
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import resolve_principal
from flowdeck.config import get_settings
from flowdeck.errors import ConfigurationError, MissingInputError, StepFailedError, StepStateError, ValidationError
from flowdeck.flow.model import Flow
from flowdeck.flow.registry import load_registered_flow, record_origin_in
from flowdeck.flow.runner import FlowRun, create_run

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger("flowdeck.headless")

__all__ = [
    "advance_headless",
    "call_trigger_callback",
    "check_input_parameters",
    "create_headless_run",
    "hand_off_headless",
    "perform_headless",
    "run_headless",
    "trigger_flow_execution",
]


def check_input_parameters(flow: Flow, input_parameters: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The per-step inputs of ``input_parameters``, checked against the flow's step names."""
    if input_parameters is None:
        return {}
    if not isinstance(input_parameters, Mapping):
        raise ValidationError(
            f"input_parameters must be a dict like {{'steps': {{step: {{title: {{'value': v}}}}}}}}, "
            f"got {type(input_parameters).__name__}"
        )
    unknown_keys = set(input_parameters) - {"steps"}
    if unknown_keys:
        raise ValidationError(f"input_parameters takes only the key 'steps', got {sorted(unknown_keys)}")
    steps = input_parameters.get("steps") or {}
    if not isinstance(steps, Mapping):
        raise ValidationError(f"input_parameters['steps'] must map step names to inputs, got {type(steps).__name__}")
    names = flow.step_names
    unknown = [s for s in steps if s not in names]
    if unknown:
        raise ValidationError(f"flow {flow.name!r} has no step {unknown[0]!r}; its steps are {names}")
    out: dict[str, dict[str, Any]] = {}
    for step_name, inputs in steps.items():
        if not isinstance(inputs, Mapping):
            raise ValidationError(
                f"inputs of step {step_name!r} must map element titles to {{'value': ...}}, got {type(inputs).__name__}"
            )
        for title, spec in inputs.items():
            _check_input_spec(step_name, title, spec)
        out[step_name] = dict(inputs)
    return out


#: The keys of an input's ``{"value": v, "card_title": c, "filename": f}``.
_SPEC_KEYS = ("value", "card_title", "filename")


def _check_input_spec(step_name: str, title: Any, spec: Any) -> None:
    """Refuse, before any run exists, what no page could accept: a title or ``card_title``/``filename`` not text.

    Whether the title is on the step's page, and whether its element takes the value, is known only
    once the step has built its page (see :func:`_fill`).
    """
    if not isinstance(title, str):
        raise ValidationError(
            f"inputs of step {step_name!r} are keyed by element title (text), got {type(title).__name__} {title!r}"
        )
    if not isinstance(spec, Mapping):
        return  # a bare value
    # No input takes a dict as its value: a dict is always {"value": v, ...}.
    unknown = [key for key in spec if key not in _SPEC_KEYS]
    if unknown or "value" not in spec:
        hints = {key: difflib.get_close_matches(str(key), _SPEC_KEYS, 1, 0.6) for key in unknown}
        named = ", ".join(f"{key!r}" + (f" (did you mean {hints[key][0]!r}?)" if hints[key] else "") for key in unknown)
        raise ValidationError(
            f"input {title!r} of step {step_name!r}: "
            + (f"unknown key {named}; " if unknown else "")
            + ("" if "value" in spec else "no 'value'; ")
            + "an input is given as {'value': v} with optional 'card_title' (and 'filename' for an upload)"
        )
    for key in ("card_title", "filename"):
        given = spec.get(key)
        if given is not None and not isinstance(given, str):
            raise ValidationError(
                f"input {title!r} of step {step_name!r}: {key!r} must be text, got {type(given).__name__}"
            )


def _find_element(run: FlowRun, step_name: str, title: str, card_title: str | None) -> Any:
    """The element ``title`` (or id) of the current page; with ``card_title``, looked up in that card only.

    Input titles are unique in a page (``update_page`` refuses duplicates), so ``card_title`` never
    chooses among elements: it states where the element must be, and a missing card, or an element
    not in it, is refused (ValidationError).
    """
    page = run.page()
    if card_title:
        card = page.get_card_by_title(card_title, quiet=True)
        if card is None:
            cards = [c.title for c in page.cards]
            raise ValidationError(
                f"step {step_name!r} of run {run.flow_id!r} has no card {card_title!r}; its cards are {cards}"
            )
        element = next((e for e in card.elements if e.title == title or e.id == title), None)
    else:
        element = page.get_input_element(title)
    if element is None:
        titles = [e.title for e in page.input_elements]
        raise ValidationError(
            f"step {step_name!r} of run {run.flow_id!r} has no input {title!r}"
            + (f" in card {card_title!r}" if card_title else "")
            + f"; its inputs are {titles}"
        )
    return element


def _upload_bytes(title: str, value: Any, filename: str | None, allow_paths: bool) -> tuple[str, bytes]:
    if isinstance(value, bytes | bytearray | memoryview):
        return filename or title, bytes(value)
    if isinstance(value, str | os.PathLike) and not allow_paths:
        raise ValidationError(
            f"upload {title!r} takes the file's bytes here (base64 over the API), not a path on this machine"
        )
    if isinstance(value, str | os.PathLike):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValidationError(f"upload {title!r}: {str(path)!r} is not a file; pass bytes or an existing path")
        return filename or path.name, path.read_bytes()
    raise ValidationError(f"upload {title!r} takes bytes or a file path as its value, got {type(value).__name__}")


def _fill(run: FlowRun, step_name: str, inputs: Mapping[str, Any], allow_paths: bool) -> None:
    from flowdeck.elements import DataSource

    for title, spec in inputs.items():
        if isinstance(spec, Mapping) and "value" in spec:
            value, card_title, filename = spec["value"], spec.get("card_title"), spec.get("filename")
        else:
            value, card_title, filename = spec, None, None
        try:
            element = _find_element(run, step_name, title, card_title)
            if isinstance(element, DataSource):
                name, data = _upload_bytes(title, value, filename, allow_paths)
                run.upload(element.id, name, data)
            else:
                run.set_value(element.id, value)
        except ValidationError as exc:
            raise _Refused(step_name, title, exc) from exc


class _Refused(ValidationError):
    """An input parameter the run refused (the refusal's own message), with its step and input."""

    def __init__(self, step_name: str, title: str, refusal: ValidationError) -> None:
        super().__init__(str(refusal))
        self.step_name, self.title, self.refusal = step_name, title, refusal

    def without_run(self, run_id: str) -> ValidationError:
        """The same refusal for a caller whose run was deleted: it names no run, and the step and input."""
        text = str(self.refusal).replace(f" of run {run_id!r}", "").replace(f"run {run_id!r}", "the run")
        if f"step {self.step_name!r}" not in text or repr(self.title) not in text:
            text = f"step {self.step_name!r}, input {self.title!r}: {text}"
        return ValidationError(f"{text} (input_parameters refused: no run was started)")


def _drive(run: FlowRun, inputs: dict[str, dict[str, Any]], allow_paths: bool, delete_if_refused: bool = False) -> None:
    filled: set[str] = set()
    while True:
        step_name = run.current_step
        if step_name is None or run.state != "awaiting_input":
            return
        if step_name not in filled:
            try:
                _fill(run, step_name, inputs.get(step_name, {}), allow_paths)
            except _Refused as refused:  # every refusal of _fill
                if not delete_if_refused:
                    raise
                _delete_refused(run)
                raise refused.without_run(run.flow_id) from refused.refusal
            filled.add(step_name)
        try:
            run.next()
        except MissingInputError:
            return  # the run waits at this step for a person (or another call) to supply the input
        except StepFailedError:
            return  # the step is failed with its error recorded; the run's status shows it


def _delete_refused(run: FlowRun) -> None:
    """Delete a run whose input parameters were refused, for a caller that never got its flow_id."""
    from flowdeck.store import runs as run_service

    try:
        run_service.delete_run(run.flow_id, run.principal)
    except Exception:  # the refusal is what the caller must see; a run left behind is logged
        log.exception("could not delete run %s after its input parameters were refused", run.flow_id)


def create_headless_run(
    flow_name: str,
    user: str | None,
    input_parameters: Mapping[str, Any] | None = None,
    *,
    started_by: str | None = None,
    on_created: Callable[[Connection, str], None] | None = None,
) -> tuple[FlowRun, dict[str, dict[str, Any]]]:
    """Record a run of the registered flow ``flow_name`` without running any step.

    Returns the run and its checked per-step inputs. What started it (``started_by``, default
    ``"headless:<user>"``) is recorded in the transaction that records the run, and so is whatever
    ``on_created(conn, run_id)`` records.
    """
    flow = load_registered_flow(flow_name)
    inputs = check_input_parameters(flow, input_parameters)
    user = resolve_principal(user).name
    origin = started_by or f"headless:{user}"

    def created(conn: Connection, run_id: str) -> None:
        record_origin_in(conn, run_id, origin)
        if on_created is not None:
            on_created(conn, run_id)

    return create_run(flow, user, on_created=created), inputs


def advance_headless(
    run: FlowRun,
    inputs: Mapping[str, Mapping[str, Any]],
    allow_paths: bool = True,
    *,
    delete_if_refused: bool = False,
) -> bool:
    """Run the first step of a new run here, then drive it with ``inputs``; False when it was started already.

    Starting is atomic (the run's ``start`` is claimed once), so of several processes trying, one
    alone runs the run; the others get False and leave it alone. When filling inputs raises
    ValidationError (a title not on the page, a value its element refuses, an upload path that is
    not a file), that error is raised; with ``delete_if_refused`` the run is deleted first (for a
    caller that created the run and answers the refusal instead of its flow_id).
    """
    try:
        run.run_first_step()
    except StepFailedError:
        return True
    except StepStateError:
        return False  # another process started it
    _drive(run, dict(inputs), allow_paths, delete_if_refused)
    return True


def call_trigger_callback(spec: Mapping[str, Any], run_id: str, user: str, input_data: dict[str, Any]) -> None:
    """Call a trigger's stored callback (see :meth:`flowdeck.triggers.Trigger.configure`) for run ``run_id``.

    ``spec`` is what the trigger stored: the function's reference, ``kwargs``,
    ``pass_store_interface`` and ``step_name``. An ``async`` callback is run to its end here.
    """
    from flowdeck.elements.callbacks import callback_from_json
    from flowdeck.store.store_interface import StoreInterface

    func = callback_from_json(spec["callback"]).resolve()
    kwargs = dict(spec.get("kwargs") or {})
    if spec.get("pass_store_interface", True):
        store = StoreInterface(run_id, user=user, step_name=spec.get("step_name") or None)
        result = func(store, input_data, **kwargs)
    else:
        result = func(**kwargs)
    if inspect.isawaitable(result):
        _run_to_end(result)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _run_to_end(awaitable: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(awaitable))
    with ThreadPoolExecutor(1) as pool:  # a loop runs in this thread already: use a loop of its own
        # In this thread's context, so the coroutine acts for the same principal (``acting_as``).
        return pool.submit(contextvars.copy_context().run, asyncio.run, _awaited(awaitable)).result()


def hand_off_headless(
    run: FlowRun,
    inputs: Mapping[str, Mapping[str, Any]],
    queue: str | None = None,
    *,
    callback: Mapping[str, Any] | None = None,
) -> bool:
    """Queue the start (and driving) of a new run for a Celery worker; False when it was started already.

    The ``start`` action is claimed here (the run shows busy at once, in every process), and the
    task carries only JSON: the run id, its user, the claim's token, the inputs and the trigger's
    callback to call afterwards (``{"spec": ..., "input_data": ...}``), if any.
    """
    from flowdeck.flow.celery_app import headless_task
    from flowdeck.flow.executors import DEFAULT_QUEUE, redact_url
    from flowdeck.flow.runner import claim_action, release_claim

    try:
        claim = claim_action(run.flow_id, run.principal, "start", handoff=True)
    except StepStateError:
        return False
    try:
        headless_task.apply_async(
            args=(run.flow_id, run.user, claim.token, dict(inputs), dict(callback) if callback else None),
            task_id=claim.token,
            queue=queue or DEFAULT_QUEUE,
            retry=False,
        )
    except Exception as exc:
        release_claim(claim)
        raise ConfigurationError(
            f"could not queue the start of run {run.flow_id!r} on broker {redact_url(get_settings().broker_url)}: "
            f"{type(exc).__name__}: {exc}; start the broker or set FLOWDECK_BROKER_URL"
        ) from exc
    return True


def perform_headless(
    flow_id: str,
    user: str,
    token: str,
    inputs: Mapping[str, Mapping[str, Any]],
    callback: Mapping[str, Any] | None = None,
) -> None:
    """Carry out a handed-off start of a headless run, drive it with ``inputs``, then call the callback.

    What a worker does. A callback that raises is logged (the run has started; the tick says fired).
    """
    from flowdeck.flow.executors import perform
    from flowdeck.flow.runner import open_run

    perform(flow_id, user, "start", token)
    run = open_run(flow_id, user)
    _drive(run, dict(inputs), allow_paths=True)
    if callback:
        try:
            call_trigger_callback(callback["spec"], flow_id, user, dict(callback["input_data"]))
        except Exception:
            log.exception("the trigger callback of run %s failed", flow_id)


def run_headless(
    flow_name: str,
    user: str | None,
    input_parameters: Mapping[str, Any] | None = None,
    *,
    started_by: str | None = None,
    allow_paths: bool = True,
) -> str:
    """Start the registered flow ``flow_name`` as ``user`` and drive it with ``input_parameters``.

    Returns the new run's ``flow_id``. The run advances while required inputs are present and stops
    awaiting input at the first step lacking one; a failing step leaves the run ``failed`` (see
    ``flowdeck.open_run(flow_id).status()``). ``started_by`` records what started it (default
    ``"headless:<user>"``) and shows in run lists. ``allow_paths=False`` (what the REST API
    uses) refuses upload values that name a file on this machine.

    Input parameters that are refused raise ValidationError and leave no run: the shape and step
    names are checked before the run is created, and a run whose inputs are refused while it is
    driven (a title not on the step's page, a value its element refuses, an upload path that is not
    a file) is deleted before the error is raised. A missing required input or a failing step is not
    a refusal: the run is kept and its flow_id returned.
    """
    run, inputs = create_headless_run(flow_name, user, input_parameters, started_by=started_by)
    advance_headless(run, inputs, allow_paths, delete_if_refused=True)
    return run.flow_id


async def trigger_flow_execution(
    flow_name: str, store_interface: Any, input_parameters: Mapping[str, Any] | None = None
) -> str:
    """Start ``flow_name`` headless as the user of ``store_interface`` (the SDK's form); returns the flow_id.

    The steps run on a worker thread so the event loop stays free. As with :func:`run_headless`,
    refused input parameters raise ValidationError and leave no run.
    """
    user = getattr(store_interface, "user", None)
    if not isinstance(user, str):
        raise ValidationError("trigger_flow_execution() needs a StoreInterface (its user starts the run)")
    parent = getattr(store_interface, "flow_id", None)
    started_by = f"run:{parent}" if parent else f"headless:{user}"
    return await asyncio.to_thread(run_headless, flow_name, user, input_parameters, started_by=started_by)
