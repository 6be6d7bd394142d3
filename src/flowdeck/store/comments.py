"""Comments on a run's cards: cards shown with ``show_comments=True`` take comments from its users.

Whoever may view the run reads them; writing one needs the right to act on the run. A comment's
author may edit it; its author, the run's owner or an admin may delete it. To anyone who may not
see the run, neither the run nor its comments exist (``NotFoundError``). Every change is also a
``comment`` notice on the run's event stream (:mod:`flowdeck.store.notices`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from flowdeck.auth import access
from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.errors import AccessError, NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import comments as comment_records
from flowdeck.storage.records import pages as page_records
from flowdeck.storage.records._util import as_utc, utcnow
from flowdeck.store import notices
from flowdeck.store.runs import RunView, read_run, read_run_to_act, run_resource

__all__ = [
    "MAX_COMMENTS_PER_CARD",
    "MAX_COMMENT_CHARS",
    "CardComment",
    "add_comment",
    "delete_comment",
    "edit_comment",
    "list_comments",
]

#: The longest comment accepted, in characters.
MAX_COMMENT_CHARS = 10_000
#: The most comments one card of a run holds (all of them are listed at once).
MAX_COMMENTS_PER_CARD = 1_000


@dataclass(frozen=True)
class CardComment:
    """A comment on a card of a run: who wrote what, when, and when it was last changed."""

    id: str
    run_id: str
    card_id: str
    author: str
    text: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> CardComment:
        """The comment of a ``card_comments`` row."""
        return cls(
            row.id, row.run_id, row.card_id, row.author, row.text, as_utc(row.created_at), as_utc(row.updated_at)
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form the API answers with (times in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "card_id": self.card_id,
            "author": self.author,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _principal(user: str | Principal | None) -> Principal:
    return user if isinstance(user, Principal) else resolve_principal(user)


def _text(text: object) -> str:
    if not isinstance(text, str):
        raise ValidationError(f"a comment is text, got {type(text).__name__}")
    if not text.strip():
        raise ValidationError("a comment needs some text; it is empty")
    if len(text) > MAX_COMMENT_CHARS:
        raise ValidationError(f"a comment is at most {MAX_COMMENT_CHARS:,} characters; this one has {len(text):,}")
    return text


def _cards(node: Any) -> Iterator[dict[str, Any]]:
    """Every card (a dict with a ``card_type``) in a page's JSON, containers' cards too."""
    if isinstance(node, dict):
        if "card_type" in node and "id" in node:
            yield node
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _cards(value)
    elif isinstance(node, list):
        for item in node:
            yield from _cards(item)


def _card(conn: Connection, view: RunView, card_id: str) -> dict[str, Any]:
    """The card ``card_id`` on the newest page of one of the run's steps; it must show comments."""
    if not isinstance(card_id, str) or not card_id:
        raise NotFoundError(f"run {view.id!r} has no card {card_id!r}")
    for step in view.steps:
        if step.state == "pending":
            continue
        row = page_records.latest_page(conn, view.id, step.name, max(step.attempt, 1))
        if row is None or card_id not in row.document:
            continue
        for card in _cards(json.loads(row.document)):
            if card.get("id") == card_id:
                if not card.get("show_comments"):
                    raise ValidationError(
                        f"card {card.get('title') or card_id!r} does not take comments; "
                        "a flow shows comments on a card with Card(..., show_comments=True)"
                    )
                return card
    raise NotFoundError(f"run {view.id!r} has no card {card_id!r} on any of its pages")


def _existing(conn: Connection, run_id: str, comment_id: str) -> CardComment:
    row = comment_records.get_comment(conn, run_id, comment_id) if isinstance(comment_id, str) else None
    if row is None:
        raise NotFoundError(f"run {run_id!r} has no comment {comment_id!r}")
    return CardComment.from_row(row)


def _notify(conn: Connection, run_id: str, action: str, comment: dict[str, Any], by: str) -> None:
    notices.record(conn, run_id, "comment", {"action": action, "comment": comment, "by": by})


def add_comment(flow_id: str, card_id: str, text: str, user: str | Principal | None = None) -> CardComment:
    """Leave a comment on card ``card_id`` (a card with ``show_comments=True``) of run ``flow_id``."""
    who = _principal(user)
    body = _text(text)
    with get_storage().db.write() as conn:
        view = read_run_to_act(conn, flow_id, who, "comment on")
        card = _card(conn, view, card_id)
        if comment_records.count_comments(conn, flow_id, card_id) >= MAX_COMMENTS_PER_CARD:
            raise ValidationError(
                f"card {card.get('title') or card_id!r} has {MAX_COMMENTS_PER_CARD:,} comments, the most a card "
                "holds; delete some before adding more"
            )
        now = utcnow()
        comment = CardComment(uuid.uuid4().hex, flow_id, card_id, who.name, body, now, now)
        comment_records.insert_comment(conn, comment.id, flow_id, card_id, who.name, body, now)
        _notify(conn, flow_id, "added", comment.to_json(), who.name)
    return comment


def list_comments(flow_id: str, card_id: str, user: str | Principal | None = None) -> list[CardComment]:
    """The comments on card ``card_id`` of run ``flow_id``, oldest first (whoever may view the run)."""
    who = _principal(user)
    with get_storage().db.read() as conn:
        view = read_run(conn, flow_id, who)
        _card(conn, view, card_id)
        rows = comment_records.list_comments(conn, flow_id, card_id, MAX_COMMENTS_PER_CARD)
        return [CardComment.from_row(row) for row in rows]


def edit_comment(flow_id: str, comment_id: str, text: str, user: str | Principal | None = None) -> CardComment:
    """Change the text of a comment; only its author may."""
    who = _principal(user)
    body = _text(text)
    with get_storage().db.write() as conn:
        read_run_to_act(conn, flow_id, who, "comment on")
        comment = _existing(conn, flow_id, comment_id)
        if comment.author != who.name:
            raise AccessError(f"only {comment.author!r} may edit their comment {comment_id!r}, not {who.name!r}")
        now = utcnow()
        comment_records.update_comment(conn, flow_id, comment_id, body, now)
        edited = CardComment(comment.id, flow_id, comment.card_id, comment.author, body, comment.created_at, now)
        _notify(conn, flow_id, "edited", edited.to_json(), who.name)
    return edited


def delete_comment(flow_id: str, comment_id: str, user: str | Principal | None = None) -> None:
    """Delete a comment: its author, the run's owner or an admin may."""
    who = _principal(user)
    with get_storage().db.write() as conn:
        view = read_run_to_act(conn, flow_id, who, "comment on")
        comment = _existing(conn, flow_id, comment_id)
        if comment.author != who.name and not access.can_manage(who, run_resource(view.run)):
            raise AccessError(
                f"user {who.name!r} may not delete comment {comment_id!r}: only its author {comment.author!r}, "
                f"the run's owner {view.run.owner!r} or an admin may"
            )
        comment_records.delete_comment(conn, flow_id, comment_id)
        _notify(conn, flow_id, "deleted", {"id": comment.id, "card_id": comment.card_id}, who.name)
