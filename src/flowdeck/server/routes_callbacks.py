"""Callbacks of a run's page: page updates, standard events, drilldowns, toggles, downloads.

``POST /api/runs/{run_id}/callbacks`` fires one callback and answers with only what changed: the
changed cards, the message, or the drilldown card. Every open browser on the run learns of the
change from a ``callback`` event on the run's event stream.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from flowdeck.auth import access
from flowdeck.auth.users import Principal
from flowdeck.errors import CallbackError, ValidationError
from flowdeck.flow.callbacks import EVENT_KINDS, CallbackEvent, fire
from flowdeck.server.deps import ServerState, current_principal, server_state
from flowdeck.server.redaction import client_response
from flowdeck.server.routes_comments import ErrorBody
from flowdeck.store import runs as run_service

__all__ = ["BadCallbackEvent", "router"]

router = APIRouter(prefix="/api", tags=["callbacks"])

#: The callback kinds a client may fire (``CallbackEvent.kind``).
EventKind = Literal[EVENT_KINDS]  # type: ignore[valid-type]


class BadCallbackEvent(ValidationError):
    """A callback event the server cannot read (answered 400)."""


class CallbackEventBody(BaseModel):
    """One callback to fire: what happened (``kind``) to which element or card (``target``, by title or id).

    ``value`` is the new value for ``set_value``, the row positions for ``select_rows``,
    ``{"row", "column", "value"}`` for ``edit_cell``, ``{filter: value}`` for ``filter``,
    ``true``/``false`` (open or closed) for ``toggle`` and ``{"filename", "data_base64"}`` for
    ``upload``; ``input_data`` is handed to the callback, e.g. ``{"row": 17}`` for a table row's
    ``drilldown`` (``{"action": title}`` picks a row action). ``target`` is left out only for
    ``refresh``.
    """

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    target: str | None = Field(default=None, max_length=500)
    value: Any = None
    input_data: dict[str, Any] | None = None


class DrilldownBody(BaseModel):
    """A drilldown's temporary card and how to show it."""

    card: dict[str, Any]
    type: str
    size: str | None = None


class CallbackOutcomeBody(BaseModel):
    """What a callback changed: only the parts the page must redraw, or what to show the user."""

    kind: str = Field(description="page_update, standard, drilldown, toggle, download or none")
    changed_cards: list[dict[str, Any]] = Field(description="The cards that changed (page JSON form), in page order.")
    removed_cards: list[str] = Field(description="Ids of cards no longer on the page.")
    message: str | None = Field(description="A standard event's message.")
    drilldown: DrilldownBody | None = Field(description="A drilldown's card (never saved on the page).")
    page_title: str | None = Field(description="The page's new title, when it changed.")
    next_disabled: list[str] = Field(description="Titles of cards that still keep Next disabled.")
    download: dict[str, Any] | None = Field(description="An asset to download: asset_id, filename, mime_type.")


class CallbackErrorBody(BaseModel):
    """A callback raised: the page is as it was. ``traceback`` only for the run's owner and admins."""

    error: Literal["CallbackError"]
    detail: str
    traceback: str | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Not a callback event."},
    403: {"model": ErrorBody, "description": "The caller may view the run but not act on it."},
    404: {"model": ErrorBody, "description": "No such run (or not visible to the caller), element or card."},
    409: {"model": ErrorBody, "description": "The run is busy, or its step does not await input."},
    422: {"model": CallbackErrorBody, "description": "The callback raised, or a bad value."},
}

_EVENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CallbackEventBody.model_json_schema()}},
    }
}


def parse_event(body: bytes) -> CallbackEvent:
    """The callback event of a request body; ``BadCallbackEvent`` (400) saying what is wrong otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCallbackEvent(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadCallbackEvent("the body is not JSON a callback can take: it is nested too deeply") from None
    try:
        checked = CallbackEventBody.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or 'body'}: {err.get('msg')}" for err in exc.errors()
        )
        raise BadCallbackEvent(
            f"not a callback event ({problems}); send "
            '{"kind": "set_value", "target": "Region", "value": "west", "input_data": null}'
        ) from None
    if checked.target is None and checked.kind != "refresh":
        raise BadCallbackEvent(f"a {checked.kind!r} event needs a target: the title or id of its element or card")
    try:
        return CallbackEvent.from_json(checked.model_dump())
    except (ValidationError, ValueError, TypeError, KeyError) as exc:
        raise BadCallbackEvent(f"not a callback event: {exc}") from None


def fire_event(run_id: str, principal: Principal, event: CallbackEvent) -> tuple[int, dict[str, Any]]:
    """Fire ``event`` on run ``run_id`` as ``principal``; the status and body to answer with.

    200 and the outcome (its ``callback`` notice for the run's event streams is stored with the
    page), or 422 and the error when the callback raised (its traceback only for the run's owner
    and admins). Runs on a callback thread.
    """
    try:
        return 200, fire(run_id, principal, event, notify=True).to_json()
    except CallbackError as exc:
        view = run_service.load_run(run_id, principal)
        may_debug = access.can_manage(principal, run_service.run_resource(view.run))
        return 422, {"error": "CallbackError", "detail": str(exc), "traceback": exc.traceback if may_debug else None}


@router.post(
    "/runs/{run_id}/callbacks",
    openapi_extra=_EVENT_BODY,
    response_model=CallbackOutcomeBody,
    responses=_ERRORS,
)
async def fire_callback(
    run_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    state: ServerState = Depends(server_state),
) -> Response:
    """Fire a callback of the run's current page and answer with what changed.

    The body is a callback event (``{"kind", "target", "value", "input_data"}``). A page update
    answers with the changed and removed cards, a standard event with its message, a drilldown
    with its temporary card (the page itself is unchanged). Other browsers on the run see a
    ``callback`` event on the run's event stream. 404 for a run the caller may not see or an
    element the page does not have, 403 for one they may view but not act on, 409 while the run is
    busy or its step does not await input, 422 when the callback raised (the page is as it was).
    """
    event = parse_event(await request.body())
    status, body = await state.callbacks.run(principal.name, fire_event, run_id, principal, event)
    # A fired callback's notice for the other followers was stored with its page (``notify=True``).
    return client_response(body, status)
