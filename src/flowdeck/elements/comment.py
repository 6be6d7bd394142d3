"""Comments people leave on cards and elements."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flowdeck.elements.base import StrictInit
from flowdeck.errors import AccessError, NotFoundError, ValidationError

__all__ = ["Comment", "find_comment"]


class Comment(StrictInit):
    """A message left by ``commenter``, with when it was written and last edited."""

    def __init__(self, commenter: str, message: str) -> None:
        """Create a comment by ``commenter``."""
        if not isinstance(commenter, str) or not commenter:
            raise ValidationError(f"a comment needs its commenter's name, got {commenter!r}")
        if not isinstance(message, str):
            raise ValidationError(f"a comment's message must be text, got {type(message).__name__}")
        self.commenter = commenter
        self.message = message
        self.time_created = dt.datetime.now(dt.UTC).isoformat()
        self.last_edited: str | None = None
        self.id = uuid.uuid4().hex

    def edit(self, new_message: str, editor: str) -> None:
        """Change the message; only its commenter may."""
        if editor != self.commenter:
            raise AccessError(f"only {self.commenter!r} may edit their comment {self.id!r}, not {editor!r}")
        if not isinstance(new_message, str):
            raise ValidationError(f"a comment's message must be text, got {type(new_message).__name__}")
        self.message = new_message
        self.last_edited = dt.datetime.now(dt.UTC).isoformat()

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "commenter": self.commenter,
            "message": self.message,
            "time_created": self.time_created,
            "last_edited": self.last_edited,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Comment:
        """Rebuild a comment from :meth:`to_json` output."""
        comment = cls(data["commenter"], data["message"])
        comment.id = data["id"]
        comment.time_created = data["time_created"]
        comment.last_edited = data.get("last_edited")
        return comment

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Comment) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


def find_comment(comments: Iterable[Comment], comment_id: str, owner: str) -> Comment:
    """The comment with id ``comment_id`` among ``comments``; NotFoundError naming ``owner`` if none."""
    for comment in comments:
        if comment.id == comment_id:
            return comment
    raise NotFoundError(f"{owner} has no comment {comment_id!r}")
