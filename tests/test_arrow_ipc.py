"""Arrow IPC (Feather v2) files from outside: declared sizes read from the metadata, and bounded parsing."""

from __future__ import annotations

import io
import struct

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from flowdeck.arrow_ipc import IpcFormatError, declared_sizes
from flowdeck.errors import ValidationError
from flowdeck.formats import ParseLimits, parse_feather

MiB = 1024 * 1024


def feather_bytes(frame: pd.DataFrame | pa.Table, **options: object) -> bytes:
    buffer = io.BytesIO()
    feather.write_feather(frame, buffer, **options)
    return buffer.getvalue()


def feather_claiming(decoded: int, rows: int = 12_345) -> bytes:
    """A zstd feather file of one int64 column whose data buffer claims to decompress to ``decoded`` bytes."""
    data = feather_bytes(pd.DataFrame({"n": np.arange(rows)}), compression="zstd")
    prefix = struct.pack("<q", rows * 8)  # a compressed buffer starts with its decompressed length
    assert data.count(prefix) == 1
    return data.replace(prefix, struct.pack("<q", decoded))


MIXED = pd.DataFrame(
    {
        "x": np.linspace(0, 1, 50_000),
        "s": [f"row {i}" for i in range(50_000)],
        "c": pd.Categorical(["u", "v"] * 25_000),
        "maybe": pd.array([1, None] * 25_000, dtype="Int64"),
    }
)


@pytest.mark.parametrize("compression", ["uncompressed", "lz4", "zstd"])
def test_declared_sizes_are_what_the_decoded_table_takes(compression: str) -> None:
    data = feather_bytes(MIXED, compression=compression, chunksize=7_000)
    declared = declared_sizes(data)
    table = feather.read_table(io.BytesIO(data))
    assert (declared.rows, declared.columns) == (50_000, 4)
    assert declared.decoded_bytes == pytest.approx(table.nbytes, rel=0.001)


@pytest.mark.parametrize("compression", ["uncompressed", "lz4", "zstd"])
def test_a_feather_file_within_the_limits_reads_exactly(compression: str) -> None:
    data = feather_bytes(MIXED, compression=compression)
    assert_frame_equal(parse_feather(data, "mixed.feather"), MIXED)


def test_a_real_zstd_bomb_is_refused_from_its_declared_size() -> None:
    data = feather_bytes(pd.DataFrame({"zero": np.zeros(8 * MiB)}), compression="zstd")
    assert len(data) < MiB // 4
    limits = ParseLimits(max_decoded_bytes=16 * MiB)
    with pytest.raises(
        ValidationError,
        match=r"'zeros\.feather' declares column data of 67,108,864 bytes, over the limit of 16,777,216 bytes "
        r"\(setting max_decoded_bytes\)",
    ):
        parse_feather(data, "zeros.feather", limits=limits)


def test_a_forged_length_prefix_is_refused_before_anything_is_allocated() -> None:
    with pytest.raises(ValidationError, match=r"'forged\.feather' declares column data of 1,099,511,627,776 bytes"):
        parse_feather(feather_claiming(1024**4), "forged.feather")


def test_too_many_cells_are_refused_from_the_row_counts() -> None:
    data = feather_bytes(pd.DataFrame({"a": np.zeros(1_000, np.int8), "b": np.zeros(1_000, np.int8)}))
    with pytest.raises(ValidationError, match=r"'cells\.feather' declares 2,000 cells, over the limit of 1,999 cells"):
        parse_feather(data, "cells.feather", limits=ParseLimits(max_cells=1_999))


@pytest.mark.parametrize(
    ("column", "type_name"),
    [
        (pa.array(["x" * 1_000] * 10, pa.string_view()), "string_view"),
        (pa.array([b"y" * 1_000] * 10, pa.binary_view()), "binary_view"),
        (pa.RunEndEncodedArray.from_arrays([1_000_000], ["z" * 1_000]), "run_end_encoded"),
        (pa.array([[1, 2]] * 10, pa.list_view(pa.int64())), "list_view"),
        (pa.array([[["a"]]] * 3, pa.list_(pa.list_(pa.string_view()))), "string_view"),
    ],
)
def test_types_whose_rows_may_share_bytes_are_refused(column: pa.Array, type_name: str) -> None:
    # A run-end-encoded column of one run, or views all pointing at one string, decode in pandas
    # to a copy per row: far beyond the bytes the file declares.
    data = feather_bytes(pa.table({"shared": column}), compression="uncompressed")
    shared = rf"'views\.feather' has column 'shared' of type .*{type_name}.*whose rows may share bytes"
    with pytest.raises(ValidationError, match=shared):
        parse_feather(data, "views.feather")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-20], "it does not start and end with ARROW1"),
        (lambda data: data[:-10] + struct.pack("<i", 10**9) + data[-6:], "its footer length is out of range"),
        (lambda data: b"PAR1" + data[4:], "it does not start and end with ARROW1"),
    ],
)
def test_damaged_files_are_validation_errors(damage: object, message: str) -> None:
    data = damage(feather_bytes(MIXED, compression="lz4"))  # type: ignore[operator]
    with pytest.raises(ValidationError, match=rf"'damaged\.feather' is not a valid feather file: {message}"):
        parse_feather(data, "damaged.feather")


def test_offsets_outside_the_file_never_wrap_around() -> None:
    data = feather_bytes(MIXED, compression="lz4")
    footer_start = len(data) - 10 - struct.unpack("<i", data[-10:-6])[0]
    # The footer's root offset points 4 GB past its start.
    forged = data[:footer_start] + struct.pack("<I", 2**32 - 1) + data[footer_start + 4 :]
    with pytest.raises(IpcFormatError, match="outside the"):
        declared_sizes(forged)


SMALL = feather_bytes(pd.DataFrame({"i": np.arange(300), "s": [f"v{i}" for i in range(300)]}), compression="lz4")


@given(st.lists(st.tuples(st.integers(0, len(SMALL) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_a_damaged_file_reads_or_is_a_validation_error(changes: list[tuple[int, int]]) -> None:
    data = bytearray(SMALL)
    for position, value in changes:
        data[position] = value
    try:
        frame = parse_feather(bytes(data), "fuzzed.feather", limits=ParseLimits(max_decoded_bytes=MiB))
    except ValidationError as exc:
        assert "'fuzzed.feather'" in str(exc)
    else:
        assert isinstance(frame, pd.DataFrame)


def test_extension_types_pandas_writes_read_back() -> None:
    frame = pd.DataFrame({"p": pd.period_range("2024-01", periods=3, freq="M"), "i": pd.interval_range(0, 3)})
    assert_frame_equal(parse_feather(feather_bytes(frame), "extension.feather"), frame)
