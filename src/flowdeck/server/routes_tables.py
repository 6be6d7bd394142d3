"""Big tables: a page of rows (sorted, filtered) and the whole table streamed as CSV or Parquet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from flowdeck.auth.users import Principal
from flowdeck.server.deps import current_principal
from flowdeck.store import runs as run_service
from flowdeck.store import tables as table_service

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["tables"])

_MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


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
    """Rows ``offset:offset+limit`` of a big table, filtered by ``q`` (any cell contains it) and sorted by ``sort``."""
    view = run_service.load_run(run_id, principal)
    view.step(step_name)
    return table_service.table_rows(
        view, step_name, element_id, offset=offset, limit=limit, sort=sort or None, descending=desc, query=q
    )


@router.get("/runs/{run_id}/steps/{step_name}/tables/{element_id}/download")
async def download_table(
    run_id: str,
    step_name: str,
    element_id: str,
    format: str = Query("csv", pattern="^(csv|parquet)$"),
    principal: Principal = Depends(current_principal),
) -> StreamingResponse:
    """The whole table as CSV (cells that would run as spreadsheet formulas prefixed with ') or Parquet."""
    view = await run_in_threadpool(run_service.load_run, run_id, principal)
    view.step(step_name)
    chunks = await run_in_threadpool(table_service.download_chunks, view, step_name, element_id, format)
    filename = f"{element_id}.{format}"
    return StreamingResponse(
        chunks, media_type=_MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
