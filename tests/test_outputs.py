"""save_output / get_input round-trips through the store, integrity checks and garbage collection."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes
from pandas.testing import assert_frame_equal, assert_series_equal

import flowdeck
import sample_flows
from flowdeck import StoreInterface
from flowdeck.config import get_settings
from flowdeck.errors import IntegrityError, ValidationError


@pytest.fixture
def store(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    return StoreInterface(run.flow_id, user="alice", step_name="Produce")


def _roundtrip(store: StoreInterface, value, name: str = "value"):
    store.save_output(value, name)
    return store.get_input(name, step_name="Produce")


def test_awkward_frame_round_trips_exactly(store):
    index = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["letter", "number"])
    frame = pd.DataFrame(
        {
            "small": np.array([1, -2, 3], dtype="int8"),
            "unsigned": np.array([1, 2, 3], dtype="uint32"),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "maybe": pd.array([True, None, False], dtype="boolean"),
            "text": ["x", None, "z"],
            "category": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
            "when": pd.to_datetime(["2024-01-01", "2024-06-01", None]).tz_localize("Europe/Paris"),
            "naive": pd.to_datetime(["2024-01-01 10:00", None, "2024-01-03 00:00"]),
            "span": pd.to_timedelta([1, 2, None], unit="h"),
            "ratio": [0.5, np.nan, np.inf],
        },
        index=index,
    )
    back = _roundtrip(store, frame)
    assert_frame_equal(back, frame, check_exact=True)
    assert back.dtypes.to_dict() == frame.dtypes.to_dict()
    back.iloc[0, 0] = 42  # frames come back writable


def test_large_frame_goes_to_the_blob_store_and_back(store):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.integers(0, 100, 50_000), "b": rng.random(50_000)})
    frame.index.name = "row"
    assert_frame_equal(_roundtrip(store, frame), frame)


def test_series_and_plain_values_keep_their_type(store):
    series = pd.Series([1.5, None, 3.0], name="score", index=pd.Index(["a", "b", "c"], name="k"))
    assert_series_equal(_roundtrip(store, series), series)
    values = {
        "dict": {"a": [1, 2, {"b": None}], "c": "d"},
        "list": [1, "two", 3.0, None, True],
        "str": "text",
        "int": 7,
        "float": 2.5,
        "bool": False,
        "none": None,
        "bytes": b"\x00\x01raw",
        "tuple": (1, 2),
        "intkeys": {1: "a", 2: "b"},
        "date": dt.date(2024, 1, 1),
        "set": {1, 2, 3},
    }
    for name, value in values.items():
        back = _roundtrip(store, value, name)
        assert back == value and type(back) is type(value), name
    array = np.arange(12, dtype="float32").reshape(3, 4)
    back = _roundtrip(store, array, "array")
    assert back.dtype == array.dtype and np.array_equal(back, array)
    buffer = _roundtrip(store, io.BytesIO(b"payload"), "bytesio")
    assert isinstance(buffer, io.BytesIO) and buffer.read() == b"payload"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_json_like_values_round_trip(store, value):
    back = _roundtrip(store, value, "json")
    assert back == value and type(back) is type(value)


frames = data_frames(
    columns=[
        column("i", dtype="int64"),
        column("f", dtype="float64"),
        column("b", dtype="bool"),
        column("s", elements=st.text(max_size=10)),
        # Bounded to what datetime64[ns] holds, with room for time-zone shifts (1677..2262).
        column("t", elements=st.datetimes(dt.datetime(1700, 1, 1), dt.datetime(2200, 1, 1)), dtype="datetime64[ns]"),
    ],
    index=range_indexes(max_size=30),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames, tz=st.sampled_from([None, "UTC", "America/New_York"]), as_category=st.booleans())
def test_generated_frames_round_trip(store, frame, tz, as_category):
    if tz:
        frame["t"] = frame["t"].dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if as_category:
        frame["s"] = frame["s"].astype("category")
    frame["n"] = pd.array(list(frame["i"] % 3), dtype="Int64")
    if len(frame):
        frame.loc[frame.index[0], "n"] = pd.NA
    back = _roundtrip(store, frame, "frame")
    assert_frame_equal(back, frame, check_exact=True)


def test_unstorable_value_names_its_type(store):
    with pytest.raises(ValidationError, match="generator"):
        store.save_output((i for i in range(3)), "gen")
    with pytest.raises(ValueError, match="lock"):
        import threading

        store.save_output(threading.Lock(), "lock")


def _blob_files() -> list[Path]:
    root = Path(get_settings().blob_url.removeprefix("file://"))
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_flipped_byte_in_a_blob_is_an_integrity_error(embedded, where):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    store.save_output(pd.DataFrame({"a": np.arange(100_000)}), "big")
    (blob,) = _blob_files()
    data = bytearray(blob.read_bytes())
    position = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]
    data[position] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        store.get_input("big", step_name="Produce")


def test_gc_removes_only_unreferenced_blobs(embedded):
    from flowdeck.store.maintenance import collect_garbage

    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    kept = pd.DataFrame({"a": np.arange(100_000)})
    store.save_output(kept, "kept")
    doomed = flowdeck.start(sample_flows.three_steps, user="alice")
    StoreInterface(doomed.flow_id, user="alice").save_output(pd.DataFrame({"b": np.arange(100_000)}), "gone")
    assert len(_blob_files()) == 2
    flowdeck.delete_run(doomed.flow_id, user="alice")
    assert collect_garbage(grace_seconds=3600).removed == 0  # too recent to judge
    report = collect_garbage(grace_seconds=0)
    assert (report.examined, report.removed) == (2, 1)
    assert len(_blob_files()) == 1
    assert_frame_equal(store.get_input("kept", step_name="Produce"), kept)


def test_gc_removes_partial_writes_of_a_crashed_writer(embedded):
    import os
    import time

    from flowdeck.store.maintenance import collect_garbage

    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    kept = pd.DataFrame({"a": np.arange(100_000)})
    store.save_output(kept, "kept")
    root = Path(get_settings().blob_url.removeprefix("file://"))
    stale, fresh = root / ".tmp-stale", root / ".tmp-fresh"
    stale.write_bytes(b"half a blob")
    fresh.write_bytes(b"a write in progress")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    report = collect_garbage(grace_seconds=3600)
    assert report.partial_writes_removed == 1
    assert not stale.exists() and fresh.exists()
    assert_frame_equal(store.get_input("kept", step_name="Produce"), kept)
