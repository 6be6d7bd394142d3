"""Comments on a run's cards (cards shown with ``show_comments=True``).

Whoever may view the run reads them, whoever may act on it writes them; the author edits a
comment, the author, the run's owner or an admin deletes it. Followers of the run's event stream
see each change as a ``comment`` event.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from flowdeck.auth.users import Principal
from flowdeck.server.deps import current_principal
from flowdeck.store import comments as comment_service

__all__ = ["ErrorBody", "router"]

router = APIRouter(prefix="/api", tags=["comments"])


class ErrorBody(BaseModel):
    """An error: its type and what went wrong."""

    error: str
    detail: str


class CommentBody(BaseModel):
    """A comment's text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=comment_service.MAX_COMMENT_CHARS)


class CommentOut(BaseModel):
    """A comment on a card of a run."""

    id: str
    card_id: str
    author: str
    text: str
    created_at: str
    updated_at: str


_COMMENT_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The caller may not do this to the comment."},
    404: {"model": ErrorBody, "description": "No such run (or not visible to the caller), card or comment."},
    422: {"model": ErrorBody, "description": "Empty text, or a card that does not take comments."},
}


@router.get(
    "/runs/{run_id}/cards/{card_id}/comments",
    response_model=list[CommentOut],
    responses=_COMMENT_ERRORS,
)
def list_comments(run_id: str, card_id: str, principal: Principal = Depends(current_principal)) -> JSONResponse:
    """The comments on a card (one with ``show_comments=True``), oldest first; whoever may view the run."""
    comments = comment_service.list_comments(run_id, card_id, principal)
    return JSONResponse([comment.to_json() for comment in comments])


@router.post(
    "/runs/{run_id}/cards/{card_id}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=_COMMENT_ERRORS,
)
def add_comment(
    run_id: str, card_id: str, body: CommentBody, principal: Principal = Depends(current_principal)
) -> JSONResponse:
    """Leave a comment on a card; whoever may act on the run. Followers of the run see a ``comment`` event."""
    comment = comment_service.add_comment(run_id, card_id, body.text, principal)
    return JSONResponse(comment.to_json(), status_code=201)


@router.patch(
    "/runs/{run_id}/comments/{comment_id}",
    response_model=CommentOut,
    responses=_COMMENT_ERRORS,
)
def edit_comment(
    run_id: str, comment_id: str, body: CommentBody, principal: Principal = Depends(current_principal)
) -> JSONResponse:
    """Change a comment's text; only its author may."""
    return JSONResponse(comment_service.edit_comment(run_id, comment_id, body.text, principal).to_json())


@router.delete("/runs/{run_id}/comments/{comment_id}", status_code=204, responses=_COMMENT_ERRORS)
def delete_comment(run_id: str, comment_id: str, principal: Principal = Depends(current_principal)) -> Response:
    """Delete a comment: its author, the run's owner or an admin may."""
    comment_service.delete_comment(run_id, comment_id, principal)
    return Response(status_code=204)
