"""Headless runs over HTTP: other systems start a registered flow by name, with input parameters."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flowdeck.auth.users import acting_as
from flowdeck.config import get_settings
from flowdeck.errors import ValidationError
from flowdeck.flow.registry import list_registered_flows, origins_of
from flowdeck.server.auth import Identity
from flowdeck.server.deps import current_identity
from flowdeck.server.limits import InFlight, too_many_requests
from flowdeck.store import runs as run_service

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["headless"])
#: The headless runs each user, and the whole process, has running.
HEADLESS_RUNS = InFlight()


class HeadlessBody(BaseModel):
    """Input parameters as in the SDK: ``{"steps": {step: {element_title: {"value": v, "card_title": c}}}}``.

    An upload is ``{"base64": "<the file's bytes>", "filename": "sales.csv"}``.
    """

    steps: dict[str, dict[str, Any]] = Field(default_factory=dict)


def _decode_uploads(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for step, inputs in steps.items():
        out[step] = {}
        for title, spec in inputs.items():
            if isinstance(spec, Mapping) and "base64" in spec:
                try:
                    data = base64.b64decode(spec["base64"], validate=True)
                except (binascii.Error, TypeError, ValueError) as exc:
                    raise ValidationError(f"upload {title!r} of step {step!r}: 'base64' is not valid base64") from exc
                spec = {**{k: v for k, v in spec.items() if k != "base64"}, "value": data}
            out[step][title] = spec
    return out


@router.get("/registered-flows")
def registered_flows(_: Identity = Depends(current_identity)) -> list[dict[str, Any]]:
    """The flows registered by name in this deployment (those that can be started headless)."""
    return [{"name": f.name, "description": f.description} for f in list_registered_flows()]


@router.post("/flows/{name}/runs", status_code=201)
def start_headless(name: str, body: HeadlessBody, identity: Identity = Depends(current_identity)) -> JSONResponse:
    """Start the registered flow ``name`` as the caller and drive it with the input parameters.

    Answers once the run stops: complete, awaiting input at the first step that lacks a required
    input, or failed. The steps run on this request's thread, so a user may have
    ``headless_runs_per_user`` such requests running, and the server ``headless_runs_at_once``
    (429 ``TooManyRequests`` with ``Retry-After`` beyond): the other requests keep their threads.
    Refused input parameters (a step or element title that is not there, a value
    an element refuses, a path given for an upload) answer 422 and leave no run, since the steps
    run before this answers (see :func:`flowdeck.flow.headless.run_headless`). Works with an API
    token (``Authorization: Bearer …``).
    """
    from flowdeck.flow.headless import run_headless

    principal = identity.principal
    settings = get_settings()
    if not HEADLESS_RUNS.acquire(principal.name, settings.headless_runs_per_user, settings.headless_runs_at_once):
        return too_many_requests(
            f"too many headless runs are running (user {principal.name!r} may run "
            f"{settings.headless_runs_per_user} at once, the server {settings.headless_runs_at_once}); "
            "wait for them to finish and try again",
            5,
        )
    started_by = f"{'api' if identity.via == 'token' else 'web'}:{principal.name}"
    try:
        # The run's steps act with the role the request was authenticated with (a token may lower it).
        with acting_as(principal):
            flow_id = run_headless(
                name, principal.name, {"steps": _decode_uploads(body.steps)}, started_by=started_by, allow_paths=False
            )
    finally:
        HEADLESS_RUNS.release(principal.name)
    view = run_service.load_run(flow_id, principal)
    data = run_service.flow_status(view).to_dict()
    data["started_by"] = origins_of([flow_id]).get(flow_id)
    return JSONResponse(data, status_code=201)


# --- triggers -----------------------------------------------------------------------------------


@router.get("/triggers", tags=["triggers"])
def triggers(identity: Identity = Depends(current_identity)) -> list[dict[str, Any]]:
    """The triggers the caller may see (all for admins)."""
    from flowdeck.triggers import list_triggers

    return [t.to_dict() for t in list_triggers(identity.principal)]


@router.get("/triggers/{name}", tags=["triggers"])
def trigger(name: str, identity: Identity = Depends(current_identity)) -> dict[str, Any]:
    """A trigger with its newest ticks (time, outcome, reason, run, error, duration)."""
    from flowdeck.triggers import get_trigger

    info, ticks = get_trigger(name, identity.principal, ticks=100)
    return {**info.to_dict(), "ticks": [t.to_dict() for t in ticks]}


@router.post("/triggers/{name}/pause", status_code=204, tags=["triggers"])
def pause(name: str, identity: Identity = Depends(current_identity)) -> Response:
    """Stop checking a trigger."""
    from flowdeck.triggers import pause_trigger

    pause_trigger(name, identity.principal)
    return Response(status_code=204)


@router.post("/triggers/{name}/resume", status_code=204, tags=["triggers"])
def resume(name: str, identity: Identity = Depends(current_identity)) -> Response:
    """Check a paused trigger again."""
    from flowdeck.triggers import resume_trigger

    resume_trigger(name, identity.principal)
    return Response(status_code=204)
