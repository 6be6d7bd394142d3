"""Big tables on pages: the full frame kept as an output, served a page at a time, sorted, filtered, streamed.

When ``update_page`` stores a page holding a :class:`~flowdeck.elements.Table` with more rows than
it keeps in JSON (its ``max_rows``), the whole frame is saved as an output of the step named
``TABLE_OUTPUT_PREFIX + element id`` (an Arrow frame blob, so that a range of rows reads only its
batches), and the page JSON carries only the first :data:`PAGE_ROWS` rows, with
``extra["paged"]`` telling the UI to ask the server for the others.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flowdeck.elements.base import to_jsonable
from flowdeck.errors import NotFoundError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.frame_blobs import BATCH_ROWS
from flowdeck.store import outputs as output_service
from flowdeck.store.runs import RunView

__all__ = ["PAGE_ROWS", "TABLE_OUTPUT_PREFIX", "download_chunks", "prepare_big_tables", "table_rows"]

#: Rows a paged table carries in the page JSON, and the most one request returns.
PAGE_ROWS = 100
MAX_LIMIT = 1_000
TABLE_OUTPUT_PREFIX = "flowdeck.table."
# Formula prefixes a spreadsheet would evaluate in a CSV cell (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ORDER_CACHE_SIZE = 8
# Pages up to this row are found by selecting the top rows instead of sorting all of them.
TOP_K_ROWS = 10_000


def prepare_big_tables(page: Any, document: dict[str, Any]) -> list[tuple[str, Any]]:
    """Store each big Table of ``page`` whole and cut its JSON in ``document`` to one page.

    Returns the ``(output name, stored value)`` pairs to record with the page (the values' bytes are
    durable already, so the caller may commit the rows that refer to them).
    """
    tables = {e.id: e for e in page.elements if type(e).__name__ == "Table"}
    outputs = []
    for element in _element_dicts(document):
        table = tables.get(element.get("id"))
        if table is None:
            continue
        paged = table.extra.get("paged")
        if len(table.content) > table.max_rows:
            outputs.append((TABLE_OUTPUT_PREFIX + table.id, get_storage().values.put(table.content)))
            paged = {"rows": len(table.content), "page_rows": PAGE_ROWS, "version": uuid.uuid4().hex}
        elif paged is None:
            continue
        element["extra"] = {**element.get("extra", {}), "paged": paged}
        element["records"] = element["records"][:PAGE_ROWS]
        if element.get("index"):
            element["index"]["values"] = element["index"]["values"][:PAGE_ROWS]
    return outputs


def _element_dicts(document: dict) -> Iterator[dict]:
    for section in document.get("sections", []):
        for card in section.get("content", []):
            yield from (e for e in card.get("content", []) if isinstance(e, dict) and e.get("kind") == "Table")


def _read(view: RunView, step_name: str, element_id: str, **selection: Any) -> Any:
    try:
        return output_service.get_output(view, TABLE_OUTPUT_PREFIX + element_id, step_name=step_name, **selection)
    except NotFoundError:
        raise NotFoundError(
            f"step {step_name!r} of run {view.id!r} has no big table {element_id!r}; "
            "only tables with more rows than their page shows are served in pages"
        ) from None


def _records(frame: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {
        "columns": [to_jsonable(c) for c in frame.columns],
        "records": [[to_jsonable(cell) for cell in row] for row in frame.itertuples(index=False, name=None)],
        "index": None,
    }
    index = frame.index
    if not isinstance(index, pd.RangeIndex):
        out["index"] = {"name": to_jsonable(index.name), "values": [to_jsonable(v) for v in index]}
    return out


_orders: OrderedDict[tuple[Any, ...], pa.Array] = OrderedDict()
_orders_lock = threading.Lock()


def _order(key: tuple[Any, ...], table: pa.Table, sort: str | None, descending: bool, query: str) -> pa.Array:
    """Row positions of ``table`` filtered by ``query`` and sorted by ``sort`` (kept for the next pages)."""
    found = _cached(_orders, key)
    if found is not None:
        return found
    positions = pa.array(range(table.num_rows), type=pa.int64())
    if query:
        mask = None
        for column in table.columns:
            text = pc.cast(column, pa.large_string()) if not pa.types.is_dictionary(column.type) else column
            if pa.types.is_dictionary(text.type):
                text = pc.cast(column.cast(column.type.value_type), pa.large_string())
            hit = pc.fill_null(pc.match_substring(text, query, ignore_case=True), False)
            mask = hit if mask is None else pc.or_(mask, hit)
        positions = pc.filter(positions, mask)
    if sort is not None:
        column = table.column(sort)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        keys = pc.take(column, positions)
        order = pc.sort_indices(keys, sort_keys=[("", "descending" if descending else "ascending")])
        positions = pc.take(positions, order)
    if isinstance(positions, pa.ChunkedArray):
        positions = positions.combine_chunks()
    _remember(_orders, key, positions)
    return positions


def table_rows(
    view: RunView,
    step_name: str,
    element_id: str,
    *,
    offset: int = 0,
    limit: int = PAGE_ROWS,
    sort: str | None = None,
    descending: bool = False,
    query: str = "",
) -> dict[str, Any]:
    """One page of a big table: rows ``offset:offset+limit`` after filtering by ``query`` and sorting by ``sort``.

    Without a sort or filter only the batches holding those rows are read. ``query`` keeps rows where
    any cell contains it (case-insensitive). Returns ``columns``, ``records``, ``index``,
    ``total_rows`` (after filtering) and ``offset``.
    """
    if offset < 0 or not 0 < limit <= MAX_LIMIT:
        raise ValidationError(f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}, got {offset} and {limit}")
    if not sort and not query:
        frame = _read(view, step_name, element_id, rows=(offset, offset + limit))
        total = _row_count(view, step_name, element_id)
        return {**_records(frame), "total_rows": total, "offset": offset}
    paged = _page_extra(view, step_name, element_id)
    frame = _source(view, step_name, element_id, paged)
    if sort is not None and not query and type(sort) is str and sort in frame.columns:
        return _sorted_rows(view, step_name, element_id, paged, offset, limit, sort, descending)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if sort is not None and sort not in table.column_names:
        raise ValidationError(f"cannot sort by {sort!r}: the table's columns are {table.column_names}")
    key = (view.id, step_name, element_id, paged.get("version"), sort, descending, query)
    positions = _order(key, table, sort, descending, query)
    chosen = positions.slice(offset, limit).to_numpy()
    return {**_records(frame.take(chosen)), "total_rows": len(positions), "offset": offset}


def _sorted_rows(
    view: RunView,
    step_name: str,
    element_id: str,
    paged: dict[str, Any],
    offset: int,
    limit: int,
    sort: str,
    descending: bool,
) -> dict[str, Any]:
    """A page of rows sorted by one column, reading only that column to rank them."""
    rows = int(paged["rows"])
    key = (view.id, step_name, element_id, paged.get("version"), sort, descending, "")
    positions = _cached(_orders, key)
    if positions is None or (len(positions) < offset + limit and len(positions) < rows):
        order = "descending" if descending else "ascending"
        column = pa.Table.from_pandas(_read(view, step_name, element_id, columns=[sort], zero_copy=True)).column(0)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if offset + limit <= TOP_K_ROWS < len(column):
            # The first pages: selecting the top rows is linear, sorting all of them is not.
            # Selection cost grows with k: take what the next few pages need, more when paged further.
            k = min(TOP_K_ROWS, max(1_000, 2 * (offset + limit)))
            top = pc.select_k_unstable(column, k, sort_keys=[("", order)])
            ranking = pa.table({"k": pc.take(column, top), "i": top})
            positions = pc.take(top, pc.sort_indices(ranking, [("k", order), ("i", "ascending")]))
        else:
            positions = pc.sort_indices(column, sort_keys=[("", order)])
        _remember(_orders, key, positions)
    frame = _source(view, step_name, element_id, paged)
    chosen = positions.slice(offset, limit).to_numpy()
    return {**_records(frame.take(chosen)), "total_rows": rows, "offset": offset}


_sources: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()


def _cached(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...]) -> Any:
    with _orders_lock:
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
        return found


def _remember(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    with _orders_lock:
        cache[key] = value
        while len(cache) > _ORDER_CACHE_SIZE:
            cache.popitem(last=False)


def _source(view: RunView, step_name: str, element_id: str, paged: dict[str, Any]) -> pd.DataFrame:
    """The whole table, zero-copy over its memory-mapped blob (verified when first mapped, then kept)."""
    key = (view.id, step_name, element_id, paged.get("version"))
    frame = _cached(_sources, key)
    if frame is None:
        frame = _read(view, step_name, element_id, zero_copy=True)
        _remember(_sources, key, frame)
    return frame


def _row_count(view: RunView, step_name: str, element_id: str) -> int:
    return int(_page_extra(view, step_name, element_id)["rows"])


def _page_extra(view: RunView, step_name: str, element_id: str) -> dict[str, Any]:
    from flowdeck.store import pages as page_service

    page = page_service.get_page(view, step_name)
    element = page.get_element_by_id(element_id)
    paged = getattr(element, "extra", {}).get("paged") if element is not None else None
    if not paged:
        raise NotFoundError(
            f"step {step_name!r} of run {view.id!r} has no big table {element_id!r}; "
            "only tables with more rows than their page shows are served in pages"
        )
    return paged


def _escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as formulas, prefixed with ``'`` so they stay text."""
    out = frame.copy(deep=False)
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
            continue
        try:
            risky = column.str.startswith(_FORMULA_START, na=False)
        except AttributeError:  # an object column without strings
            continue
        risky = risky.fillna(False).astype(bool)
        if risky.any():
            text = column.astype(object)
            out.isetitem(position, text.where(~risky, "'" + text.astype(str)))
    return out


def download_chunks(view: RunView, step_name: str, element_id: str, fmt: str) -> Iterator[bytes]:
    """The whole table as CSV (formulas escaped) or Parquet, produced a batch of rows at a time."""
    if fmt not in ("csv", "parquet"):
        raise ValidationError(f"download format must be 'csv' or 'parquet', got {fmt!r}")
    total = _row_count(view, step_name, element_id)
    first = _read(view, step_name, element_id, rows=(0, 0))
    show_index = not isinstance(first.index, pd.RangeIndex)
    return (
        _csv_chunks(view, step_name, element_id, total, show_index)
        if fmt == "csv"
        else _parquet_chunks(view, step_name, element_id, total)
    )


def _csv_chunks(view: RunView, step_name: str, element_id: str, total: int, show_index: bool) -> Iterator[bytes]:
    for start in range(0, max(total, 1), BATCH_ROWS):
        frame = _escape_formulas(_read(view, step_name, element_id, rows=(start, start + BATCH_ROWS)))
        yield frame.to_csv(index=show_index, header=start == 0).encode()


class _Chunks(io.RawIOBase):
    """A write-only file whose written bytes are taken out piece by piece."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self.pieces.append(piece)
        self.position += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.pieces)
        self.pieces.clear()
        return out


def _parquet_chunks(view: RunView, step_name: str, element_id: str, total: int) -> Iterator[bytes]:
    sink = _Chunks()
    writer = None
    for start in range(0, max(total, 1), BATCH_ROWS):
        frame = _read(view, step_name, element_id, rows=(start, start + BATCH_ROWS))
        table = pa.Table.from_pandas(frame)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema)
        writer.write_table(table)
        yield sink.take()
    if writer is not None:
        writer.close()
    yield sink.take()
