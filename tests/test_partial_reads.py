"""get_input(columns=, rows=, zero_copy=): partial reads equal the slice of a full read, and stay verified."""

from __future__ import annotations

import contextlib
import gc
import json
import pickle
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes
from pandas.testing import assert_frame_equal, assert_series_equal

import flowdeck
import sample_flows
from flowdeck import StoreInterface
from flowdeck.errors import IntegrityError, NotFoundError, ValidationError
from flowdeck.storage import blobs as blob_storage
from flowdeck.storage import frame_blobs
from flowdeck.storage.codecs import Codecs
from flowdeck.storage.deployment import get_storage


@contextlib.contextmanager
def batch_rows(rows: int) -> Iterator[None]:
    """Write frames in batches of ``rows`` rows (small, so that small frames have many batches)."""
    saved = frame_blobs.BATCH_ROWS
    frame_blobs.BATCH_ROWS = rows
    try:
        yield
    finally:
        frame_blobs.BATCH_ROWS = saved


def _frame(n: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.random(n),
            "label": [f"row {i}" for i in range(n)],
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "maybe": pd.array(np.where(np.arange(n) % 5 == 0, None, np.arange(n)), dtype="Int64"),
        }
    )


@pytest.fixture
def store(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    return StoreInterface(run.flow_id, user="alice", step_name="Produce")


def _selected(frame: pd.DataFrame, columns: list[str] | None, rows: tuple[int, int] | None) -> pd.DataFrame:
    if columns is not None:
        frame = frame[columns]
    return frame if rows is None else frame.iloc[rows[0] : rows[1]]


def _as_arrow_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    return pa.Table.from_pandas(frame).to_pandas(types_mapper=pd.ArrowDtype)


# --------------------------------------------------------------------------- through the store


def test_partial_reads_equal_slices_of_the_full_read(store):
    frame = _frame()
    with batch_rows(1_000):
        store.save_output(frame, "big")

    full = store.get_input("big", step_name="Produce")
    assert_frame_equal(full, frame, check_exact=True)
    columns = st.none() | st.lists(st.sampled_from(list(frame.columns)), min_size=1, max_size=5, unique=True)
    bounds = st.integers(-25_000, 25_000) | st.none()

    @settings(max_examples=25, deadline=None)
    @given(columns=columns, start=bounds, stop=bounds, as_tuple=st.booleans())
    def check(columns: list[str] | None, start: int | None, stop: int | None, as_tuple: bool) -> None:
        rows = (start, stop) if as_tuple else slice(start, stop)
        got = store.get_input("big", step_name="Produce", columns=columns, rows=rows)
        expected = full if columns is None else full[columns]
        assert_frame_equal(got, expected.iloc[slice(start, stop)], check_exact=True)

    check()
    assert_frame_equal(store.get_input("big", step_name="Produce", columns=["x", "id"]), full[["x", "id"]])
    assert_frame_equal(store.get_input("big", step_name="Produce", rows=(1_000, 1_100)), full.iloc[1_000:1_100])


def test_zero_copy_returns_arrow_columns_over_the_stored_bytes(store):
    frame = _frame()
    with batch_rows(1_000):
        store.save_output(frame, "big")
    got = store.get_input("big", step_name="Produce", zero_copy=True)
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in got.dtypes)
    assert_frame_equal(got, _as_arrow_dtypes(frame))
    part = store.get_input("big", step_name="Produce", zero_copy=True, columns=["x"], rows=(999, 2_001))
    assert_frame_equal(part, _as_arrow_dtypes(frame[["x"]].iloc[999:2_001]))
    # No copy: Arrow allocates (almost) nothing for the values, which are the stored blob's memory.
    before = pa.total_allocated_bytes()
    again = store.get_input("big", step_name="Produce", zero_copy=True)
    assert pa.total_allocated_bytes() - before < frame.memory_usage(deep=True).sum() / 10
    values = again["x"].array._pa_array.chunk(1).to_numpy(zero_copy_only=True)
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        values[0] = 1.0


def test_a_column_read_owns_writable_values_held_by_arrows_pool_until_the_frame_goes(store):
    frame = _frame()
    with batch_rows(1_000):
        store.save_output(frame, "big")
    before = pa.total_allocated_bytes()
    got = store.get_input("big", step_name="Produce", columns=["id", "x"])
    # The values are new memory from Arrow's pool (reused without page faults), not the stored bytes.
    assert pa.total_allocated_bytes() - before >= got.memory_usage(index=False).sum()
    got.loc[0, "x"] = -1.0
    got["id"] += 1
    assert_frame_equal(store.get_input("big", step_name="Produce", columns=["id", "x"]), frame[["id", "x"]])
    restored = pickle.loads(pickle.dumps(got))
    assert_frame_equal(restored, got)
    assert restored.loc[0, "x"] == -1.0
    del got, restored
    gc.collect()
    assert pa.total_allocated_bytes() - before < 1_000


def test_series_rows_and_argument_errors(store):
    series = pd.Series(np.arange(30_000, dtype="float64"), name="score")
    with batch_rows(1_000):
        store.save_output(series, "s")
    store.save_output({"a": 1}, "plain")
    assert_series_equal(store.get_input("s", step_name="Produce", rows=slice(5_000, 5_010)), series.iloc[5_000:5_010])
    with pytest.raises(ValidationError, match="columns= applies to DataFrames; this output is a Series"):
        store.get_input("s", step_name="Produce", columns=["score"])
    with pytest.raises(
        ValidationError, match="columns= and rows= apply to DataFrames and Series; this output is a 'dict'"
    ):
        store.get_input("plain", step_name="Produce", rows=(0, 1))
    with pytest.raises(ValidationError, match="rows= takes a contiguous range"):
        store.get_input("s", step_name="Produce", rows=slice(0, 10, 2))
    store.save_output(_frame(3_000), "f")
    with pytest.raises(NotFoundError, match=r"the frame has no column\(s\) \['nope'\]"):
        store.get_input("f", step_name="Produce", columns=["id", "nope"])
    with pytest.raises(ValidationError, match="columns= takes a list of column names"):
        store.get_input("f", step_name="Produce", columns="id")


def _blob_index(data: bytes) -> tuple[int, int, dict]:
    """(offset, length, parsed JSON) of a frame blob's index, read from its trailer."""
    offset, length, _, magic = struct.unpack_from("<QQ16s8s", data, len(data) - 40)
    assert magic == frame_blobs.MAGIC
    return offset, length, json.loads(data[offset : offset + length])


def _blob_spans(data: bytes) -> tuple[int, list[dict]]:
    """(where offsets count from, the per-column index) of a frame blob."""
    return 0, _blob_index(data)[2]["columns"]


def _corrupt(position: int) -> None:
    """Flip one byte of the deployment's only blob, wherever it is stored."""
    blobs = get_storage().blobs
    (key,) = [k for k, _ in blobs.iter_keys()]
    backend = blobs.backend
    data = bytearray(bytes(backend.read(key)))
    data[position] ^= 0xFF
    if hasattr(backend, "client"):  # S3: replace the object, drop the read cache's copy
        backend.client.put_object(Bucket=backend.bucket, Key=backend.object_key(key), Body=bytes(data))
        backend.cache.discard(key)
    else:
        path = backend.path(key)
        path.chmod(0o644)
        path.write_bytes(bytes(data))


def _stored_bytes() -> bytes:
    blobs = get_storage().blobs
    (key,) = [k for k, _ in blobs.iter_keys()]
    return bytes(blobs.backend.read(key))


def test_a_flipped_byte_in_the_read_range_is_an_integrity_error_outside_it_harmless(store):
    frame = pd.DataFrame({"a": np.arange(40_000), "b": np.arange(40_000) * 0.5})
    with batch_rows(1_000):
        store.save_output(frame, "big")
    body, columns = _blob_spans(_stored_bytes())
    offset, length, _ = columns[1]["batches"][3]  # column "b", rows 3,000-3,999
    _corrupt(body + offset + length // 2)

    with pytest.raises(IntegrityError, match=r"stored frame is corrupted: bytes \d+-\d+ of the data does not match"):
        store.get_input("big", step_name="Produce", rows=(3_500, 3_600))
    with pytest.raises(IntegrityError, match="stored frame is corrupted"):
        store.get_input("big", step_name="Produce", columns=["b"])
    with pytest.raises(IntegrityError, match="corrupted"):
        store.get_input("big", step_name="Produce")  # the whole-blob check
    with pytest.raises(IntegrityError, match="corrupted"):
        store.get_input("big", step_name="Produce", zero_copy=True)
    # Other batches, and the same rows of the other column, are not touched by the flip.
    assert_frame_equal(store.get_input("big", step_name="Produce", rows=(10_000, 10_100)), frame.iloc[10_000:10_100])
    assert_frame_equal(store.get_input("big", step_name="Produce", columns=["a"]), frame[["a"]])
    assert_frame_equal(
        store.get_input("big", step_name="Produce", columns=["a"], rows=(3_500, 3_600)), frame[["a"]].iloc[3_500:3_600]
    )


@pytest.mark.backends("sqlite", "postgres-s3")  # the check is remembered per mapped file: local or S3 read cache
def test_a_zero_copy_read_checks_a_file_once_and_again_after_it_changed(store):
    frame = pd.DataFrame({"a": np.arange(40_000), "b": np.arange(40_000) * 0.5})
    with batch_rows(1_000):
        store.save_output(frame, "big")
    expected = _as_arrow_dtypes(frame)
    assert_frame_equal(store.get_input("big", step_name="Produce", zero_copy=True), expected)  # S3: now cached
    time.sleep(2.1)  # a file changed within 2 s is never remembered as checked
    frame_blobs.forget_checked()
    assert_frame_equal(store.get_input("big", step_name="Produce", zero_copy=True), expected)
    (checked,) = frame_blobs._CHECKED.values()
    assert checked.whole_verified
    assert_frame_equal(store.get_input("big", step_name="Produce", zero_copy=True), expected)
    # A changed byte changes the file's identity: the next read checks every chunk again.
    body, columns = _blob_spans(_stored_bytes())
    offset, length, _ = columns[1]["batches"][30]
    _corrupt(body + offset + length // 2)
    with pytest.raises(IntegrityError, match=r"stored frame is corrupted: bytes \d+-\d+ of the data"):
        store.get_input("big", step_name="Produce", zero_copy=True)


def _count_hashes_from_a_clean_slate(store: StoreInterface, frame: pd.DataFrame, monkeypatch) -> list[int]:
    """Read "big" once (S3: into the read cache), forget every check, then record the length of every
    chunk hashed from now on."""
    assert_frame_equal(store.get_input("big", step_name="Produce", rows=(0, 10)), frame[:10])
    time.sleep(2.1)  # a file changed within 2 s is never remembered as checked
    frame_blobs.forget_checked()
    hashed: list[int] = []
    digest = frame_blobs.xxhash.xxh3_64_intdigest
    monkeypatch.setattr(frame_blobs.xxhash, "xxh3_64_intdigest", lambda data: hashed.append(len(data)) or digest(data))
    return hashed


@pytest.mark.backends("sqlite", "postgres-s3")
def test_a_partial_read_checks_each_batch_once_and_again_after_the_file_changed(store, monkeypatch):
    """The batches a partial read checked are remembered for that version of the file, as whole checks are."""
    frame = pd.DataFrame({"a": np.arange(40_000), "b": np.arange(40_000) * 0.5})
    with batch_rows(1_000):
        store.save_output(frame, "big")
    hashed = _count_hashes_from_a_clean_slate(store, frame, monkeypatch)

    assert_frame_equal(store.get_input("big", step_name="Produce", rows=(3_500, 3_600)), frame.iloc[3_500:3_600])
    (checked,) = frame_blobs._CHECKED.values()
    assert checked.batches_checked == {(0, 3), (1, 3)}
    assert len(hashed) == 5  # the schema (checked on every read), two column prefixes, two batches
    hashed.clear()
    assert_frame_equal(store.get_input("big", step_name="Produce", rows=(3_000, 3_100)), frame.iloc[3_000:3_100])
    assert len(hashed) == 1  # the schema only
    hashed.clear()
    assert_frame_equal(
        store.get_input("big", step_name="Produce", columns=["b"], rows=(3_900, 4_100)), frame[["b"]][3_900:4_100]
    )
    assert len(hashed) == 2 and checked.batches_checked == {(0, 3), (1, 3), (1, 4)}  # the schema, one new batch

    # A changed byte changes the file's identity: the batch is checked again and the read fails.
    body, columns = _blob_spans(_stored_bytes())
    offset, length, _ = columns[1]["batches"][3]
    _corrupt(body + offset + length // 2)
    with pytest.raises(IntegrityError, match=r"stored frame is corrupted: bytes \d+-\d+ of the data"):
        store.get_input("big", step_name="Produce", rows=(3_500, 3_600))


@pytest.mark.backends("sqlite", "postgres-s3")
def test_a_column_read_whole_checks_its_stream_once_and_fails_on_a_flipped_byte(store, monkeypatch):
    """columns= without rows= decodes each column's stream in one call, every chunk of it checked first."""
    frame = _frame(12_000)
    with batch_rows(1_000):
        store.save_output(frame, "big")
    hashed = _count_hashes_from_a_clean_slate(store, frame, monkeypatch)

    for columns in (["x", "kind"], ["label"], ["maybe", "id"]):
        assert_frame_equal(store.get_input("big", step_name="Produce", columns=columns), frame[columns])
    assert len(hashed) == 3 + 5 * 13  # the schema on each read; a prefix and 12 batches for each column
    (checked,) = frame_blobs._CHECKED.values()
    assert checked.batches_checked == {(c, b) for c in range(5) for b in range(12)}
    hashed.clear()
    assert_frame_equal(store.get_input("big", step_name="Produce", columns=["kind", "x"]), frame[["kind", "x"]])
    assert len(hashed) == 1  # the schema only: every chunk of these columns was checked before

    body, columns = _blob_spans(_stored_bytes())
    offset, length, _ = columns[2]["batches"][11]  # column "label", its last batch
    _corrupt(body + offset + length // 2)
    with pytest.raises(IntegrityError, match=r"stored frame is corrupted: bytes \d+-\d+ of the data"):
        store.get_input("big", step_name="Produce", columns=["label"])


def test_a_column_stream_with_a_gap_is_read_batch_by_batch():
    """Only a stream whose chunks follow each other with no unchecked byte between them is decoded in one call."""
    assert frame_blobs._contiguous((64, 100, 0), [(164, 50, 0), (214, 50, 0)])
    assert frame_blobs._contiguous((64, 100, 0), [])
    assert not frame_blobs._contiguous((64, 100, 0), [(164, 50, 0), (222, 50, 0)])
    assert not frame_blobs._contiguous((64, 100, 0), [(200, 50, 0)])
    table = pa.table({"a": np.arange(5_000)})
    with batch_rows(1_000):
        parts, _ = frame_blobs.write_table(table)
    reader = frame_blobs.FrameBlobReader(b"".join(bytes(p) for p in parts), verify=True)
    prefix, spans = reader._index.columns[0]
    reader._index.columns[0] = (prefix, [*spans[:2], (spans[2][0] + 8, spans[2][1], spans[2][2]), *spans[3:]])
    with pytest.raises(IntegrityError, match="stored frame is corrupted"):  # read batch by batch: the moved range
        reader.read([0])
    reader._index.columns[0] = (prefix, spans)
    assert reader.read([0]).equals(table)


def test_column_selections_are_remembered_and_a_missing_column_is_refused_every_time(store):
    frame = _frame(3_000)
    store.save_output(frame, "f")
    for _ in range(2):
        assert_frame_equal(store.get_input("f", step_name="Produce", columns=["x", "id"]), frame[["x", "id"]])
        assert_frame_equal(store.get_input("f", step_name="Produce", columns=["id", "x"]), frame[["id", "x"]])
        with pytest.raises(NotFoundError, match=r"the frame has no column\(s\) \['nope'\]"):
            store.get_input("f", step_name="Produce", columns=["id", "nope"])


@pytest.mark.backends("sqlite", "postgres-s3")
def test_zero_copy_reads_of_one_blob_share_its_map_and_partial_reads_keep_none(store, monkeypatch):
    frame = pd.DataFrame({"a": np.arange(200_000), "b": np.arange(200_000) * 0.5})  # over MMAP_THRESHOLD
    store.save_output(frame, "big")
    store.get_input("big", step_name="Produce", rows=(0, 1))  # S3: now in the read cache
    blob_storage.forget_kept_maps()
    mapped: list[int] = []
    real = blob_storage.mmap.mmap
    monkeypatch.setattr(blob_storage.mmap, "mmap", lambda *a, **k: mapped.append(a[1]) or real(*a, **k))

    for _ in range(3):
        assert_frame_equal(store.get_input("big", step_name="Produce", rows=(5, 10)), frame[5:10])
    assert len(mapped) == 3  # each partial read maps afresh: a download's memory stays flat
    first = store.get_input("big", step_name="Produce", zero_copy=True)
    second = store.get_input("big", step_name="Produce", zero_copy=True)
    assert len(mapped) == 4
    assert_frame_equal(second, _as_arrow_dtypes(frame))
    assert_frame_equal(first, second)
    blob_storage.forget_kept_maps()


def test_a_blobs_index_is_parsed_once_even_while_its_file_is_new(store, monkeypatch):
    """Readers of one blob share its parsed index (by blob key), also within 2 s of the write."""
    frame = pd.DataFrame({"a": np.arange(40_000), "kind": pd.Categorical(np.arange(40_000) % 3)})
    with batch_rows(1_000):
        store.save_output(frame, "big")
    frame_blobs.forget_checked()
    parses = []
    parse = frame_blobs._parse_index
    monkeypatch.setattr(frame_blobs, "_parse_index", lambda *args: parses.append(args) or parse(*args))
    for start in (0, 7_000, 39_900):
        got = store.get_input("big", step_name="Produce", rows=(start, start + 100))
        assert_frame_equal(got, frame.iloc[start : start + 100])
    assert len(parses) == 1


@pytest.mark.parametrize("read_before", [False, True], ids=["first read", "index parsed before"])
@pytest.mark.parametrize("where", ["header", "prefix", "schema"])
def test_a_flipped_byte_in_the_index_fails_every_partial_read(store, where, read_before):
    """The index is parsed once per blob, but its bytes (and the schema's) are checked on every read."""
    frame = pd.DataFrame({"a": np.arange(40_000), "b": np.arange(40_000) * 0.5})
    with batch_rows(1_000):
        store.save_output(frame, "big")
    if read_before:
        assert_frame_equal(store.get_input("big", step_name="Produce", columns=["a"], rows=(0, 10)), frame[["a"]][:10])
    data = _stored_bytes()
    body, columns = _blob_spans(data)
    index_offset, index_length, index = _blob_index(data)
    position = {
        "header": index_offset + index_length // 2,
        "prefix": body + columns[0]["prefix"][0] + 12,
        "schema": index["schema"][0] + index["schema"][1] - 20,
    }[where]
    _corrupt(position)
    with pytest.raises(IntegrityError, match="stored frame is corrupted"):
        store.get_input("big", step_name="Produce", columns=["a"], rows=(0, 10))


@pytest.mark.backends("sqlite", "postgres-s3")
def test_a_categoricals_dictionary_is_decoded_once_and_its_prefix_checked_for_each_file(store, monkeypatch):
    # 120,000 one-byte codes: a blob, not a value kept inline in the database
    frame = pd.DataFrame({"kind": pd.Categorical(np.array(["red", "green", "blue"])[np.arange(120_000) % 3])})
    with batch_rows(1_000):
        store.save_output(frame, "big")
    frame_blobs.forget_checked()  # the same blob read by an earlier test in this process
    decoded: list[int] = []
    read_stream = frame_blobs._read_stream
    monkeypatch.setattr(frame_blobs, "_read_stream", lambda buffer: decoded.append(buffer.size) or read_stream(buffer))
    for start in (3_500, 60_000, 119_990):
        got = store.get_input("big", step_name="Produce", rows=(start, start + 10))
        assert_frame_equal(got, frame.iloc[start : start + 10])
    assert len(decoded) == 1
    # The remembered dictionary is a copy: it holds none of the mapped bytes.
    (index,) = [i for i in frame_blobs._PARSED.values() if ("dictionary", 0) in i.memo]
    assert index.memo[("dictionary", 0)].to_pylist() == ["blue", "green", "red"]

    # A flipped byte in the prefix changes the file's identity: the prefix is checked again, and fails.
    body, columns = _blob_spans(_stored_bytes())
    _corrupt(body + columns[0]["prefix"][0] + columns[0]["prefix"][1] // 2)
    with pytest.raises(IntegrityError, match=r"stored frame is corrupted: bytes \d+-\d+ of the data"):
        store.get_input("big", step_name="Produce", rows=(3_500, 3_510))


def test_frames_written_before_frame_blobs_still_read(store):
    """An Arrow IPC file blob (the earlier format): full reads as before, partial ones decode and slice."""
    frame = _frame(5_000)
    codecs = get_storage().values.codecs
    old = bytes(frame_blobs.to_ipc_file(codecs.encode(frame).to_bytes()))
    assert old.startswith(b"ARROW1")
    assert_frame_equal(codecs.decode("arrow", old), frame)
    # Stored through the blob store as those bytes, under the arrow codec.
    values = get_storage().values
    ref = values.blobs.put([old])
    row = type("Row", (), {"codec": "arrow", "inline_data": None, "blob_key": ref.key, "checksum": ref.checksum})
    assert_frame_equal(values.get(row), frame)
    assert_frame_equal(values.get(row, columns=["label"], rows=(10, 20)), frame[["label"]].iloc[10:20])
    assert_frame_equal(values.get(row, zero_copy=True), _as_arrow_dtypes(frame))


FORMAT1_BLOB = Path(__file__).parent / "fixtures" / "frame_format1.fdframe"


def _format1_frame() -> pd.DataFrame:
    """The frame stored in FORMAT1_BLOB (written in batches of 100 rows by the first frame-blob format)."""
    n = 1000
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "x": np.arange(n) * 0.25,
            "label": pd.array([f"row {i}" for i in range(n)], dtype="str"),
            "kind": pd.Categorical(["a", "b", "c", "d"] * (n // 4)),
            "maybe": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="min"),
        }
    )


def test_frames_in_the_first_frame_blob_format_still_read_whole_and_in_part(store):
    old = FORMAT1_BLOB.read_bytes()
    assert old.startswith(b"FDFRAME1")
    frame = _format1_frame()
    values = get_storage().values
    ref = values.blobs.put([old])
    row = type("Row", (), {"codec": "arrow", "inline_data": None, "blob_key": ref.key, "checksum": ref.checksum})
    assert_frame_equal(values.get(row), frame, check_exact=True)
    assert_frame_equal(
        values.get(row, columns=["kind", "label"], rows=(250, 420)), frame[["kind", "label"]].iloc[250:420]
    )
    assert_frame_equal(values.get(row, rows=(0, 0)), frame.iloc[0:0])
    assert_frame_equal(values.get(row, zero_copy=True), _as_arrow_dtypes(frame))
    # Its per-batch checksums still guard partial reads: rows 300-399 of "x" are one batch.
    _, length, _ = struct.unpack_from("<8sQ16s", old)
    header = json.loads(old[32 : 32 + length])
    body = 32 + length + (-(32 + length) % 64)
    offset, size, _ = header["columns"][1]["batches"][3]
    _corrupt(body + offset + size // 2)
    with pytest.raises(IntegrityError, match="stored frame is corrupted"):
        values.get(row, columns=["x"], rows=(310, 320))
    assert_frame_equal(values.get(row, columns=["id"], rows=(310, 320)), frame[["id"]].iloc[310:320])


# --------------------------------------------------------------------------- the codec, many frames


frames = data_frames(
    columns=[
        column("i", dtype="int64"),
        column("f", dtype="float64"),
        column("s", elements=st.text(max_size=5) | st.none()),
        column("c", elements=st.sampled_from(["x", "y"])),
    ],
    index=range_indexes(min_size=0, max_size=60),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=frames,
    columns=st.none() | st.lists(st.sampled_from(["i", "f", "s", "c"]), min_size=1, unique=True),
    start=st.integers(-70, 70) | st.none(),
    stop=st.integers(-70, 70) | st.none(),
    categorical=st.booleans(),
    zero_copy=st.booleans(),
)
def test_codec_selection_equals_the_slice_of_a_full_decode(frame, columns, start, stop, categorical, zero_copy):
    if categorical:
        frame["c"] = frame["c"].astype("category")
    codecs = Codecs([b"key"])
    with batch_rows(7):
        encoded = codecs.encode(frame)
    data = encoded.to_bytes()
    full = codecs.decode(encoded.codec, data)
    assert_frame_equal(full, frame, check_exact=True)
    got = codecs.decode_selected(
        encoded.codec, data, columns=columns, rows=slice(start, stop), zero_copy=zero_copy, verified=False
    )
    expected = _selected(full, columns, None).iloc[start:stop]
    arrow_stored = encoded.codec == "arrow"
    assert_frame_equal(got, _as_arrow_dtypes(expected) if zero_copy and arrow_stored else expected, check_exact=True)


def test_a_frame_blob_is_no_bigger_than_its_arrow_data_plus_its_index() -> None:
    """Strings, lists and categoricals cost their Arrow bytes, not those plus a second copy of their offsets."""
    rows = 200_000
    frame = pd.DataFrame(
        {
            "text": pd.array([f"customer-{i}" for i in range(rows)], dtype="str"),
            "tags": [[i, i + 1] for i in range(rows)],
            "plan": pd.Categorical(np.where(np.arange(rows) % 3 == 0, "basic", "pro")),
            "amount": np.arange(rows, dtype="float64"),
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    parts, size = frame_blobs.write_table(table)
    batches = -(-rows // frame_blobs.BATCH_ROWS)
    overhead = 64 + 40 + 4096 + 1024 * batches * table.num_columns  # head, trailer, index, batch headers
    assert size < table.nbytes + overhead, (size, table.nbytes)
    reader = frame_blobs.FrameBlobReader(b"".join(bytes(p) for p in parts), verify=True)
    assert reader.read().equals(table)
