"""Big tables: a page of rows (sorted, filtered) and the whole table streamed as CSV or Parquet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from flowdeck.auth.users import Principal
from flowdeck.server.deps import current_principal
from flowdeck.server.limits import InFlight, too_many_requests
from flowdeck.store import runs as run_service
from flowdeck.store import tables as table_service

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["tables"])

_MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}

#: Page requests (a filter or a sort is a pass over the whole table) each user may have running at once.
QUERIES_PER_USER = 4
#: Whole-table downloads each user may have streaming at once.
DOWNLOADS_PER_USER = 2
QUERIES = InFlight()
DOWNLOADS = InFlight()


def _too_many(what: str, user: str, limit: int) -> JSONResponse:
    """429: ``user`` has ``limit`` requests of this kind running already."""
    return too_many_requests(
        f"user {user!r} has {limit} table {what} running, the most at once; wait for one to finish and try again",
        1,
    )


@router.get("/runs/{run_id}/steps/{step_name}/tables/{element_id}/rows")
def table_rows(
    run_id: str,
    step_name: str,
    element_id: str,
    offset: int = Query(0, ge=0),
    limit: int = Query(table_service.PAGE_ROWS, ge=1, le=table_service.MAX_LIMIT),
    sort: str | None = Query(None, max_length=500),
    desc: bool = False,
    q: str = Query("", max_length=200),
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Rows ``offset:offset+limit`` of a big table, filtered by ``q`` (any cell contains it) and sorted by ``sort``.

    A user with :data:`QUERIES_PER_USER` requests running already gets 429 (``Retry-After``).
    """
    if not QUERIES.acquire(principal.name, QUERIES_PER_USER):
        return _too_many("page requests", principal.name, QUERIES_PER_USER)  # type: ignore[return-value]
    try:
        view = run_service.load_run(run_id, principal)
        view.step(step_name)
        return table_service.table_rows(
            view, step_name, element_id, offset=offset, limit=limit, sort=sort or None, descending=desc, query=q
        )
    finally:
        QUERIES.release(principal.name)


@router.get("/runs/{run_id}/steps/{step_name}/tables/{element_id}/download")
async def download_table(
    run_id: str,
    step_name: str,
    element_id: str,
    format: str = Query("csv", pattern="^(csv|parquet)$"),
    principal: Principal = Depends(current_principal),
) -> StreamingResponse:
    """The whole table as CSV (cells that would run as spreadsheet formulas prefixed with ') or Parquet.

    A user with :data:`DOWNLOADS_PER_USER` downloads streaming already gets 429 (``Retry-After``).
    """
    if not DOWNLOADS.acquire(principal.name, DOWNLOADS_PER_USER):
        return _too_many("downloads", principal.name, DOWNLOADS_PER_USER)  # type: ignore[return-value]
    try:
        view = await run_in_threadpool(run_service.load_run, run_id, principal)
        view.step(step_name)
        chunks = await run_in_threadpool(table_service.download_chunks, view, step_name, element_id, format)
    except BaseException:
        DOWNLOADS.release(principal.name)
        raise
    filename = f"{element_id}.{format}"
    return StreamingResponse(
        _counted(chunks, principal.name),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _counted(chunks: Iterator[bytes], user: str) -> Iterator[bytes]:
    """``chunks``, counted among ``user``'s downloads until the last is sent or the client goes."""
    try:
        yield from chunks
    finally:
        DOWNLOADS.release(user)
