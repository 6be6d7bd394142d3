"""Comments on a run's cards."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage.schema import card_comments

__all__ = ["count_comments", "delete_comment", "get_comment", "insert_comment", "list_comments", "update_comment"]


def insert_comment(
    conn: Connection, comment_id: str, run_id: str, card_id: str, author: str, text: str, at: dt.datetime
) -> None:
    """Record a new comment on a card of a run."""
    conn.execute(
        sa.insert(card_comments).values(
            id=comment_id, run_id=run_id, card_id=card_id, author=author, text=text, created_at=at, updated_at=at
        )
    )


def get_comment(conn: Connection, run_id: str, comment_id: str) -> Row | None:
    """The comment ``comment_id`` of run ``run_id``, or None."""
    return conn.execute(
        sa.select(card_comments).where(card_comments.c.run_id == run_id, card_comments.c.id == comment_id)
    ).first()


def list_comments(conn: Connection, run_id: str, card_id: str, limit: int = 1000) -> list[Row]:
    """The comments on one card of a run, oldest first."""
    return conn.execute(
        sa.select(card_comments)
        .where(card_comments.c.run_id == run_id, card_comments.c.card_id == card_id)
        .order_by(card_comments.c.created_at, card_comments.c.id)
        .limit(limit)
    ).all()


def count_comments(conn: Connection, run_id: str, card_id: str) -> int:
    """How many comments one card of a run has."""
    query = sa.select(sa.func.count()).where(card_comments.c.run_id == run_id, card_comments.c.card_id == card_id)
    return int(conn.execute(query).scalar_one())


def update_comment(conn: Connection, run_id: str, comment_id: str, text: str, at: dt.datetime) -> bool:
    """Change a comment's text; False when there is no such comment."""
    result = conn.execute(
        sa.update(card_comments)
        .where(card_comments.c.run_id == run_id, card_comments.c.id == comment_id)
        .values(text=text, updated_at=at)
    )
    return bool(result.rowcount)


def delete_comment(conn: Connection, run_id: str, comment_id: str) -> bool:
    """Delete a comment; False when there is no such comment."""
    result = conn.execute(
        sa.delete(card_comments).where(card_comments.c.run_id == run_id, card_comments.c.id == comment_id)
    )
    return bool(result.rowcount)
