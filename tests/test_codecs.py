"""Value codecs: every value comes back equal and of the same type; pickles are signed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import math
import pickle
import socket
import threading
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pandas.testing import assert_frame_equal, assert_series_equal

from flowdeck.errors import ConfigurationError, IntegrityError, ValidationError
from flowdeck.storage.codecs import CODEC_NAMES, PICKLE_MAGIC, Codecs, Encoded

KEY = b"k" * 32
OLD_KEY = b"o" * 32
OTHER_KEY = b"x" * 32

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def codecs() -> Codecs:
    return Codecs([KEY])


def roundtrip(codecs: Codecs, value: Any) -> tuple[str, Any]:
    """Encode, join the parts as a store would, decode."""
    encoded = codecs.encode(value)
    assert isinstance(encoded, Encoded)
    data = b"".join(bytes(p) for p in encoded.parts)
    assert len(data) == encoded.size
    return encoded.codec, codecs.decode(encoded.codec, data)


# --------------------------------------------------------------------------- frames

TZS = [
    dt.UTC,
    zoneinfo.ZoneInfo("Europe/Paris"),
    zoneinfo.ZoneInfo("America/New_York"),
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
]
UNITS = ["s", "ms", "us", "ns"]
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
# Kinds Arrow holds exactly; "mixed-object" and "python-str" must fall back to pickle.
ARROW_KINDS = [
    *INT_DTYPES,
    "float32",
    "float64",
    "bool",
    "Int8",
    "Int64",
    "UInt16",
    "Float64",
    "boolean",
    "str",
    "string-na",
    "object-str",
    "category",
    "category-ordered",
    "category-int",
    "datetime",
    "datetime-tz",
    "timedelta",
    "bytes-object",
]
PICKLE_KINDS = ["mixed-object", "python-str", "complex", "period"]

SECONDS = st.integers(-2_000_000_000, 4_000_000_000)
TEXT = st.text(max_size=8)


def _ints(dtype: str) -> st.SearchStrategy[int]:
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def column(draw: st.DrawFn, kind: str, n: int) -> Any:
    """A column of ``n`` values of one kind."""

    def values(strategy: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(strategy, min_size=n, max_size=n))

    if kind in INT_DTYPES:
        return np.array(values(_ints(kind)), dtype=kind)
    if kind in ("float32", "float64"):
        width = 32 if kind == "float32" else 64
        return np.array(values(st.floats(width=width, allow_nan=True)), dtype=kind)
    if kind == "bool":
        return np.array(values(st.booleans()), dtype=bool)
    if kind in ("Int8", "Int64", "UInt16"):
        base = {"Int8": "int8", "Int64": "int64", "UInt16": "uint16"}[kind]
        return pd.array(values(st.none() | _ints(base)), dtype=kind)
    if kind == "Float64":
        return pd.array(values(st.none() | st.floats(allow_nan=False)), dtype="Float64")
    if kind == "boolean":
        return pd.array(values(st.none() | st.booleans()), dtype="boolean")
    if kind == "str":
        return pd.array(values(st.none() | TEXT), dtype="str")
    if kind == "string-na":
        return pd.array(values(st.none() | TEXT), dtype=pd.StringDtype("pyarrow", na_value=pd.NA))
    if kind == "python-str":
        return pd.array(values(TEXT), dtype=pd.StringDtype("python"))
    if kind == "object-str":
        return pd.Series(values(TEXT), dtype=object).to_numpy()
    if kind == "bytes-object":
        return pd.Series(values(st.binary(max_size=6)), dtype=object).to_numpy()
    if kind == "mixed-object":
        mixed = st.none() | st.integers() | TEXT | st.floats(allow_nan=False) | st.binary(max_size=3)
        return pd.Series(values(mixed), dtype=object).to_numpy()
    if kind in ("category", "category-ordered"):
        cats = ["low", "mid", "high", "x y"]
        return pd.Categorical(
            values(st.none() | st.sampled_from(cats)), categories=cats, ordered=kind == "category-ordered"
        )
    if kind == "category-int":
        return pd.Categorical(values(st.none() | st.sampled_from([3, 1, 2])), categories=[3, 1, 2])
    if kind == "datetime":
        unit = draw(st.sampled_from(UNITS))
        seconds = values(st.none() | SECONDS)
        return pd.to_datetime(pd.array(seconds, dtype="Int64"), unit="s").as_unit(unit)
    if kind == "datetime-tz":
        unit, tz = draw(st.sampled_from(UNITS)), draw(st.sampled_from(TZS))
        seconds = values(st.none() | SECONDS)
        return pd.to_datetime(pd.array(seconds, dtype="Int64"), unit="s", utc=True).tz_convert(tz).as_unit(unit)
    if kind == "timedelta":
        unit = draw(st.sampled_from(UNITS))
        return pd.to_timedelta(pd.array(values(st.none() | SECONDS), dtype="Int64"), unit="ms").as_unit(unit)
    if kind == "complex":
        return np.array(values(st.complex_numbers(allow_nan=False, allow_infinity=False)), dtype=complex)
    if kind == "period":
        return pd.period_range("2020-01", periods=n, freq="M")
    raise AssertionError(kind)


NAMES = st.none() | st.sampled_from(["key", "when", "a b"])


@st.composite
def index(draw: st.DrawFn, n: int) -> pd.Index:
    """An index of ``n`` rows: range, int, str, datetime (maybe with a frequency), categorical, multi."""
    kind = draw(st.sampled_from(["range", "int", "str", "datetime", "datetime-freq", "category", "multi"]))
    name = draw(NAMES)
    if kind == "range":
        start, step = draw(st.integers(-5, 5)), draw(st.sampled_from([1, 2, -3]))
        return pd.RangeIndex(start, start + step * n, step, name=name)
    if kind == "int":
        return pd.Index(draw(st.lists(_ints("int64"), min_size=n, max_size=n)), dtype="int64", name=name)
    if kind == "str":
        return pd.Index(draw(st.lists(TEXT, min_size=n, max_size=n)), dtype="str", name=name)
    if kind == "datetime":
        seconds = draw(st.lists(SECONDS, min_size=n, max_size=n))
        tz = draw(st.none() | st.sampled_from(TZS))
        idx = pd.to_datetime(seconds, unit="s", utc=tz is not None)
        return pd.DatetimeIndex(idx.tz_convert(tz) if tz is not None else idx, name=name)
    if kind == "datetime-freq":
        freq = draw(st.sampled_from(["D", "h", "15min", "MS", "B"]))
        return pd.date_range("2021-03-01", periods=n, freq=freq, tz=draw(st.none() | st.just("UTC")), name=name)
    if kind == "category":
        values = draw(st.lists(st.sampled_from(list("abc")), min_size=n, max_size=n))
        return pd.CategoricalIndex(values, categories=list("abc"), name=name)
    level0 = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    level1 = draw(st.lists(st.sampled_from(["p", "q"]), min_size=n, max_size=n))
    names = draw(st.sampled_from([["outer", "inner"], [None, None], ["outer", None]]))
    return pd.MultiIndex.from_arrays([pd.Index(level0, dtype="int64"), pd.Index(level1, dtype="str")], names=names)


@st.composite
def frames(draw: st.DrawFn, kinds: list[str]) -> pd.DataFrame:
    """A frame of columns of the given kinds, with a varied index and column labels."""
    n = draw(st.integers(0, 7))
    chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=6))
    data = {f"{kind}_{i}": draw(column(kind, n)) for i, kind in enumerate(chosen)}
    frame = pd.DataFrame(data, index=draw(index(n)))
    labels = draw(st.sampled_from(["str", "range", "int", "object-str", "named"]))
    if labels == "range":
        frame.columns = pd.RangeIndex(len(chosen))
    elif labels == "int":
        frame.columns = pd.Index([10 * (len(chosen) - i) for i in range(len(chosen))], dtype="int64")
    elif labels == "object-str":
        frame.columns = pd.Index(list(frame.columns), dtype=object)
    elif labels == "named":
        frame.columns.name = "fields"
    return frame


def assert_frames_identical(out: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Equal values, dtypes, index and column labels (types and names), frequency."""
    assert type(out) is pd.DataFrame
    assert_frame_equal(out, frame, check_exact=True, check_index_type=True, check_column_type=True, check_freq=True)
    assert list(out.dtypes) == list(frame.dtypes)
    for got, want in ((out.index, frame.index), (out.columns, frame.columns)):
        assert type(got) is type(want)
        assert got.dtype == want.dtype
        assert list(got.names) == list(want.names)
    if isinstance(frame.index, pd.DatetimeIndex):
        assert out.index.freq == frame.index.freq


@FAST
@given(frame=frames(ARROW_KINDS))
def test_frames_with_varied_dtypes_roundtrip_exactly_through_arrow(frame: pd.DataFrame) -> None:
    codec, out = roundtrip(Codecs([KEY]), frame)
    assert codec == "arrow"
    assert_frames_identical(out, frame)


@FAST
@given(frame=frames(ARROW_KINDS + PICKLE_KINDS))
def test_frames_arrow_cannot_hold_fall_back_to_pickle_and_roundtrip(frame: pd.DataFrame) -> None:
    codec, out = roundtrip(Codecs([KEY]), frame)
    # A mixed object column may happen to hold only strings: Arrow then holds it exactly.
    if any(name.rsplit("_", 1)[0] in PICKLE_KINDS[1:] for name in map(str, frame.columns)):
        assert codec == "pickle"
    assert_frames_identical(out, frame)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(pd.DataFrame([[1, 2]], columns=["a", "a"]), id="duplicate-labels"),
        pytest.param(pd.DataFrame({0: [1], "b": [2]}), id="mixed-labels"),
        pytest.param(pd.DataFrame({("a", 1): [1]}), id="tuple-label"),
        pytest.param(pd.DataFrame({"a": [1]}, index=pd.Index([1], name=0)), id="int-index-name"),
        pytest.param(pd.DataFrame({"a": [1]}, index=pd.Index(pd.array([1], "Int64"))), id="nullable-index"),
        pytest.param(pd.DataFrame({"a": [1]}, index=pd.Index(["x"], dtype=object)), id="object-index"),
        pytest.param(pd.DataFrame({"a": pd.interval_range(0, 2)}), id="interval"),
        pytest.param(pd.DataFrame({"a": pd.arrays.SparseArray([0, 1, 0])}), id="sparse"),
        pytest.param(pd.DataFrame({"a": ["\ud800", "b"]}, dtype=object), id="lone-surrogate"),
        pytest.param(pd.DataFrame({"a": np.arange(3, dtype=">i4")}), id="big-endian"),
        pytest.param(
            pd.DataFrame({"a": pd.Categorical(pd.date_range("2020", periods=2, tz="UTC"))}), id="tz-categories"
        ),
        pytest.param(
            pd.DataFrame({"a": pd.Categorical(["x"], categories=pd.array(["x", "y"], dtype="string"))}),
            id="string-na-categories",
        ),
        pytest.param(
            pd.DataFrame({"a": pd.array([[1], None], dtype=pd.ArrowDtype(pa.list_(pa.int64())))}), id="arrow-list"
        ),
        pytest.param(
            pd.DataFrame({"a": pd.array([Decimal("1.5")], dtype=pd.ArrowDtype(pa.decimal128(5, 2)))}), id="decimal"
        ),
        pytest.param(
            pd.DataFrame({"a": [1, 2]}, index=pd.period_range("2020", periods=2, freq="M")), id="period-index"
        ),
        pytest.param(pd.DataFrame([[1, 2]], columns=pd.Index([1, 2], dtype="int32")), id="int32-labels"),
        pytest.param(
            pd.DataFrame(
                {"a": range(3)},
                index=pd.date_range(
                    "2020-01-01", periods=3, freq=pd.offsets.CustomBusinessDay(holidays=["2020-01-02"])
                ),
            ),
            id="custom-business-day-freq",
        ),
        pytest.param(pd.DataFrame(), id="empty"),
        pytest.param(pd.DataFrame(index=pd.RangeIndex(5)), id="no-columns"),
        pytest.param(
            pd.DataFrame({"a": pd.Categorical(["x"], categories=pd.Index(["x"], dtype=object))}), id="object-cats"
        ),
    ],
)
def test_frames_arrow_would_change_are_pickled_and_come_back_identical(codecs: Codecs, frame: pd.DataFrame) -> None:
    codec, out = roundtrip(codecs, frame)
    assert codec == "pickle"
    assert_frames_identical(out, frame)


def test_frame_with_attrs_keeps_them(codecs: Codecs) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    frame.attrs["source"] = ("crm", 3)
    _, out = roundtrip(codecs, frame)
    assert out.attrs == {"source": ("crm", 3)}


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(pd.DataFrame(np.zeros((3, 2))), id="range-labels"),
        pytest.param(pd.DataFrame({"a": pd.Series([], dtype=object)}), id="empty-object"),
        pytest.param(
            pd.DataFrame(np.arange(4).reshape(2, 2), columns=pd.MultiIndex.from_arrays([["a", "a"], ["x", "y"]])),
            id="multiindex-columns",
        ),
        pytest.param(
            pd.DataFrame({"v": [1.5, 2.5, 3.5]}, index=pd.timedelta_range("1s", periods=3, freq="s", name="t")),
            id="timedelta-index-freq",
        ),
        pytest.param(
            pd.DataFrame(
                {
                    "i": pd.array([1, None], dtype="int64[pyarrow]"),
                    "s": pd.array(["x", None], dtype=pd.ArrowDtype(pa.large_string())),
                    "t": pd.array(
                        [pd.Timestamp("2020", tz="UTC"), None], dtype=pd.ArrowDtype(pa.timestamp("ms", "UTC"))
                    ),
                    "d": pd.array([dt.date(2020, 1, 2), None], dtype=pd.ArrowDtype(pa.date32())),
                }
            ),
            id="arrow-dtypes",
        ),
        pytest.param(pd.DataFrame({"a": pd.Categorical([True, False])}), id="bool-categories"),
        pytest.param(
            pd.DataFrame({"a": [1, 2, 3]}, index=pd.date_range("2020-03-28", periods=3, freq="D", tz="Europe/Paris")),
            id="tz-index-freq",
        ),
        pytest.param(pd.DataFrame({"a": np.array([1.5, np.nan], dtype="float16")}), id="float16"),
    ],
)
def test_edge_frames_roundtrip_through_arrow(codecs: Codecs, frame: pd.DataFrame) -> None:
    codec, out = roundtrip(codecs, frame)
    assert codec == "arrow"
    assert_frames_identical(out, frame)


def test_decoded_frame_is_writable(codecs: Codecs) -> None:
    frame = pd.DataFrame(
        {
            "i": np.arange(4),
            "f": np.linspace(0, 1, 4),
            "b": [True, False, True, False],
            "I": pd.array([1, None, 3, 4], dtype="Int64"),
            "c": pd.Categorical(list("abca")),
            "s": pd.array(list("wxyz"), dtype="str"),
            "o": pd.Series(list("wxyz"), dtype=object),
            "d": pd.date_range("2020-01-01", periods=4, tz="UTC"),
            "t": pd.to_timedelta(np.arange(4), unit="s"),
        }
    )
    out = codecs.decode("arrow", codecs.encode(frame).to_bytes())
    new = {
        "i": 9,
        "f": 9.5,
        "b": False,
        "I": 9,
        "c": "b",
        "s": "q",
        "o": "k",
        "d": pd.Timestamp("2001-01-01", tz="UTC"),
        "t": pd.Timedelta(seconds=7),
    }
    for name, value in new.items():
        out.loc[1, name] = value
        out.iloc[2, out.columns.get_loc(name)] = value
    for name, value in new.items():
        assert out.loc[1, name] == value
        assert out.iloc[2, out.columns.get_loc(name)] == value
    out["i"] += 1
    out.fillna({"I": 0}, inplace=True)
    assert out["I"].tolist() == [1, 9, 9, 4]
    assert out["i"].tolist() == [1, 10, 10, 4]
    # The saved frame is untouched.
    assert frame["i"].tolist() == [0, 1, 2, 3]


SERIES_KINDS = ["int64", "float64", "Int64", "str", "object-str", "category-ordered", "datetime-tz", "mixed-object"]


@FAST
@given(data=st.data(), kind=st.sampled_from(SERIES_KINDS), name=st.none() | st.sampled_from(["x", 3, 2.5, True]))
def test_series_roundtrip_with_name_dtype_and_index(data: st.DataObject, kind: str, name: Any) -> None:
    n = data.draw(st.integers(0, 6))
    series = pd.Series(data.draw(column(kind, n)), index=data.draw(index(n)), name=name)
    codec, out = roundtrip(Codecs([KEY]), series)
    if kind != "mixed-object":
        assert codec == "arrow-series"
    assert type(out) is pd.Series
    assert_series_equal(out, series, check_exact=True, check_index_type=True, check_freq=True)
    assert out.dtype == series.dtype
    assert out.name == series.name and type(out.name) is type(series.name)
    assert type(out.index) is type(series.index)


# --------------------------------------------------------------------------- JSON-like values


def assert_same(got: Any, want: Any) -> None:
    """Equal and of the same type all the way down (NaN equals NaN, -0.0 is not 0.0)."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, float):
        assert (math.isnan(got) and math.isnan(want)) or (
            got == want and math.copysign(1, got) == math.copysign(1, want)
        )
    elif isinstance(want, list | tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            assert type(k) is type(next(g for g in got if g == k))
            assert_same(got[k], want[k])
    else:
        assert got == want


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
JSON_SAFE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers() | st.booleans() | st.none(), inner, max_size=3)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=20,
)


@FAST
@given(value=JSON_SAFE)
def test_json_safe_values_use_json_and_roundtrip(value: Any) -> None:
    codec, out = roundtrip(Codecs([KEY]), value)
    assert codec == ("str" if type(value) is str else "json")
    assert_same(out, value)


@FAST
@given(value=JSON_LIKE)
def test_nested_values_roundtrip_equal_and_same_type(value: Any) -> None:
    _, out = roundtrip(Codecs([KEY]), value)
    assert_same(out, value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param((1, "a"), id="tuple"),
        pytest.param({1: "a", 2: "b"}, id="int-keys"),
        pytest.param({"a": [1, (2, 3)]}, id="nested-tuple"),
        pytest.param(np.float64(1.5), id="numpy-scalar"),
        pytest.param(np.int64(3), id="numpy-int"),
        pytest.param(float("nan"), id="nan"),
        pytest.param([float("inf")], id="inf"),
        pytest.param(2**80, id="bigint"),
        pytest.param({"when": dt.date(2020, 1, 2)}, id="date"),
        pytest.param("\ud800", id="lone-surrogate"),
    ],
)
def test_values_json_would_change_go_to_pickle(codecs: Codecs, value: Any) -> None:
    codec, out = roundtrip(codecs, value)
    assert codec == "pickle"
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(out) and type(out) is float
    else:
        assert_same(out, value)


# --------------------------------------------------------------------------- bytes and arrays


def test_bytes_bytearray_bytesio(codecs: Codecs) -> None:
    assert roundtrip(codecs, b"\x00raw\xff") == ("bytes", b"\x00raw\xff")
    codec, out = roundtrip(codecs, bytearray(b"abc"))
    assert (codec, type(out), out) == ("bytearray", bytearray, bytearray(b"abc"))
    buffer = io.BytesIO(b"file contents")
    buffer.seek(5)
    codec, out = roundtrip(codecs, buffer)
    assert codec == "bytesio" and type(out) is io.BytesIO
    assert out.tell() == 0 and out.read() == b"file contents"
    assert roundtrip(codecs, b"") == ("bytes", b"")


ARRAY_DTYPES = (
    hnp.integer_dtypes(endianness="=")
    | hnp.unsigned_integer_dtypes()
    | hnp.floating_dtypes()
    | hnp.complex_number_dtypes()
    | hnp.boolean_dtypes()
    | hnp.datetime64_dtypes()
    | hnp.unicode_string_dtypes()
    | hnp.byte_string_dtypes()
)


@FAST
@given(
    array=hnp.arrays(ARRAY_DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
    layout=st.sampled_from(["c", "fortran", "strided"]),
)
def test_numpy_arrays_roundtrip_as_npy(array: np.ndarray, layout: str) -> None:
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "strided" and array.ndim:
        array = array[::2]
    codec, out = roundtrip(Codecs([KEY]), array)
    assert codec == "npy"
    assert type(out) is np.ndarray
    assert out.dtype == array.dtype and out.shape == array.shape
    assert np.array_equal(out, array, equal_nan=array.dtype.kind in "fcmM")
    assert out.flags.writeable


def test_object_arrays_go_to_signed_pickle(codecs: Codecs) -> None:
    array = np.array([1, "a", None], dtype=object)
    codec, out = roundtrip(codecs, array)
    assert codec == "pickle"
    assert out.dtype == object and out.tolist() == [1, "a", None]


# --------------------------------------------------------------------------- signed pickle


@dataclass
class Portfolio:
    """A user-defined object only pickle can hold."""

    owner: str
    weights: dict[str, float] = field(default_factory=dict)


class WritesMarker:
    """Unpickling this creates a file: proof that bytes were (or were not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_custom_objects_use_signed_pickle(codecs: Codecs) -> None:
    value = Portfolio("ana", {"x": 0.25})
    encoded = codecs.encode(value)
    data = encoded.to_bytes()
    assert encoded.codec == "pickle"
    assert data.startswith(PICKLE_MAGIC)
    assert data[len(PICKLE_MAGIC) : len(PICKLE_MAGIC) + 32] == hmac.digest(KEY, data[37:], hashlib.sha256)
    assert codecs.decode("pickle", data) == value


def _signed(key: bytes, payload: bytes) -> bytes:
    return PICKLE_MAGIC + hmac.digest(key, payload, hashlib.sha256) + payload


def test_marker_payload_runs_when_properly_signed(codecs: Codecs, tmp_path: Path) -> None:
    # Control for the refusal tests below: this payload really does act when unpickled.
    marker = tmp_path / "unpickled"
    codecs.decode("pickle", _signed(KEY, pickle.dumps(WritesMarker(marker))))
    assert marker.exists()


@pytest.mark.parametrize("forgery", ["other-key", "unsigned", "raw-pickle", "swapped-payload", "flipped-mac"])
def test_forged_or_tampered_pickles_are_refused_without_unpickling(
    codecs: Codecs, tmp_path: Path, forgery: str
) -> None:
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(WritesMarker(marker))
    benign = _signed(KEY, pickle.dumps("hello"))
    data = {
        "other-key": _signed(OTHER_KEY, evil),
        "unsigned": PICKLE_MAGIC + evil,
        "raw-pickle": evil,
        "swapped-payload": benign[:37] + evil,
        "flipped-mac": (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:])(_signed(KEY, evil)),
    }[forgery]
    with pytest.raises(
        IntegrityError, match="pickle signature does not match this deployment's key; refusing to unpickle"
    ):
        codecs.decode("pickle", data)
    assert not marker.exists()


@pytest.mark.parametrize("position", [0, 5, 20, 40, -1])
def test_a_flipped_byte_anywhere_in_a_pickle_is_refused(codecs: Codecs, position: int) -> None:
    data = bytearray(codecs.encode(Portfolio("ana", {"x": 1.0})).to_bytes())
    data[position] ^= 0x01
    with pytest.raises(IntegrityError, match="refusing to unpickle"):
        codecs.decode("pickle", bytes(data))


def test_key_rotation_old_signatures_still_verify() -> None:
    value = Portfolio("bo", {"y": 2.0})
    old_data = Codecs([OLD_KEY]).encode(value).to_bytes()
    rotated = Codecs([KEY, OLD_KEY])
    assert rotated.decode("pickle", old_data) == value
    new_data = rotated.encode(value).to_bytes()
    assert new_data[5:37] == hmac.digest(KEY, new_data[37:], hashlib.sha256)  # the newest key signs
    with pytest.raises(IntegrityError, match="refusing to unpickle"):
        Codecs([KEY]).decode("pickle", old_data)
    with pytest.raises(IntegrityError, match="refusing to unpickle"):
        Codecs([OLD_KEY]).decode("pickle", new_data)


def _generator() -> Any:
    yield 1


@pytest.mark.parametrize(
    ("make", "type_name"),
    [
        pytest.param(lambda: lambda x: x, "function", id="lambda"),
        pytest.param(threading.Lock, "_thread.lock", id="lock"),
        pytest.param(_generator, "generator", id="generator"),
        pytest.param(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), "socket.socket", id="socket"),
    ],
)
def test_unpicklable_values_raise_validation_error_naming_the_type(codecs: Codecs, make: Any, type_name: str) -> None:
    value = make()
    try:
        with pytest.raises(ValidationError, match=f"cannot store a value of type '{type_name}'") as info:
            codecs.encode(value)
        assert isinstance(info.value, ValueError)
    finally:
        if isinstance(value, socket.socket):
            value.close()


def test_unknown_codec_is_an_integrity_error(codecs: Codecs) -> None:
    with pytest.raises(IntegrityError, match="unknown codec 'zstd-frame'"):
        codecs.decode("zstd-frame", b"...")


def test_corrupt_arrow_bytes_are_an_integrity_error(codecs: Codecs) -> None:
    with pytest.raises(IntegrityError, match="not a valid 'arrow' value"):
        codecs.decode("arrow", b"definitely not arrow")


def test_codecs_need_a_signing_key() -> None:
    with pytest.raises(ConfigurationError, match="at least one non-empty signing key"):
        Codecs([])


def test_decoded_series_is_writable(codecs: Codecs) -> None:
    for series, value in [
        (pd.Series(pd.Categorical(list("abca"))), "c"),
        (pd.Series(np.arange(4.0)), 9.5),
        (pd.Series(pd.array([1, None, 3, 4], dtype="Int64")), 7),
    ]:
        out = codecs.decode("arrow-series", codecs.encode(series).to_bytes())
        out.iloc[0] = value
        out[out.index > 2] = value
        assert out.iloc[0] == value and out.iloc[3] == value
        assert out.iloc[2] == series.iloc[2]


# --------------------------------------------------------------------------- registered codecs (skops)


def _estimator() -> Any:
    from sklearn.linear_model import LogisticRegression

    features = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    return LogisticRegression().fit(features, [0, 0, 1, 1]), features


def test_the_skops_codec_is_registered_with_the_others() -> None:
    estimator, features = _estimator()
    codecs = Codecs([KEY], skops_keys=[OTHER_KEY])
    encoded = codecs.encode_with("skops", estimator)
    assert encoded is not None and encoded.codec == "skops" and "skops" in CODEC_NAMES
    assert isinstance(encoded.info["trusted"], list) and encoded.info["mac"]
    loaded = codecs.decode("skops", encoded.to_bytes(), encoded.info)
    assert type(loaded) is type(estimator)
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))
    # Not an estimator (or nothing skops can round-trip): None, so the caller stores it another way.
    assert codecs.encode_with("skops", {"a": 1}) is None


def test_a_skops_file_with_a_widened_trusted_list_is_refused() -> None:
    estimator, _ = _estimator()
    codecs = Codecs([KEY], skops_keys=[OTHER_KEY])
    encoded = codecs.encode_with("skops", estimator)
    assert encoded is not None
    forged = {**encoded.info, "trusted": [*encoded.info["trusted"], "builtins.eval"]}
    with pytest.raises(IntegrityError, match="skops file's signature does not match this deployment's key"):
        codecs.decode("skops", encoded.to_bytes(), forged)
    # Signed with another deployment's key: refused too; with the old key kept after a rotation: read.
    with pytest.raises(IntegrityError, match="skops file's signature does not match"):
        Codecs([KEY], skops_keys=[KEY]).decode("skops", encoded.to_bytes(), encoded.info)
    rotated = Codecs([KEY], skops_keys=[KEY, OTHER_KEY])
    assert type(rotated.decode("skops", encoded.to_bytes(), encoded.info)) is type(estimator)


def test_codecs_without_skops_keys_say_so() -> None:
    estimator, _ = _estimator()
    encoded = Codecs([KEY], skops_keys=[KEY]).encode_with("skops", estimator)
    assert encoded is not None
    plain = Codecs([KEY])
    with pytest.raises(IntegrityError, match="'skops' codec, which these codecs were not given keys for"):
        plain.decode("skops", encoded.to_bytes(), encoded.info)
    with pytest.raises(ConfigurationError, match="no codec 'skops' is registered"):
        plain.encode_with("skops", estimator)
    with pytest.raises(ConfigurationError, match="codec 'pickle' is built in"):
        plain.register(SkopsCodecNamed("pickle"))


class SkopsCodecNamed:
    """A stand-in codec whose name collides with a built-in one."""

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, value: Any) -> Encoded | None:
        return None

    def decode(self, data: Any, info: Any) -> Any:
        return None
