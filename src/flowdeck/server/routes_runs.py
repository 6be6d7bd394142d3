"""The flow catalogue, runs, step pages, element values, uploads, step actions and live events."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.formparsers import MultiPartParser

from flowdeck.auth import access
from flowdeck.auth.users import Principal, peek_principal
from flowdeck.elements.base import check_value_depth
from flowdeck.errors import (
    NotFoundError,
    StepStateError,
    ValidationError,
)
from flowdeck.flow.registry import origins_of
from flowdeck.flow.runner import FlowRun, cancel_run, create_run, flow_of, fork_run
from flowdeck.server import events as live
from flowdeck.server.auth import Identity
from flowdeck.server.deps import ServerState, current_identity, current_principal, server_state, still_logged_in
from flowdeck.server.executor import busy_action_of
from flowdeck.server.redaction import client_page, client_response, client_text
from flowdeck.store import lifecycle
from flowdeck.store import notices as notice_service
from flowdeck.store import pages as page_service
from flowdeck.store import runs as run_service
from flowdeck.store.runs import RunView

__all__ = ["PayloadTooLarge", "router"]

router = APIRouter(prefix="/api", tags=["runs"])

#: How often the event streams of this process look for new progress events and status changes
#: (one poll for all of them: :mod:`flowdeck.server.events`).
POLL_SECONDS = live.POLL_SECONDS
#: A status event that differs from the last one only in progress figures waits this long after it.
STATUS_SECONDS = 1.0
#: How long one event stream stays open; browsers reconnect on their own (with Last-Event-ID).
STREAM_SECONDS = 300.0
#: An open event stream checks again, at least this often, that its follower may still see the run
#: (a share revoked in another process, a group left); at once after an unshare in this process.
ACCESS_RECHECK_SECONDS = 5.0
_ACTIVE_STATES = {"pending", "running", "acting"}  # with no action in flight, only a run never started


class PayloadTooLarge(ValidationError):
    """An upload over the server's size limit (413)."""


class StartBody(BaseModel):
    """Which flow to start."""

    flow: str = Field(min_length=1, max_length=500)


class ShareBody(BaseModel):
    """Users and groups to share with."""

    users: list[str] = Field(default_factory=list, max_length=200)
    groups: list[str] = Field(default_factory=list, max_length=200)


#: Whom a share names: a user or a group (the path segment of the unshare routes).
PrincipalKind = Literal["user", "group"]


class ValueBody(BaseModel):
    """A new value for an input element (a selection, text, or a [low, high] pair)."""

    value: Any = None


def _can_manage(view: RunView, principal: Principal) -> bool:
    return access.can_manage(principal, run_service.run_resource(view.run))


def status_json(view: RunView, principal: Principal) -> dict[str, Any]:
    """A run's status as the API shows it, with ``busy`` (an action in flight) and ``can_manage``.

    ``busy`` is read from the same snapshot of the run as the rest (the executors keep the mark
    in the run's step states), so the status is consistent and costs no further reads.
    """
    data = run_service.flow_status(view).to_dict()
    action = busy_action_of(view)
    data["busy"] = action is not None
    data["busy_action"] = action
    data["can_manage"] = _can_manage(view, principal)
    if not data["can_manage"]:
        # Tracebacks name server paths and code: only the owner and admins see them.
        for step in data.get("steps", []):
            if step.get("traceback"):
                step["traceback"] = None
    return data


# --- catalogue and runs ----------------------------------------------------------------------------


@router.get("/flows", tags=["flows"])
def list_flows(
    _: Principal = Depends(current_principal), state: ServerState = Depends(server_state)
) -> list[dict[str, Any]]:
    """The flows this server offers."""
    return [registered.to_json() for registered in state.catalogue]


@router.get("/runs")
def list_runs(principal: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """Runs the caller may see (their own, those shared with them; all for admins), newest first."""
    views = run_service.list_runs(principal)
    stale = [v.id for v in views if v.run.lease_expired()]
    if stale:  # an action whose process died: fail its step, then read again
        for run_id in stale:
            lifecycle.expire_stale(run_id)
        views = run_service.list_runs(principal)
    origins = origins_of([view.id for view in views])
    return [{**status_json(view, principal), "started_by": origins.get(view.id, view.run.owner)} for view in views]


@router.post("/runs", status_code=201)
def start_run(
    body: StartBody, principal: Principal = Depends(current_principal), state: ServerState = Depends(server_state)
) -> JSONResponse:
    """Create a run of a flow of the catalogue; its first step runs on the executor (the run is busy).

    Answers 201 at once; follow the first step with ``GET /api/runs/{id}/events``. A first step
    that fails leaves the run ``failed`` (the status shows the error).
    """
    registered = state.catalogue.get(body.flow)
    run = create_run(registered.flow, user=principal.name)
    try:
        state.executor.submit(run.flow_id, principal, "start")
    except Exception:
        run_service.delete_run(run.flow_id, principal)  # nothing will ever run it
        raise
    view = run_service.load_run(run.flow_id, principal)
    return JSONResponse(status_json(view, principal), status_code=201)


@router.get("/runs/{run_id}")
def get_run(run_id: str, principal: Principal = Depends(current_principal)) -> dict[str, Any]:
    """A run's state and each step's state, progress, message, timings and error."""
    return status_json(lifecycle.load(run_id, principal), principal)


@router.delete("/runs/{run_id}", status_code=204)
def delete_run(run_id: str, principal: Principal = Depends(current_principal)) -> Response:
    """Delete a run with its outputs, pages and uploads (assets stay); owner or admin only."""
    if busy_action_of(lifecycle.load(run_id, principal)) is not None:  # 404 before 409 for strangers
        raise StepStateError(f"run {run_id!r} is busy with a step; delete it once the step has finished")
    run_service.delete_run(run_id, principal)
    return Response(status_code=204)


@router.post("/runs/{run_id}/share", status_code=204)
def share_run(run_id: str, body: ShareBody, principal: Principal = Depends(current_principal)) -> Response:
    """Let existing users and groups view and continue the run; owner or admin only (404 for unknown users)."""
    run_service.share_run(run_id, principal, body.users, body.groups)
    return Response(status_code=204)


@router.get("/runs/{run_id}/shares")
def run_shares(run_id: str, principal: Principal = Depends(current_principal)) -> list[dict[str, str]]:
    """Whom the run is shared with, as ``{"kind": "user"|"group", "name": ...}``; owner or admin only."""
    return [{"kind": kind, "name": name} for kind, name in run_service.run_shares(run_id, principal)]


@router.delete("/runs/{run_id}/shares/{kind}/{name}", status_code=204)
def unshare_run(
    run_id: str, kind: PrincipalKind, name: str, principal: Principal = Depends(current_principal)
) -> Response:
    """Stop sharing the run with one user or group; owner or admin only (repeating it is a no-op)."""
    users, groups = ([name], []) if kind == "user" else ([], [name])
    run_service.unshare_run(run_id, principal, users, groups)
    live.revoked_access()  # open streams of whoever lost access end now, not at their next check
    return Response(status_code=204)


# --- pages and inputs ------------------------------------------------------------------------------


def _editable(view: RunView, step_name: str) -> bool:
    return view.current_step == step_name and view.awaiting_input


@router.get("/runs/{run_id}/steps/{step_name}/page")
def get_page(run_id: str, step_name: str, principal: Principal = Depends(current_principal)) -> Response:
    """A step's page as JSON (sections, cards, elements with their values), and whether it is editable.

    Callbacks show as ``{"callback_type": "function", "meta": ...}``: never where their code lives.
    """
    view = lifecycle.load(run_id, principal)
    step = view.step(step_name)
    head = {
        "run_id": view.id,
        "step": step_name,
        "title": step.title,
        "state": step.state,
        "editable": _editable(view, step_name),
    }
    page = client_page(view.id, step_name, page_service.page_document(view, step_name))
    body = json.dumps(head, separators=(",", ":"))[:-1] + ',"page":' + page + "}"
    return Response(body, media_type="application/json")


def _current_run(run_id: str, step_name: str, principal: Principal, action: str) -> FlowRun:
    view = lifecycle.load(run_id, principal)
    view.step(step_name)
    if busy_action_of(view) is not None:
        raise StepStateError(f"run {run_id!r} is busy with a step; {action} once it has finished")
    if view.current_step != step_name:
        raise StepStateError(
            f"step {step_name!r} is not the current step of run {run_id!r} "
            f"(the current step is {view.current_step!r}); go back to it to change its inputs"
        )
    return FlowRun(flow_of(view), run_id, principal)


@router.put("/runs/{run_id}/steps/{step_name}/elements/{element}/value", response_model=dict[str, Any])
def set_value(
    run_id: str,
    step_name: str,
    element: str,
    body: ValueBody,
    principal: Principal = Depends(current_principal),
) -> Response:
    """Set an input element of the current step (by element id or title); 422 for a bad value."""
    check_value_depth(body.value, "the value")
    run = _current_run(run_id, step_name, principal, "set values")
    run.set_value(element, body.value, step_name=step_name)
    found = page_service.find_element(run.page(step_name), element)
    return client_response({"element": found.to_json() if found is not None else None})


async def _read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"the upload is {int(declared):,} bytes, over the limit of {limit:,} bytes (setting max_upload_bytes)"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the upload is over the limit of {limit:,} bytes (setting max_upload_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "/runs/{run_id}/steps/{step_name}/elements/{element}/upload",
    openapi_extra=_UPLOAD_BODY,
    response_model=dict[str, Any],
)
async def upload(
    run_id: str,
    step_name: str,
    element: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    state: ServerState = Depends(server_state),
) -> Response:
    """Upload a file (multipart field ``file``) to a DataSource of the current step.

    The body is read into memory up to the upload limit (413 beyond it); the file's type is checked
    by its content (422 with the reason).
    """
    run = await run_in_threadpool(_current_run, run_id, step_name, principal, "upload")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ValidationError("send the file as multipart/form-data in a field named 'file'")
    # Multipart framing adds a little around the file; the file itself is checked exactly below.
    body = await _read_limited(request, state.max_upload_bytes + 64 * 1024)

    async def replay() -> AsyncIterator[bytes]:
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=10).parse()
    except Exception as exc:  # starlette's MultiPartException and parser errors
        raise ValidationError(f"the multipart body could not be read: {exc}") from exc
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise ValidationError("send the file in a multipart field named 'file'")
    data = await file.read()
    filename = file.filename or "upload"
    await file.close()
    body = b""  # the file is in ``data`` now: hold its bytes once while it is parsed
    if len(data) > state.max_upload_bytes:
        raise PayloadTooLarge(
            f"file {filename!r} is {len(data):,} bytes, over the limit of {state.max_upload_bytes:,} bytes "
            "(setting max_upload_bytes)"
        )
    await run_in_threadpool(run.upload, element, filename, data, step_name=step_name)
    page = await run_in_threadpool(run.page, step_name)
    found = page_service.find_element(page, element)
    return client_response({"element": found.to_json() if found is not None else None})


# --- step actions ----------------------------------------------------------------------------------


def _last_event_id(run_id: str) -> int:
    newest = live.last_event_ids(run_id, 1)
    return newest[0] if newest else 0


def _accepted(run_id: str, principal: Principal, last_event_id: int) -> JSONResponse:
    """202 with the run's status and ``last_event_id``: stream events after it to see this action's."""
    view = lifecycle.load(run_id, principal)
    return JSONResponse({**status_json(view, principal), "last_event_id": last_event_id}, status_code=202)


def _submit(run_id: str, principal: Principal, state: ServerState, action: str) -> JSONResponse:
    """Hand ``action`` to the executor, which checks it against the run's state (409/422) first."""
    run_service.load_run(run_id, principal)  # 404 for strangers before anything else
    last_event_id = _last_event_id(run_id)
    state.executor.submit(run_id, principal, action)
    return _accepted(run_id, principal, last_event_id)


@router.post("/runs/{run_id}/next", status_code=202)
def next_step(
    run_id: str, principal: Principal = Depends(current_principal), state: ServerState = Depends(server_state)
) -> JSONResponse:
    """Check required inputs (422 naming them), then run the step's action and the next step.

    Answers 202 at once; follow the step with ``GET /api/runs/{id}/events``.
    """
    return _submit(run_id, principal, state, "next")


@router.post("/runs/{run_id}/back", status_code=202)
def back(
    run_id: str, principal: Principal = Depends(current_principal), state: ServerState = Depends(server_state)
) -> JSONResponse:
    """Reopen the previous step with its inputs as they were; later steps become stale."""
    return _submit(run_id, principal, state, "back")


@router.post("/runs/{run_id}/rerun", status_code=202)
def rerun(
    run_id: str, principal: Principal = Depends(current_principal), state: ServerState = Depends(server_state)
) -> JSONResponse:
    """Run the current step again from its initial page (e.g. after it failed or was cancelled)."""
    return _submit(run_id, principal, state, "rerun")


@router.post("/runs/{run_id}/cancel")
def cancel(run_id: str, principal: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Cancel the step running now (409 when none is): it becomes ``cancelled`` and its code stops.

    The step's ``on_cancel`` hook runs before the answer; the run can then be re-run or stepped back.
    """
    view = lifecycle.load(run_id, principal)
    try:
        flow = flow_of(view)
    except Exception:  # the flow cannot be loaded here: cancel without running its hook
        flow = None
    cancel_run(run_id, principal, flow)
    return status_json(lifecycle.load(run_id, principal), principal)


class ForkBody(BaseModel):
    """The step the new run opens at."""

    step: str = Field(min_length=1, max_length=200)


@router.post("/runs/{run_id}/fork", status_code=201)
def fork(run_id: str, body: ForkBody, principal: Principal = Depends(current_principal)) -> JSONResponse:
    """Start a new run of the caller from step ``step`` of this run (earlier steps' results are reused).

    The new run opens at ``step`` with its inputs as they were; the original run is untouched.
    """
    new = fork_run(run_id, body.step, principal)  # as authenticated: a token may have lowered the role
    return JSONResponse(status_json(lifecycle.load(new.flow_id, principal), principal), status_code=201)


# --- live events -----------------------------------------------------------------------------------


def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {client_text(json.dumps(data, separators=(',', ':')))}\n\n"


def _idle(status: dict[str, Any]) -> bool:
    return not status["busy"] and status["state"] not in _ACTIVE_STATES


def _shape(status: dict[str, Any]) -> tuple[Any, ...]:
    """What a status says apart from progress figures: sent at once when it changes."""
    return (
        status["busy"],
        status["busy_action"],
        status["state"],
        status["current_step"],
        tuple((s["state"], s["attempt"], s["error"]) for s in status["steps"]),
    )


def _may_still_view(run_id: str, principal: Principal) -> bool:
    """Whether ``principal`` may still see run ``run_id``, with their groups and role read afresh.

    The role is never raised above the one the stream was opened with (an admin's token without
    the ``admin`` scope stays a plain user), only lowered when the user lost it since.
    """
    fresh = peek_principal(principal.name)
    who = Principal(principal.name, principal.role if fresh.is_admin else fresh.role, fresh.groups)
    try:
        run_service.load_run(run_id, who)
    except NotFoundError:
        return False
    return True


def _stream_start(run_id: str, principal: Principal, after: int | None) -> tuple[int, int]:
    """Check the caller may see the run; where its stream starts in progress events and in notices."""
    lifecycle.load(run_id, principal)
    if after is None:
        newest = live.last_event_ids(run_id, 2)
        after = newest[1] if len(newest) > 1 else 0
    return after, notice_service.last_notice_id(run_id)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def events(
    run_id: str,
    request: Request,
    after: int | None = Query(default=None, ge=0, le=2**62, description="Send progress events after this id."),
    until_idle: bool = Query(default=False, description="Close the stream once no step is running."),
    identity: Identity = Depends(current_identity),
) -> StreamingResponse:
    """Server-sent events: ``progress`` (completion, message, step), ``status`` (on every change),
    ``callback`` (a callback changed the page: its outcome without the drilldown or download, plus
    ``by``) and ``comment`` (``{"action": "added"|"edited"|"deleted", "comment": ..., "by": ...}``).

    Progress and notices are read from the database, so steps and callbacks running in any process
    show; ``callback`` and ``comment`` events are those after the stream opened. Without ``after``
    (or a ``Last-Event-ID`` header) the stream starts from the newest progress event. A status
    event is sent as soon as the run's state, current step or busy mark changes; one that differs
    only in progress figures at most every ``STATUS_SECONDS``. Access is checked when the stream
    opens and again while it is open (at once after an unshare in this process, else at least every
    ``ACCESS_RECHECK_SECONDS``); the stream ends with a ``deleted`` event if the run is deleted or
    the follower may no longer see it, and with a ``logout``
    event once the session or token it was opened with has ended. A ``Last-Event-ID`` that is not
    an event id is a 400.
    """
    principal = identity.principal
    start_after = after if after is not None else live.parse_last_event_id(request.headers.get("last-event-id"))
    start_after, notices_after = await run_in_threadpool(_stream_start, run_id, principal, start_after)

    async def stream() -> AsyncIterator[str]:
        subscription = live.subscribe(run_id, start_after, notices_after)
        try:
            last_status: dict[str, Any] | None = None
            status_sent_at = 0.0
            deadline = time.monotonic() + STREAM_SECONDS
            access_checked_at, epoch = time.monotonic(), live.access_epoch()
            yield "retry: 1000\n\n"
            while True:
                snapshot = await subscription.next()
                # Access is checked again before anything of this snapshot is sent: a follower whose
                # share was revoked learns nothing more of the run (to them it no longer exists).
                if snapshot.view is not None and (
                    live.access_epoch() != epoch or time.monotonic() - access_checked_at >= ACCESS_RECHECK_SECONDS
                ):
                    access_checked_at, epoch = time.monotonic(), live.access_epoch()
                    if not await run_in_threadpool(_may_still_view, run_id, principal):
                        yield _sse("deleted", {"run_id": run_id})
                        return
                for event in snapshot.events:
                    if event.id <= subscription.cursor:
                        continue
                    subscription.advance(event.id)
                    yield _sse(
                        "progress",
                        {
                            "id": event.id,
                            "step": event.step_name,
                            "completion": event.completion,
                            "message": event.message,
                            "page_update": event.page_update,
                        },
                        event.id,
                    )
                for notice in snapshot.notices:
                    if subscription.notice_cursor is not None and notice.id <= subscription.notice_cursor:
                        continue
                    subscription.advance_notice(notice.id)
                    yield _sse(notice.kind, notice.data)  # no id: Last-Event-ID counts progress events
                if snapshot.view is None:
                    yield _sse("deleted", {"run_id": run_id})
                    return
                if not await still_logged_in(identity):
                    yield _sse("logout", {"run_id": run_id})
                    return
                status = status_json(snapshot.view, principal)
                now = time.monotonic()
                if status != last_status and (
                    last_status is None
                    or _shape(status) != _shape(last_status)
                    or now - status_sent_at >= STATUS_SECONDS
                ):
                    last_status, status_sent_at = status, now
                    yield _sse("status", status)
                # Events are read after the status, so an idle run has had all its events sent.
                if until_idle and snapshot.complete and _idle(status):
                    if status != last_status:
                        yield _sse("status", status)
                    return
                if now > deadline or await request.is_disconnected():
                    return
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
