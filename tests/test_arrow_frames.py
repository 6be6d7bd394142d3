"""Frames built column by column from Arrow equal the ones pyarrow builds, or are left to pyarrow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from flowdeck.storage import arrow_frames

ROWS = 40


def _column(kind: str, draw: st.DrawFn) -> pd.Series | pd.api.extensions.ExtensionArray | np.ndarray:
    """A column of ``kind`` with ROWS values, missing ones where the dtype has them."""
    missing = draw(st.lists(st.booleans(), min_size=ROWS, max_size=ROWS))
    numbers = np.array(draw(st.lists(st.integers(-1000, 1000), min_size=ROWS, max_size=ROWS)))
    words = np.array([f"w{n % 7}" for n in numbers], dtype=object)
    if kind in ("int64", "int8", "uint32", "float32", "float16"):
        return np.abs(numbers).astype(kind) if kind.startswith("u") else (numbers % 100).astype(kind)
    if kind == "float64":
        return np.where(missing, np.nan, numbers / 7)
    if kind == "bool":
        return numbers % 2 == 0
    if kind == "str":
        return pd.array(np.where(missing, None, words), dtype="str")
    if kind == "object":
        return pd.Series(words, dtype=object)
    if kind == "category":
        values = pd.Categorical(np.where(missing, None, words), ordered=draw(st.booleans()))
        return values
    if kind == "int category":
        return pd.Categorical(numbers % 5)
    if kind == "datetime64[ns]":
        return np.where(missing, np.datetime64("NaT"), np.datetime64("2024-01-01", "ns") + numbers)
    if kind == "datetime64[us]":
        return (np.datetime64("2024-01-01", "us") + numbers).astype("datetime64[us]")
    if kind == "timedelta64[ns]":
        return np.where(missing, np.timedelta64("NaT"), numbers.astype("timedelta64[ns]"))
    if kind in ("Int64", "Float64", "boolean"):
        values = numbers % 2 == 0 if kind == "boolean" else numbers
        return pd.array(np.where(missing, None, values), dtype=kind)
    if kind == "string[pyarrow]":
        return pd.array(np.where(missing, None, words), dtype=kind)
    if kind == "int64[pyarrow]":
        return pd.array(numbers, dtype=kind)
    raise AssertionError(kind)


KINDS = [
    "int64",
    "int8",
    "uint32",
    "float32",
    "float16",
    "float64",
    "bool",
    "str",
    "object",
    "category",
    "int category",
    "datetime64[ns]",
    "datetime64[us]",
    "timedelta64[ns]",
    "Int64",
    "Float64",
    "boolean",
    "string[pyarrow]",
    "int64[pyarrow]",
]


@st.composite
def plain_tables(draw: st.DrawFn) -> tuple[pa.Table, pd.RangeIndex]:
    """A plain frame of some of KINDS, as a table in chunks of a drawn size, with its stored index."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6, unique=True))
    index = pd.RangeIndex(draw(st.integers(-5, 5)), step=draw(st.sampled_from([1, 3])), stop=1_000_000)[:ROWS]
    frame = pd.DataFrame({kind: _column(kind, draw) for kind in kinds}, index=index)
    table = pa.Table.from_pandas(frame, preserve_index=None)
    chunk = draw(st.integers(1, ROWS))
    return pa.Table.from_batches(table.to_batches(max_chunksize=chunk), schema=table.schema), index


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=plain_tables(), start=st.integers(0, ROWS), length=st.integers(0, ROWS))
def test_a_built_frame_equals_pyarrows_and_owns_its_numbers(stored, start, length):
    table, index = stored
    part = table.slice(start, length)
    built = arrow_frames.numpy_frame(part, table.schema.pandas_metadata, start)
    expected = part.to_pandas()
    expected.index = index[start : start + part.num_rows]
    assert built is not None
    assert_frame_equal(built, expected, check_exact=True, check_index_type=True, check_column_type=True)
    assert built.columns.dtype == expected.columns.dtype
    expected = expected.copy()
    # Writable in place (a column over read-only memory would raise "assignment destination is read-only").
    for position in range(built.shape[1]) if len(built) else ():
        built.iloc[0, position] = built.iloc[-1, position]
        expected.iloc[0, position] = expected.iloc[-1, position]
    assert_frame_equal(built, expected, check_exact=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=plain_tables(), start=st.integers(0, ROWS))
def test_a_built_arrow_dtype_frame_equals_pyarrows(stored, start):
    table, index = stored
    part = table.slice(start)
    built = arrow_frames.arrow_dtype_frame(part, table.schema.pandas_metadata, start)
    expected = part.to_pandas(types_mapper=pd.ArrowDtype)
    expected.index = index[start:]
    assert built is not None
    assert_frame_equal(built, expected, check_exact=True, check_index_type=True, check_column_type=True)


UNUSUAL = [
    pd.DataFrame({"a": [1, 2]}, index=pd.Index([5, 6])),  # an index stored as a column
    pd.DataFrame({0: [1.0], 1: [2.0]}),  # labels that are not text
    pd.DataFrame({"a": [1]}, index=pd.RangeIndex(3, 4, name="n")),  # a named, shifted range
    pd.DataFrame({("x", "y"): [1], ("x", "z"): [2]}),  # two levels of labels
    pd.DataFrame({"t": pd.date_range("2024-01-01", periods=2, tz="Europe/Paris"), "b": [True, None]}),
    pd.DataFrame({"a": [1]}).rename_axis(columns="labels"),  # a named level of labels
]
LEFT_TO_PYARROW = [
    pd.DataFrame({"t": pd.date_range("2024-01-01", periods=2, tz="Europe/Paris")}),  # a time zone
    pd.DataFrame({"b": [True, None]}),  # booleans with a missing value: objects
    pd.DataFrame({"d": [pd.Timestamp("2024-01-01").date()] * 2}),  # dates: objects
    pd.DataFrame({"l": [[1, 2], [3]]}),  # lists
]


def _plain(frame: pd.DataFrame) -> bool:
    return (
        isinstance(frame.index, pd.RangeIndex)
        and frame.columns.name is None
        and all(isinstance(c, str) for c in frame.columns)
    )


@pytest.mark.parametrize("frame", UNUSUAL, ids=range(len(UNUSUAL)))
def test_unusual_frames_are_built_when_plain_and_left_to_pyarrow_otherwise(frame):
    table = pa.Table.from_pandas(frame.copy(), preserve_index=None)
    built = arrow_frames.arrow_dtype_frame(table, table.schema.pandas_metadata)
    assert (built is not None) == _plain(frame)
    if built is not None:
        assert_frame_equal(built, table.to_pandas(types_mapper=pd.ArrowDtype), check_exact=True)
    else:
        assert arrow_frames.numpy_frame(table, table.schema.pandas_metadata) is None


def test_columns_this_module_does_not_convert_are_left_to_pyarrow():
    for frame in LEFT_TO_PYARROW:
        table = pa.Table.from_pandas(frame, preserve_index=None)
        assert arrow_frames.numpy_frame(table, table.schema.pandas_metadata) is None, frame


def test_remembered_categories_are_reused_and_do_not_hold_the_tables_bytes():
    frame = pd.DataFrame({"plan": pd.Categorical(["basic", "pro", "basic", None], ordered=True)})
    table = pa.Table.from_pandas(frame, preserve_index=None)
    remembered: dict[str, pd.CategoricalDtype] = {}
    first = arrow_frames.numpy_frame(table, table.schema.pandas_metadata, categories=remembered)
    assert list(remembered) == ["plan"]
    dtype = remembered["plan"]
    again = arrow_frames.numpy_frame(table.slice(1, 2), table.schema.pandas_metadata, 1, categories=remembered)
    assert again["plan"].dtype is dtype
    assert_frame_equal(first, frame, check_exact=True)
    assert_frame_equal(again, frame.iloc[1:3], check_exact=True)
    # The remembered categories live in buffers of their own, not in the table's dictionary.
    dictionary_buffers = {b.address for b in table.column(0).chunk(0).dictionary.buffers() if b is not None}
    categories = pa.array(dtype.categories.array)
    assert dictionary_buffers.isdisjoint(b.address for b in categories.buffers() if b is not None)


def test_frames_built_from_one_table_do_not_share_their_labels():
    table = pa.Table.from_pandas(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}), preserve_index=None)
    first = arrow_frames.numpy_frame(table, table.schema.pandas_metadata)
    second = arrow_frames.numpy_frame(table, table.schema.pandas_metadata)
    first.columns.name = "renamed"
    first.index.name = "rows"
    assert second.columns.name is None
    assert second.index.name is None
    assert list(second.columns) == ["a", "b"]
