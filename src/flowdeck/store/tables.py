"""Big tables on pages: the full frame kept as an output, served a page at a time, sorted, filtered, streamed.

When ``update_page`` stores a page holding a :class:`~flowdeck.elements.Table` with more rows than
it keeps in JSON (its ``max_rows``), the whole frame is saved as an output of the step named
``TABLE_OUTPUT_PREFIX + element id`` (an Arrow frame blob, so that a range of rows reads only its
batches), and the page JSON carries only the first :data:`PAGE_ROWS` rows, with
``extra["paged"]`` telling the UI to ask the server for the others.

A page read back from the store has each such Table bound to the run and step it was read from
(:func:`bind_big_tables`): ``Table.get_df()`` then loads the whole frame from there on first use, through
the run view the reader was given (so a user who may not read the run never gets it). ``paged["step"]``
names the step whose output holds the frame when the Table was put on another step's page.
"""

from __future__ import annotations

import functools
import io
import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flowdeck.elements.base import to_jsonable
from flowdeck.errors import AccessError, NotFoundError, ValidationError
from flowdeck.formats import escape_formulas
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.frame_blobs import BATCH_ROWS
from flowdeck.storage.records import pages as page_records
from flowdeck.store import outputs as output_service
from flowdeck.store.cell_search import column_searcher
from flowdeck.store.runs import RunView

__all__ = [
    "PAGE_ROWS",
    "TABLE_OUTPUT_PREFIX",
    "bind_big_tables",
    "download_chunks",
    "forget_cached",
    "prepare_big_tables",
    "table_rows",
]

#: Rows a paged table carries in the page JSON, and the most one request returns.
PAGE_ROWS = 100
MAX_LIMIT = 1_000
TABLE_OUTPUT_PREFIX = "flowdeck.table."
_SOURCE_CACHE_SIZE = 8
#: Bytes of row positions (sort orders, filter hits) a process keeps, least recently used dropped first.
RANKING_CACHE_BYTES = 256 * 1024**2
#: Sort orders and filter hits a process keeps, whatever their size: a filter that matches nothing
#: holds no row positions, so bytes alone would let one user keep a key for every text they try.
RANKING_CACHE_ENTRIES = 1_024
# Pages up to this row are found by selecting the top rows instead of sorting all of them.
TOP_K_ROWS = 10_000


def prepare_big_tables(page: Any, document: dict[str, Any]) -> list[tuple[str, Any]]:
    """Store each big Table of ``page`` whole and cut its JSON in ``document`` to one page.

    Returns the ``(output name, stored value)`` pairs to record with the page (the values' bytes are
    durable already, so the caller may commit the rows that refer to them).
    """
    tables = {e.id: e for e in page.elements if type(e).__name__ == "Table"}
    outputs: list[tuple[str, Any]] = []
    if not tables:
        return outputs
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


def _element_dicts(document: Any) -> Iterator[dict]:
    """Every Table's JSON in a page's JSON, wherever it sits (cards, Rows, Columns, Dashboards, hidden elements).

    A Table's own JSON is not searched further, nor are lists of plain values (a plot's data).
    """
    if isinstance(document, dict):
        if document.get("kind") == "Table":
            yield document
            return
        for value in document.values():
            if isinstance(value, dict | list):
                yield from _element_dicts(value)
    elif isinstance(document, list) and document and isinstance(document[0], dict | list):
        for value in document:
            yield from _element_dicts(value)


def bind_big_tables(page: Any, view: RunView, step_name: str) -> Any:
    """Let each big Table of ``page`` (read from step ``step_name`` of ``view``'s run) load its whole frame.

    ``view`` is the run as the reader may see it; the frame is read through it on the first
    ``get_df()``, from the step that stored it. Returns ``page``.
    """
    for element in page.elements:
        if type(element).__name__ != "Table":
            continue
        paged = element.extra.get("paged")
        if not isinstance(paged, dict) or not paged:
            continue
        source = paged.get("step") or step_name
        if paged.get("step") is None:
            # Where the frame is stays with the Table when it is put on another step's page.
            element.extra["paged"] = {**paged, "step": step_name}
        element._attach_frame_loader(functools.partial(_read, view, source, element.id))  # the whole frame
    return page


def _no_big_table(view: RunView, step_name: str, element_id: str) -> NotFoundError:
    return NotFoundError(
        f"step {step_name!r} of run {view.id!r} has no big table {element_id!r} on its page; "
        "only tables with more rows than their page shows are served in pages"
    )


def _paged_version(view: RunView, step_name: str, element_id: str, *, download: bool = False) -> tuple[str, str]:
    """The stored version of the big table ``element_id`` that the step's newest page shows, and its step.

    ``NotFoundError`` unless that page shows it as a big (server-paged) table: a page drawn again
    with a smaller table under the same id leaves the earlier big table stored (older page versions
    refer to it), but it is no longer what the page shows, so it is not served. The version changes
    whenever the table is saved again, so what a process derived from it can be kept under it.
    The step is the one whose output holds the frame: ``step_name`` unless the Table was read from
    another step of the run and put on this page. With ``download``, ``AccessError`` unless the
    flow made the Table ``downloadable``.
    """
    step = view.step(step_name)
    with get_storage().db.read() as conn:
        row = page_records.latest_page(conn, view.id, step_name, max(step.attempt, 1))
    document = json.loads(row.document) if row is not None else {}
    for element in _element_dicts(document):
        paged = (element.get("extra") or {}).get("paged")
        if element.get("id") == element_id and isinstance(paged, dict) and paged:
            source = paged.get("step") or step_name
            if not isinstance(source, str):
                break
            if download and not element.get("downloadable"):
                raise AccessError(
                    f"table {element.get('title') or element_id!r} of step {step_name!r} is not offered for download: "
                    "its flow shows it with downloadable=False"
                )
            return str(paged.get("version") or f"page-{row.id}"), source
    raise _no_big_table(view, step_name, element_id)


def _read(view: RunView, step_name: str, element_id: str, **selection: Any) -> Any:
    try:
        return output_service.get_output(view, TABLE_OUTPUT_PREFIX + element_id, step_name=step_name, **selection)
    except NotFoundError:
        raise _no_big_table(view, step_name, element_id) from None


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


@dataclass(frozen=True)
class _Source:
    """A big table mapped from its blob: Arrow columns (positional names) and the frame's labels."""

    key: tuple[Any, ...]
    table: pa.Table
    columns: pd.Index
    index: pd.Index | None

    @property
    def rows(self) -> int:
        """How many rows the table has."""
        return self.table.num_rows

    def position(self, label: str) -> int:
        """The position of the column whose JSON label is ``label``."""
        for position, column in enumerate(self.columns):
            if column == label or to_jsonable(column) == label:
                return position
        names = [to_jsonable(c) for c in self.columns]
        raise ValidationError(f"cannot sort by {label!r}: the table's columns are {names}")

    def frame(self, positions: np.ndarray) -> pd.DataFrame:
        """The rows at ``positions`` (in that order) as a frame of ``pd.ArrowDtype`` columns."""
        if len(positions) and positions[-1] - positions[0] == len(positions) - 1 and np.all(np.diff(positions) == 1):
            part = self.table.slice(int(positions[0]), len(positions))
        elif len(positions):
            # One-row slices are free; a take over the mapped table's many batches is not.
            part = pa.concat_tables([self.table.slice(int(p), 1) for p in positions])
        else:
            part = self.table.slice(0, 0)
        part = part.combine_chunks()
        frame = pd.DataFrame(
            {i: pd.arrays.ArrowExtensionArray(part.column(i)) for i in range(part.num_columns)},
            index=pd.RangeIndex(len(positions)) if self.index is None else self.index.take(positions),
        )
        frame.columns = self.columns
        return frame


_sources: OrderedDict[tuple[Any, ...], _Source] = OrderedDict()
_rankings: OrderedDict[tuple[Any, ...], pa.Array] = OrderedDict()
_lock = threading.Lock()
_sorting: set[tuple[Any, ...]] = set()
_pool: ThreadPoolExecutor | None = None


def _cached(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...]) -> Any:
    with _lock:
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
        return found


def _remember(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    with _lock:
        cache[key] = value
        cache.move_to_end(key)
        if cache is _sources:
            while len(cache) > _SOURCE_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            while len(cache) > RANKING_CACHE_ENTRIES:
                cache.popitem(last=False)
            while len(cache) > 1 and sum(v.nbytes for v in cache.values()) > RANKING_CACHE_BYTES:
                cache.popitem(last=False)


def forget_cached(*, rankings_only: bool = False) -> None:
    """Drop the sort orders and filter hits this process keeps; the mapped tables too unless ``rankings_only``."""
    with _lock:
        _rankings.clear()
        if not rankings_only:
            _sources.clear()


def _source(view: RunView, step_name: str, element_id: str, version: str) -> _Source:
    """The whole table, zero-copy over its memory-mapped blob (verified when first mapped, then kept).

    Kept per stored ``version``: a page drawn again with another table saves it anew and so maps anew.
    """
    key = (view.id, step_name, element_id, version)
    found = _cached(_sources, key)
    if found is None:
        frame = _read(view, step_name, element_id, zero_copy=True)
        arrays = [_arrow_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
        table = pa.Table.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])
        index = None if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 else frame.index
        found = _Source(key, table, frame.columns, index)
        _remember(_sources, key, found)
    return found


def _arrow_column(column: pd.Series) -> pa.ChunkedArray:
    """The Arrow values of a column of a zero-copy read: its own chunks (no copy) when Arrow-backed.

    A frame pyarrow converts itself (labels or an index flowdeck does not build directly) may give
    some columns as NumPy or pandas arrays (categories, a column saved as a NumPy dtype): those are
    converted to Arrow once, when the table is first mapped.
    """
    values = column.array
    if isinstance(values, pd.arrays.ArrowExtensionArray):
        return pa.chunked_array(values._pa_array)
    return pa.chunked_array([pa.array(values, from_pandas=True)])


def _keys(source: _Source, position: int) -> pa.ChunkedArray:
    """The column at ``position`` ready to rank: categories as the rank of their label among the labels."""
    column = source.table.column(position)
    if pa.types.is_dictionary(column.type):
        # Ranking a handful of labels and looking each row's up is far cheaper than comparing strings.
        column = column.unify_dictionaries()
        if column.num_chunks == 0:
            return column.cast(column.type.value_type)
        labels = column.chunk(0).dictionary
        ranks = pc.rank(labels, sort_keys="ascending", tiebreaker="dense")
        column = pa.chunked_array([pc.take(ranks, chunk.indices) for chunk in column.chunks], type=ranks.type)
    return column


def _sorted_window(source: _Source, position: int, descending: bool, offset: int, limit: int) -> pa.Array:
    """Positions of rows ``offset:offset+limit`` of the table sorted (stably) by the column at ``position``.

    The first pages select the top rows (linear); a page further down of a numeric column without
    nulls is cut out around its bounds (linear too); either way the full order is then computed in
    the background for the pages that follow. Without either, the column is sorted fully, once.
    """
    needed = offset + limit
    key = (*source.key, "sort", position, descending)
    found = _cached(_rankings, key)
    if found is not None and (len(found) >= needed or len(found) == source.rows):
        return found.slice(min(offset, len(found)), limit)
    order = "descending" if descending else "ascending"
    column = _keys(source, position)
    if needed <= TOP_K_ROWS < source.rows:
        k = min(TOP_K_ROWS, max(1_000, 2 * needed))
        top = pc.select_k_unstable(column, k, sort_keys=[("", order)])
        ranking = pa.table({"k": pc.take(column, top), "i": top})
        found = pc.take(top, pc.sort_indices(ranking, [("k", order), ("i", "ascending")]))
        _remember(_rankings, key, found)
        _sort_in_background(key, column, order)
        return found.slice(min(offset, len(found)), limit)
    if source.rows > TOP_K_ROWS:
        window = _window_by_bounds(column, descending, offset, limit)
        if window is not None:
            _sort_in_background(key, column, order)
            return window
    found = _full_sort(column, order)
    _remember(_rankings, key, found)
    return found.slice(min(offset, len(found)), limit)


def _window_by_bounds(column: pa.ChunkedArray, descending: bool, offset: int, limit: int) -> pa.Array | None:
    """Rows ``offset:offset+limit`` of a stable sort of a numeric ``column`` without sorting all of it.

    Partitions around the window's first and last keys, then sorts only the rows whose keys lie
    between them, ties by position as a stable sort orders them. None when the column has nulls,
    NaNs or no numeric form (those take the full sort).
    """
    data_type = column.type
    kinds = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_timestamp)
    kinds += (pa.types.is_date, pa.types.is_duration)
    if column.null_count or not any(kind(data_type) for kind in kinds):
        return None
    values = column.to_numpy()
    if values.dtype.kind in "mM":
        values = values.view(np.int64)
    elif values.dtype.kind == "b":
        values = values.view(np.uint8)
    elif values.dtype.kind == "f" and np.isnan(values).any():
        return None
    if descending:
        # Order-reversing without overflow: ~v for integers, -v for floats.
        values = -values if values.dtype.kind == "f" else ~values
    stop = min(offset + limit, len(values))
    if offset >= stop:
        return pa.array([], type=pa.int64())
    # One partition at the window's start, then one of the keys from there on: NumPy's partition
    # around two places at once takes about four times as long as the two together.
    parted = np.partition(values, offset)
    low = high = parted[offset]
    if stop - 1 > offset:
        high = np.partition(parted[offset:], stop - 1 - offset)[stop - 1 - offset]
    before = int(np.count_nonzero(values < low))
    between = np.flatnonzero((values >= low) & (values <= high))
    between = between[np.lexsort((between, values[between]))]
    return pa.array(between[offset - before : stop - before].astype(np.int64))


def _full_sort(column: pa.ChunkedArray, order: str) -> pa.Array:
    positions = pc.sort_indices(column, sort_keys=[("", order)])
    return positions.combine_chunks() if isinstance(positions, pa.ChunkedArray) else positions


def _sort_in_background(key: tuple[Any, ...], column: pa.ChunkedArray, order: str) -> None:
    """Sort ``column`` fully on a thread (one at a time per process) and keep the order under ``key``."""
    with _lock:
        if _sorting:
            return
        _sorting.add(key)

    def run() -> None:
        try:
            _remember(_rankings, key, _full_sort(column, order))
        finally:
            with _lock:
                _sorting.discard(key)

    threading.Thread(target=run, name="flowdeck-table-sort", daemon=True).start()


def _search_pool() -> ThreadPoolExecutor:
    """The process's threads for searching a table's batches side by side (Arrow's kernels release the GIL)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="flowdeck-table-search")
        return _pool


def _matches(source: _Source, query: str) -> pa.Array:
    """Positions of the rows where any cell contains ``query`` (case-insensitive).

    Searches only the columns whose text could contain it, a batch of rows per task, batches side by side.
    """
    key = (*source.key, "filter", query)
    found = _cached(_rankings, key)
    if found is not None:
        return found
    searchers = [
        (position, how)
        for position, column in enumerate(source.table.columns)
        if (how := column_searcher(column.type, query)) is not None
    ]
    batches = source.table.to_batches() if searchers else []
    starts = np.cumsum([0] + [batch.num_rows for batch in batches])

    def search(number: int) -> np.ndarray:
        batch = batches[number]
        mask = np.zeros(batch.num_rows, dtype=bool)
        for position, how in searchers:
            mask |= how(batch.column(position))
        return np.flatnonzero(mask) + int(starts[number])

    parts = list(_search_pool().map(search, range(len(batches))))
    found = pa.array(np.concatenate(parts) if parts else np.empty(0, np.int64), type=pa.int64())
    _remember(_rankings, key, found)
    return found


def _filtered_order(source: _Source, query: str, position: int | None, descending: bool) -> pa.Array:
    """Positions of the rows matching ``query``, sorted by the column at ``position`` if given."""
    hits = _matches(source, query)
    if position is None:
        return hits
    key = (*source.key, "filter", query, position, descending)
    found = _cached(_rankings, key)
    if found is None:
        keys = pc.take(_keys(source, position), hits)
        order = pc.sort_indices(keys, sort_keys=[("", "descending" if descending else "ascending")])
        found = pc.take(hits, order)
        _remember(_rankings, key, found)
    return found


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

    The table is memory-mapped once per process and kept (verified when mapped); a page reads only the
    rows it shows. A sort ranks one column: the first pages by selecting the top rows, a page further
    down of a numeric column by cutting around its bounds (both linear), the rest from the full
    order, which is computed once (in the background after a linear answer) and kept. ``query``
    keeps rows where any cell contains it (case-insensitive), searching only the columns whose text
    could contain it, batches side by side. Returns
    ``columns``, ``records``, ``index``, ``total_rows`` (after filtering) and ``offset``.
    """
    if offset < 0 or not 0 < limit <= MAX_LIMIT:
        raise ValidationError(f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}, got {offset} and {limit}")
    version, stored_by = _paged_version(view, step_name, element_id)
    source = _source(view, stored_by, element_id, version)
    position = None if sort is None else source.position(sort)
    if query:
        positions = _filtered_order(source, query, position, descending)
        total = len(positions)
        chosen = positions.slice(min(offset, len(positions)), limit)
    elif position is not None:
        chosen = _sorted_window(source, position, descending, offset, limit)
        total = source.rows
    else:
        chosen = None
        total = source.rows
    if chosen is None:
        chosen = np.arange(min(offset, total), min(offset + limit, total), dtype=np.int64)
    else:
        chosen = chosen.to_numpy().astype(np.int64)
    return {**_records(source.frame(chosen)), "total_rows": total, "offset": offset}


def download_chunks(view: RunView, step_name: str, element_id: str, fmt: str) -> Iterator[bytes]:
    """The whole table as CSV (formulas escaped) or Parquet, produced a batch of rows at a time."""
    if fmt not in ("csv", "parquet"):
        raise ValidationError(f"download format must be 'csv' or 'parquet', got {fmt!r}")
    stored_by = _paged_version(view, step_name, element_id, download=True)[1]
    first = _read(view, stored_by, element_id, rows=(0, 0))
    show_index = not isinstance(first.index, pd.RangeIndex)
    batches = _batches(view, stored_by, element_id)
    return _csv_chunks(batches, show_index) if fmt == "csv" else _parquet_chunks(batches)


def _batches(view: RunView, step_name: str, element_id: str) -> Iterator[pd.DataFrame]:
    """The table a batch of rows at a time (the first even when empty), each read and verified on its own.

    Reads stop at the first short batch: the whole table is never mapped, so memory stays flat.
    """
    start = 0
    while True:
        frame = _read(view, step_name, element_id, rows=(start, start + BATCH_ROWS))
        if start == 0 or len(frame):
            yield frame
        if len(frame) < BATCH_ROWS:
            return
        start += BATCH_ROWS


def _csv_chunks(batches: Iterator[pd.DataFrame], show_index: bool) -> Iterator[bytes]:
    for number, frame in enumerate(batches):
        yield escape_formulas(frame, index=show_index).to_csv(index=show_index, header=number == 0).encode()


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


def _parquet_chunks(batches: Iterator[pd.DataFrame]) -> Iterator[bytes]:
    sink = _Chunks()
    writer = None
    for frame in batches:
        table = pa.Table.from_pandas(frame)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema)
        writer.write_table(table)
        yield sink.take()
    if writer is not None:
        writer.close()
    yield sink.take()
