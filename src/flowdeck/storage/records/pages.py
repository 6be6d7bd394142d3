"""Page versions, uploads and future elements."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from flowdeck.storage import prepared
from flowdeck.storage.records._util import utcnow
from flowdeck.storage.schema import future_elements, pages, steps, uploads
from flowdeck.storage.values import StoredValue

__all__ = [
    "delete_future_elements_from",
    "delete_pages_after",
    "delete_uploads_after",
    "future_elements_for",
    "insert_future_element",
    "insert_page",
    "insert_upload",
    "last_upload_id",
    "latest_page",
    "latest_page_of_step",
    "latest_upload",
    "page_versions",
]


# Built once: pages are read and written on every step (see records/runs.py).
_ATTEMPT = (
    pages.c.run_id == sa.bindparam("b_run_id"),
    pages.c.step_name == sa.bindparam("b_step_name"),
    pages.c.attempt == sa.bindparam("b_attempt"),
)
_COUNT_VERSIONS = sa.select(sa.func.count()).select_from(pages).where(*_ATTEMPT)
_LATEST_PAGE = sa.select(pages).where(*_ATTEMPT).order_by(pages.c.version.desc()).limit(1)
# The next version number is taken in the INSERT itself: one statement instead of a SELECT and an INSERT.
_INSERT_PAGE = sa.insert(pages).from_select(
    ["run_id", "step_name", "attempt", "version", "document", "created_at"],
    sa.select(
        sa.bindparam("b_run_id", type_=pages.c.run_id.type),
        sa.bindparam("b_step_name", type_=pages.c.step_name.type),
        sa.bindparam("b_attempt", type_=pages.c.attempt.type),
        sa.func.coalesce(sa.func.max(pages.c.version), 0) + 1,
        sa.bindparam("b_document", type_=pages.c.document.type),
        sa.bindparam("b_created_at", type_=pages.c.created_at.type),
    ).where(*_ATTEMPT),
)
_FUTURE_ELEMENTS = (
    sa.select(future_elements)
    .where(
        future_elements.c.run_id == sa.bindparam("b_run_id"), future_elements.c.target_step == sa.bindparam("b_step")
    )
    .order_by(future_elements.c.id)
)


def _attempt(run_id: str, step_name: str, attempt: int) -> dict:
    return {"b_run_id": run_id, "b_step_name": step_name, "b_attempt": attempt}


def insert_page(conn: Connection, run_id: str, step_name: str, attempt: int, document: str) -> None:
    """Store a new version of a step attempt's page (the one after its newest)."""
    values = {**_attempt(run_id, step_name, attempt), "b_document": document, "b_created_at": utcnow()}
    prepared.execute(conn, _INSERT_PAGE, values)


_LATEST_PAGE_OF_STEP = (
    sa.select(pages.c.document)
    .join(steps, sa.and_(steps.c.run_id == pages.c.run_id, steps.c.name == pages.c.step_name))
    .where(
        steps.c.run_id == sa.bindparam("b_run_id"),
        steps.c.name == sa.bindparam("b_step_name"),
        pages.c.attempt == sa.case((steps.c.attempt < 1, 1), else_=steps.c.attempt),
    )
    .order_by(pages.c.version.desc())
    .limit(1)
)


def latest_page_of_step(conn: Connection, run_id: str, step_name: str) -> Row | None:
    """The newest page version (its ``document``) of the step's current attempt, or None; one query."""
    return conn.execute(_LATEST_PAGE_OF_STEP, {"b_run_id": run_id, "b_step_name": step_name}).first()


def page_versions(conn: Connection, run_id: str, step_name: str, attempt: int) -> int:
    """How many page versions a step attempt has stored (0 when none)."""
    return int(conn.execute(_COUNT_VERSIONS, _attempt(run_id, step_name, attempt)).scalar() or 0)


def latest_page(conn: Connection, run_id: str, step_name: str, attempt: int) -> Row | None:
    """The newest page version of a step attempt, or None."""
    return conn.execute(_LATEST_PAGE, _attempt(run_id, step_name, attempt)).first()


def insert_upload(
    conn: Connection,
    *,
    run_id: str,
    step_name: str,
    attempt: int,
    element_id: str,
    element_title: str,
    filename: str,
    file_format: str,
    sha256: str,
    stored: StoredValue,
) -> None:
    """Record an upload whose bytes are stored as a blob."""
    conn.execute(
        sa.insert(uploads).values(
            run_id=run_id,
            step_name=step_name,
            attempt=attempt,
            element_id=element_id,
            element_title=element_title,
            filename=filename,
            file_format=file_format,
            size=stored.size,
            sha256=sha256,
            blob_key=stored.blob_key,
            checksum=stored.checksum,
            created_at=utcnow(),
        )
    )


def latest_upload(conn: Connection, run_id: str, step_name: str, element_id: str) -> Row | None:
    """The newest upload to an element of a step, or None."""
    return conn.execute(
        sa.select(uploads)
        .where(uploads.c.run_id == run_id, uploads.c.step_name == step_name, uploads.c.element_id == element_id)
        .order_by(uploads.c.id.desc())
        .limit(1)
    ).first()


def insert_future_element(
    conn: Connection, run_id: str, source_step: str, target_step: str, element_id: str, document: str
) -> None:
    """Record an element to place on a later step's page when it runs."""
    conn.execute(
        sa.insert(future_elements).values(
            run_id=run_id,
            source_step=source_step,
            target_step=target_step,
            element_id=element_id,
            document=document,
            created_at=utcnow(),
        )
    )


def delete_future_elements_from(conn: Connection, run_id: str, source_step: str) -> None:
    """Drop the future elements ``source_step`` of the run made."""
    conn.execute(
        sa.delete(future_elements).where(
            future_elements.c.run_id == run_id, future_elements.c.source_step == source_step
        )
    )


def future_elements_for(conn: Connection, run_id: str, target_step: str) -> list[Row]:
    """Future elements meant for ``target_step``, oldest first (a later one with the same id wins)."""
    return conn.execute(_FUTURE_ELEMENTS, {"b_run_id": run_id, "b_step": target_step}).all()


def delete_pages_after(conn: Connection, run_id: str, step_name: str, attempt: int, version: int) -> None:
    """Drop the page versions of a step attempt newer than ``version`` (undoing a failed change)."""
    conn.execute(
        sa.delete(pages).where(
            pages.c.run_id == run_id,
            pages.c.step_name == step_name,
            pages.c.attempt == attempt,
            pages.c.version > version,
        )
    )


def last_upload_id(conn: Connection, run_id: str, step_name: str) -> int:
    """The id of the newest upload to a step of a run (0 when none)."""
    return int(
        conn.execute(
            sa.select(sa.func.max(uploads.c.id)).where(uploads.c.run_id == run_id, uploads.c.step_name == step_name)
        ).scalar()
        or 0
    )


def delete_uploads_after(conn: Connection, run_id: str, step_name: str, upload_id: int) -> None:
    """Drop the uploads to a step of a run newer than ``upload_id`` (undoing a failed change)."""
    conn.execute(
        sa.delete(uploads).where(uploads.c.run_id == run_id, uploads.c.step_name == step_name, uploads.c.id > upload_id)
    )
