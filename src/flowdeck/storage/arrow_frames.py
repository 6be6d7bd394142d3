"""Arrow tables to pandas frames, built column by column where pyarrow's general conversion costs more.

pyarrow's ``Table.to_pandas`` rebuilds the index, the column labels and every column's dtype from
pandas' metadata on each call: about a millisecond however few rows there are, which is most of a
small or partial read. For a *plain* frame (a RangeIndex, one unnamed level of distinct text labels,
columns of the common dtypes) the frames here are built directly from the columns and equal what
pyarrow makes: the same values, dtypes, labels and index. Anything else returns None, and the
caller converts with pyarrow.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["MASKED_DTYPES", "arrow_dtype_frame", "numpy_frame"]

_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
try:  # pandas >= 3: a frame from ready-made blocks, as pyarrow itself builds it
    from pandas.api.internals import create_dataframe_from_blocks
except ImportError:  # pragma: no cover - depends on the pandas version
    create_dataframe_from_blocks = None

# Sets of up to this many column labels are remembered (256 sets at most).
_REMEMBERED_LABELS = 256
# Categorical dtypes of up to this many categories are remembered for later reads of a stored frame.
_REMEMBERED_CATEGORIES = 10_000
# numpy_type values of pandas' metadata that are plain NumPy dtypes of one Arrow primitive type.
_NUMBERS = frozenset(
    ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64", "bool"]
)


def _plain_layout(table: pa.Table, pandas_meta: dict[str, Any], row_start: int) -> pd.RangeIndex | None:
    """The index of ``table`` (rows from ``row_start`` of the stored frame) when its frame is plain, else None.

    Plain: the stored frame had a RangeIndex, and one unnamed level of distinct text labels that are
    the column names of the table.
    """
    index = pandas_meta.get("index_columns") or []
    levels = pandas_meta.get("column_indexes") or []
    if len(index) != 1 or not isinstance(index[0], dict) or index[0].get("kind") != "range":
        return None
    if len(levels) != 1 or levels[0].get("name") is not None or levels[0].get("pandas_type") != "unicode":
        return None
    names = table.column_names
    labels = {c.get("field_name"): c.get("name") for c in pandas_meta.get("columns", ())}
    if len(set(names)) != len(names) or any(labels.get(name) != name for name in names):
        return None
    spec = index[0]
    whole = pd.RangeIndex(spec["start"], spec["stop"], spec["step"], name=spec.get("name"))
    rows = whole[row_start : row_start + table.num_rows]
    return rows if len(rows) == table.num_rows else None


@functools.lru_cache(maxsize=256)
def _labels(names: tuple[str, ...]) -> pd.Index:
    """The column labels ``names`` as pandas infers them (inferring costs ~0.1 ms a frame)."""
    return pd.Index(list(names))


def _assemble(names: list[str], arrays: list[Any], index: pd.Index) -> pd.DataFrame:
    """A frame of one block per column (no copies, no consolidation)."""
    if create_dataframe_from_blocks is None:  # pragma: no cover - depends on the pandas version
        return pd.DataFrame(dict(zip(names, arrays, strict=True)), index=index, copy=False)
    blocks = [
        (array.reshape(1, -1) if isinstance(array, np.ndarray) else array, np.array([i]))
        for i, array in enumerate(arrays)
    ]
    # A view: each frame gets its own Index object (setting a name on one leaves the others alone).
    labels = _labels(tuple(names)).view() if len(names) <= _REMEMBERED_LABELS else pd.Index(names)
    return create_dataframe_from_blocks(blocks, index=index, columns=labels)


def arrow_dtype_frame(table: pa.Table, pandas_meta: dict[str, Any], row_start: int = 0) -> pd.DataFrame | None:
    """``table`` as the frame ``to_pandas(types_mapper=pd.ArrowDtype)`` makes, or None unless plain.

    The columns are ``pd.ArrowDtype`` views of the table's buffers.
    """
    index = _plain_layout(table, pandas_meta, row_start)
    if index is None:
        return None
    arrays = [pd.arrays.ArrowExtensionArray(column) for column in table.columns]
    return _assemble(table.column_names, arrays, index)


# pandas' nullable (masked) dtypes.
MASKED_DTYPES = (
    pd.Int8Dtype,
    pd.Int16Dtype,
    pd.Int32Dtype,
    pd.Int64Dtype,
    pd.UInt8Dtype,
    pd.UInt16Dtype,
    pd.UInt32Dtype,
    pd.UInt64Dtype,
    pd.Float32Dtype,
    pd.Float64Dtype,
    pd.BooleanDtype,
)
# The extension dtypes whose columns pyarrow converts with the dtype's own ``__from_arrow__``.
_EXTENSION_DTYPES = (pd.StringDtype, pd.ArrowDtype, *MASKED_DTYPES)


@functools.lru_cache(maxsize=256)
def _extension_dtype(numpy_type: str) -> Any:
    """The extension dtype pandas' metadata names (text, nullable and Arrow-backed ones), else None."""
    try:
        dtype = pd.api.types.pandas_dtype(numpy_type)
    except (TypeError, ValueError):
        return None
    return dtype if isinstance(dtype, _EXTENSION_DTYPES) else None


def _new_array(count: int, dtype: np.dtype) -> np.ndarray:
    """A new, writable, uninitialised array of ``count`` values, in memory from Arrow's memory pool.

    Arrow's allocator keeps freed memory mapped for reuse, where NumPy's gives a few megabytes back
    to the system at once: a read into fresh pages pays a page fault for every 4 KiB of its result,
    which costs more than copying the values (2.6 ms against 0.5 ms for two 300,000-row columns).
    The array keeps its buffer alive and frees it when the array goes.
    """
    if count == 0:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(pa.allocate_buffer(count * dtype.itemsize), dtype=dtype, count=count)


def _writable(array: np.ndarray) -> np.ndarray:
    # A single chunk converts without a copy, read-only over the stored bytes: the frame owns a copy.
    if array.flags.writeable:
        return array
    if array.ndim != 1 or array.dtype.hasobject:
        return array.copy()
    out = _new_array(len(array), array.dtype)
    out[:] = array
    return out


def _categorical(column: pa.ChunkedArray, remembered: dict[str, pd.CategoricalDtype] | None, name: str) -> Any:
    dictionary_type = column.type
    value_type = dictionary_type.value_type
    text = pa.types.is_string(value_type) or pa.types.is_large_string(value_type)
    if not ((text and _PANDAS_3) or pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        return None
    combined = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    dictionary = combined.dictionary
    if dictionary.null_count:
        return None
    dtype = None if remembered is None else remembered.get(name)
    if dtype is None or len(dtype.categories) != len(dictionary):
        remember = remembered is not None and len(dictionary) <= _REMEMBERED_CATEGORIES
        if remember:
            # Kept beyond this read: the categories get their own copy of the values (pandas would
            # otherwise keep Arrow's buffers, the stored bytes themselves).
            dictionary = pa.concat_arrays([dictionary, dictionary.slice(0, 0)])
        dtype = pd.CategoricalDtype(dictionary.to_pandas(), ordered=dictionary_type.ordered)
        if remember:
            remembered[name] = dtype
    indices = combined.indices
    codes = indices.fill_null(-1).to_numpy() if indices.null_count else indices.to_numpy()
    return pd.Categorical.from_codes(_writable(codes), dtype=dtype)


def _fixed_width_dtype(arrow_type: pa.DataType) -> np.dtype | None:
    """The NumPy dtype whose values have the bytes of ``arrow_type``'s values, for fixed-width numbers."""
    t = pa.types
    if t.is_integer(arrow_type) or t.is_floating(arrow_type):
        return np.dtype(arrow_type.to_pandas_dtype())
    if t.is_timestamp(arrow_type) and arrow_type.tz is None:
        return np.dtype(f"datetime64[{arrow_type.unit}]")
    if t.is_duration(arrow_type):
        return np.dtype(f"timedelta64[{arrow_type.unit}]")
    return None


def _gathered(column: pa.ChunkedArray) -> np.ndarray | None:
    """A new, writable array of the values of ``column`` (fixed-width numbers, no nulls), else None.

    Copies each chunk's values into one array: half the time ``ChunkedArray.to_numpy`` takes to
    join several chunks, and one copy where a single chunk would otherwise be converted, then copied.
    """
    dtype = _fixed_width_dtype(column.type)
    if dtype is None:
        return None
    out = _new_array(len(column), dtype)
    position = 0
    for chunk in column.chunks:
        count = len(chunk)
        if count:
            values = np.frombuffer(chunk.buffers()[1], dtype=dtype, count=count, offset=chunk.offset * dtype.itemsize)
            out[position : position + count] = values
        position += count
    return out


def _numpy_convertible(arrow_type: pa.DataType, numpy_type: str, nulls: int) -> bool:
    """Whether pyarrow converts a column of ``arrow_type`` to the NumPy dtype ``numpy_type`` (as saved)."""
    t = pa.types
    if numpy_type in _NUMBERS:
        # With missing values pyarrow turns ints and booleans into floats or objects.
        numbers = t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_boolean(arrow_type)
        return numbers and (not nulls or numpy_type.startswith("float"))
    if numpy_type.startswith(("datetime64[", "timedelta64[")):
        return (t.is_timestamp(arrow_type) and arrow_type.tz is None) or t.is_duration(arrow_type)
    return False


def _numpy_column(
    column: pa.ChunkedArray, entry: dict[str, Any], remembered: dict[str, pd.CategoricalDtype] | None = None
) -> Any:
    """The array ``to_pandas`` makes of one column, or None where this module does not convert it."""
    arrow_type = column.type
    numpy_type = entry.get("numpy_type")
    if pa.types.is_dictionary(arrow_type):
        if entry.get("pandas_type") != "categorical":
            return None
        return _categorical(column, remembered, entry["field_name"])
    if not isinstance(numpy_type, str):
        return None
    if _numpy_convertible(arrow_type, numpy_type, column.null_count):
        array = _gathered(column) if not column.null_count else None
        if array is None:
            array = column.to_numpy()
        return _writable(array) if array.dtype == np.dtype(numpy_type) else None
    extension = None if numpy_type == "object" else _extension_dtype(numpy_type)
    if extension is not None:
        return extension.__from_arrow__(column)
    if _PANDAS_3 and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)):
        return _default_string().__from_arrow__(column)
    return None


@functools.cache
def _default_string() -> pd.StringDtype:
    """pandas' default ``str`` dtype, which pyarrow gives text columns under pandas 3."""
    return pd.StringDtype(na_value=np.nan)


def numpy_frame(
    table: pa.Table,
    pandas_meta: dict[str, Any],
    row_start: int = 0,
    *,
    categories: dict[str, pd.CategoricalDtype] | None = None,
) -> pd.DataFrame | None:
    """``table`` as the frame ``to_pandas()`` makes (writable, owning its numbers), or None unless plain.

    ``row_start`` is where the table's rows begin in the stored frame (its index is that part of the
    stored RangeIndex). ``categories`` remembers the dtypes of categorical columns by name, for later
    reads of the same stored frame: building one costs more than converting a few hundred rows.
    """
    index = _plain_layout(table, pandas_meta, row_start)
    if index is None:
        return None
    entries = {c.get("field_name"): c for c in pandas_meta.get("columns", ())}
    arrays = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        array = _numpy_column(column, entries[name], categories)
        if array is None:
            return None
        arrays.append(array)
    return _assemble(table.column_names, arrays, index)
