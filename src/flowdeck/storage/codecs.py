"""Values to bytes and back: each value type gets the codec that returns it equal and of the same type.

| value | codec | format |
| --- | --- | --- |
| ``pandas.DataFrame`` | ``arrow`` | Arrow IPC file, uncompressed (a Feather v2 file) |
| ``pandas.Series`` | ``arrow-series`` | the same, as a one-column frame |
| ``str`` | ``str`` | UTF-8 |
| JSON-safe nestings of None/bool/int/float/str/list/dict | ``json`` | JSON |
| ``bytes`` / ``bytearray`` / ``io.BytesIO`` | ``bytes`` / ``bytearray`` / ``bytesio`` | raw |
| ``numpy.ndarray`` (no Python objects inside) | ``npy`` | NumPy ``.npy`` |
| anything else picklable | ``pickle`` | pickle protocol 5 signed with HMAC-SHA256 |
| scikit-learn estimators, by name (:meth:`Codecs.encode_with`) | ``skops`` | skops file (+ ``Encoded.info``) |

The ``skops`` codec keeps the list of types the file may load and an HMAC over the bytes and that
list in ``Encoded.info``, which the caller stores beside the bytes and hands back to ``decode``.

Frames Arrow cannot hold exactly (mixed-type object columns, duplicate column labels, periods,
intervals, ...) are decided up front from their dtypes and labels and stored as signed pickle, so
a decoded frame is never subtly different from the saved one. Codec names are stored in database
rows and never change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import math
import pickle
import sys
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
from pandas.api.types import infer_dtype

from flowdeck.errors import ConfigurationError, IntegrityError, NotFoundError, ValidationError
from flowdeck.storage import arrow_frames, frame_blobs

try:  # orjson is faster; the stdlib reads and writes the same JSON.
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

__all__ = ["CODEC_NAMES", "SKOPS_SIGNING_PURPOSE", "Codec", "Codecs", "Encoded", "SkopsCodec"]

Buffer = bytes | bytearray | memoryview

CODEC_NAMES = (
    "arrow",
    "arrow-series",
    "str",
    "json",
    "bytes",
    "bytearray",
    "bytesio",
    "npy",
    "pickle",
    "skops",
)

PICKLE_MAGIC = b"FDPK1"
_MAC_SIZE = 32
_PICKLE_HEADER = len(PICKLE_MAGIC) + _MAC_SIZE

# Schema metadata key for what pandas' own metadata does not restore exactly.
_META_KEY = b"flowdeck"
# JSON integers beyond 64 bits do not survive every JSON parser.
_JSON_INT_MIN, _JSON_INT_MAX = -(2**63), 2**64 - 1
# orjson refuses deeper nestings; such values go to pickle.
_JSON_MAX_DEPTH = 200
_JSON_SCALARS = (str, bool, type(None))
# Values in a decoded table from which Arrow converts to pandas on several threads.
_THREADS_FROM = 262_144
# Frames of up to this many columns are built column by column (arrow_frames), whatever their length.
_DIRECT_COLUMNS = 8
# Column selections whose table positions are remembered, per stored frame.
_REMEMBERED_SELECTIONS = 64


class Encoded:
    """A value turned into bytes: the codec that reads it back and the buffers to store, in order.

    ``info`` is what a registered codec needs besides the bytes to read them back (kept by the caller,
    e.g. in an asset's metadata); the built-in codecs need none. A frame's last buffers (its index)
    depend on checksums of the others: ``tail`` holds them until :attr:`parts` is first read, so that
    the blob store can compute those checksums while it writes (:meth:`body`).
    """

    def __init__(
        self,
        codec: str,
        parts: list[Buffer],
        size: int,
        info: dict[str, Any] | None = None,
        *,
        tail: frame_blobs.Tail | None = None,
    ) -> None:
        """``size`` counts every byte, the tail's too."""
        self.codec = codec
        self._parts = parts
        self.size = size
        self.info: dict[str, Any] = {} if info is None else info
        self.tail = tail

    def __repr__(self) -> str:
        return f"Encoded(codec={self.codec!r}, size={self.size}, parts={len(self._parts)})"

    @property
    def parts(self) -> list[Buffer]:
        """Every buffer of the value, in order (a pending tail is computed here, once)."""
        if self.tail is not None:
            self._parts = [*self._parts, *self.tail.finish_serial(self._parts)]
            self.tail = None
        return self._parts

    @parts.setter
    def parts(self, parts: list[Buffer]) -> None:
        self._parts = parts
        self.tail = None

    def body(self) -> tuple[list[Buffer], frame_blobs.Tail | None]:
        """The buffers so far and the tail still to compute from their checksums (None when complete)."""
        return self._parts, self.tail

    def to_bytes(self) -> bytes:
        """The parts joined into one ``bytes`` (for storing small values inline)."""
        parts = self.parts
        if len(parts) == 1 and type(parts[0]) is bytes:
            return parts[0]
        return b"".join(parts)


def _encoded(codec: str, parts: list[Buffer]) -> Encoded:
    return Encoded(codec, parts, sum(memoryview(p).nbytes for p in parts))


# --------------------------------------------------------------------------- JSON


def _is_json_safe(value: Any, depth: int = 0) -> bool:
    """Whether JSON returns ``value`` equal and of the same type (tuples, int keys, NaN do not)."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return True
    if kind is int:
        return _JSON_INT_MIN <= value <= _JSON_INT_MAX
    if kind is float:
        return math.isfinite(value)
    if depth >= _JSON_MAX_DEPTH:
        return False
    if kind is dict:
        if not all(type(k) is str for k in value):
            return False
        items = value.values()
    elif kind is list:
        items = value
    else:
        return False
    # Scalars are checked inline: this runs on every small save, and a call per item would dominate.
    for item in items:
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if item_kind is float:
            if not math.isfinite(item):
                return False
        elif item_kind is int:
            if not _JSON_INT_MIN <= item <= _JSON_INT_MAX:
                return False
        elif not _is_json_safe(item, depth + 1):
            return False
    return True


def _json_dumps(value: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _json_loads(data: Buffer) -> Any:
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(bytes(data))


# --------------------------------------------------------------------------- Arrow (frames)


def _arrow_type_exact(arrow_type: pa.DataType) -> bool:
    """Whether a pandas ``ArrowDtype`` column of this Arrow type comes back as the same dtype."""
    t = pa.types
    return (
        t.is_integer(arrow_type)
        or t.is_floating(arrow_type)
        or t.is_boolean(arrow_type)
        or t.is_large_string(arrow_type)
        or t.is_binary(arrow_type)
        or t.is_large_binary(arrow_type)
        or t.is_date(arrow_type)
        or t.is_time(arrow_type)
        or t.is_timestamp(arrow_type)
        or t.is_duration(arrow_type)
    )


def _exact_dtype(dtype: Any, *, where: str = "column") -> bool:
    """Whether pyarrow round-trips values of ``dtype`` to the same dtype (object columns aside).

    ``where`` is ``"column"``, ``"index"`` or ``"categories"``: Arrow restores fewer dtypes in an
    index or as the categories of a categorical.
    """
    if isinstance(dtype, np.dtype):
        # bool, ints, floats (float16 too), datetime64 and timedelta64 in native byte order.
        return dtype.kind in "biufmM" and dtype.isnative
    if isinstance(dtype, pd.StringDtype):
        # The python storage comes back as pyarrow; categories only keep the default str dtype.
        return dtype.storage == "pyarrow" and (where != "categories" or dtype.na_value is not pd.NA)
    if where == "categories":
        return False
    if isinstance(dtype, pd.DatetimeTZDtype):
        # pytz/dateutil zones would come back as zoneinfo: a different dtype.
        return isinstance(dtype.tz, zoneinfo.ZoneInfo | dt.timezone)
    if isinstance(dtype, pd.CategoricalDtype):
        # With no categories Arrow has no values to tell str from object categories by.
        return len(dtype.categories) > 0 and _exact_dtype(dtype.categories.dtype, where="categories")
    if where == "index":
        # A nullable or Arrow-typed index comes back as another dtype.
        return False
    if isinstance(dtype, arrow_frames.MASKED_DTYPES):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_type_exact(dtype.pyarrow_dtype)
    return False


def _is_na_string(dtype: Any) -> bool:
    """Whether ``dtype`` is the pyarrow string dtype whose missing value is ``pd.NA``."""
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and dtype.na_value is pd.NA


def _label_ok(name: Any) -> bool:
    return name is None or (type(name) is str and not name.startswith("__index_level_"))


def _index_plan(index: pd.Index) -> dict[str, Any] | None:
    """What the index needs restored after decoding, or None when Arrow cannot hold it exactly."""
    if type(index) is pd.RangeIndex:
        return {} if _label_ok(index.name) else None
    if isinstance(index, pd.MultiIndex):
        named = [n for n in index.names if n is not None]
        if not all(_label_ok(n) for n in index.names) or len(set(named)) < len(named):
            return None
        exact = all(
            _exact_dtype(level.dtype, where="index") and not _is_na_string(level.dtype) for level in index.levels
        )
        return {} if exact else None
    if not _label_ok(index.name) or not _exact_dtype(index.dtype, where="index"):
        return None
    if _is_na_string(index.dtype):
        # Arrow gives a string index back with NaN as its missing value; the pd.NA variant is restored.
        return {"na_string": True} if type(index) is pd.Index else None
    if type(index) not in (pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex):
        return None
    freq = getattr(index, "freq", None)
    if freq is None:
        return {}
    # Arrow does not keep an index's frequency; it is restored from its string form.
    try:
        same = pd.tseries.frequencies.to_offset(freq.freqstr) == freq
    except ValueError:
        same = False
    return {"freq": freq.freqstr} if same else None


def _columns_plan(columns: pd.Index) -> dict[str, Any] | None:
    """What the column labels need restored after decoding, or None when Arrow loses them."""
    if not columns.is_unique:
        return None
    if isinstance(columns, pd.MultiIndex):
        names_ok = all(_label_ok(n) for n in columns.names)
        levels_ok = all(
            _exact_dtype(level.dtype) and isinstance(level.dtype, pd.StringDtype) for level in columns.levels
        )
        return {} if names_ok and levels_ok else None
    if not _label_ok(columns.name):
        return None
    if type(columns) is pd.RangeIndex:
        return {"range": [columns.start, columns.stop, columns.step]}
    if type(columns) is not pd.Index:
        return None
    dtype = columns.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and dtype.na_value is not pd.NA:
        return {} if not columns.hasnans else None
    if dtype == np.dtype("int64"):
        return {}
    if dtype == np.dtype(object) and infer_dtype(columns, skipna=False) == "string":
        return {"object": True}
    return None


def _frame_plan(frame: pd.DataFrame) -> dict[str, Any] | None:
    """The restore instructions for ``frame`` stored as Arrow, or None when only pickle is exact."""
    if frame.attrs or not frame.flags.allows_duplicate_labels or not frame.shape[1]:
        # attrs may hold anything; a frame without columns loses its row count in Arrow.
        return None
    columns = _columns_plan(frame.columns)
    index = _index_plan(frame.index)
    if columns is None or index is None:
        return None
    object_columns = []
    for position, dtype in enumerate(frame.dtypes):
        if dtype == np.dtype(object):
            inferred = infer_dtype(frame.iloc[:, position], skipna=False)
            if inferred == "string":
                object_columns.append(position)
            elif inferred not in ("bytes", "empty"):
                return None
        elif not _exact_dtype(dtype):
            return None
    return {"columns": columns, "index": index, "object_columns": object_columns}


def _frame_to_arrow(frame: pd.DataFrame, meta: dict[str, Any]) -> Encoded:
    table = pa.Table.from_pandas(frame, preserve_index=None)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_META_KEY] = json.dumps(meta).encode()
    body, tail = frame_blobs.encode_table(table.replace_schema_metadata(schema_meta))
    return Encoded("arrow", body, sum(memoryview(p).nbytes for p in body) + tail.size, tail=tail)


def _arrow_table(data: Buffer) -> pa.Table:
    """The whole table of a verified frame blob (or of an Arrow IPC file written before it)."""
    if frame_blobs.is_frame_blob(data):
        return frame_blobs.FrameBlobReader(data, verify=False).read_all()
    return ipc.open_file(pa.py_buffer(data)).read_all()


def _flowdeck_meta(schema: pa.Schema) -> dict[str, Any]:
    """What flowdeck recorded beside pandas' metadata to restore a frame exactly."""
    return json.loads((schema.metadata or {}).get(_META_KEY, b"{}"))


def _arrow_to_frame(data: Buffer) -> tuple[pd.DataFrame, dict[str, Any]]:
    table = _arrow_table(data)
    meta = _flowdeck_meta(table.schema)
    return _table_to_frame(table, meta), meta


def _table_to_frame(
    table: pa.Table,
    meta: dict[str, Any],
    *,
    zero_copy: bool = False,
    stored_names: list[str] | None = None,
    row_start: int | None = None,
    pandas_meta: dict[str, Any] | None = None,
    categories: dict[str, pd.CategoricalDtype] | None = None,
) -> pd.DataFrame:
    """The frame of ``table`` (all, or some columns and rows, of a stored one), restored as saved.

    ``stored_names`` are the stored table's column names when ``table`` holds a subset of them;
    ``row_start`` is where the rows begin in the stored frame when they are a range of it. With
    ``zero_copy`` the columns are ``pd.ArrowDtype`` views of the table's buffers. ``pandas_meta``
    is pandas' metadata of the table, when already parsed; ``categories`` remembers the categorical
    dtypes of the stored frame's columns (see :func:`arrow_frames.numpy_frame`).
    """
    if pandas_meta is None:
        pandas_meta = table.schema.pandas_metadata or {}
    # Arrow's thread pool costs more than it saves on a few thousand values.
    threads = table.num_rows * table.num_columns > _THREADS_FROM
    # Built directly (None: by pyarrow), the index is already the stored one's rows.
    direct = None
    if zero_copy:
        direct = arrow_frames.arrow_dtype_frame(table, pandas_meta, row_start or 0)
        frame = table.to_pandas(types_mapper=pd.ArrowDtype, use_threads=threads) if direct is None else direct
    else:
        if table.num_columns <= _DIRECT_COLUMNS or not threads:
            # Few columns: built one by one, without pyarrow's metadata work (threads gain nothing).
            direct = arrow_frames.numpy_frame(table, pandas_meta, row_start or 0, categories=categories)
        if direct is None:
            frame = table.to_pandas(use_threads=threads)
            for position, dtype in enumerate(frame.dtypes):
                # Arrow hands categorical codes over without a copy, read-only: the frame must be writable.
                if isinstance(dtype, pd.CategoricalDtype):
                    frame.isetitem(position, frame.iloc[:, position].copy())
        else:
            frame = direct
        names = table.schema.names
        for position in meta.get("object_columns", ()):
            if stored_names is not None:
                # Positions refer to the stored frame; a subset finds its columns by name.
                if stored_names[position] not in names:
                    continue
                position = names.index(stored_names[position])
            frame.isetitem(position, frame.iloc[:, position].astype(object))
    del table
    columns = meta.get("columns", {})
    if "range" in columns:
        frame.columns = pd.RangeIndex(*columns["range"], name=frame.columns.name)
    elif columns.get("object"):
        frame.columns = frame.columns.astype(object)
    index_columns = pandas_meta.get("index_columns") or [None]
    ranged = isinstance(index_columns[0], dict) and index_columns[0].get("kind") == "range"
    if direct is None and row_start is not None and ranged:
        # pandas' metadata describes the whole stored RangeIndex; a row range takes its part of it.
        spec = index_columns[0]
        full = pd.RangeIndex(spec["start"], spec["stop"], spec["step"], name=spec.get("name"))
        frame.index = full[row_start : row_start + len(frame)]
    if meta.get("index", {}).get("na_string"):
        frame.index = frame.index.astype(pd.StringDtype("pyarrow", na_value=pd.NA))
    freq = meta.get("index", {}).get("freq")
    if freq is not None:
        frame.index = type(frame.index)(frame.index, freq=freq)
    return frame


def _row_range(rows: Any, count: int) -> tuple[int, int]:
    """``rows`` (a slice or ``(start, stop)``) as a contiguous ``[start, stop)`` range of ``count`` rows."""
    if isinstance(rows, tuple) and len(rows) == 2:
        rows = slice(*rows)
    if not isinstance(rows, slice) or rows.step not in (None, 1):
        raise ValidationError(
            f"rows= takes a contiguous range, a slice without a step or a (start, stop) pair; got {rows!r}"
        )
    for bound in (rows.start, rows.stop):
        if bound is not None and (type(bound) is bool or not isinstance(bound, int | np.integer)):
            raise ValidationError(f"rows= bounds must be integers or None, got {rows!r}")
    start, stop, _ = rows.indices(count)
    return start, max(start, stop)


def _column_list(columns: Any) -> list[Any]:
    if isinstance(columns, str | bytes) or not isinstance(columns, list | tuple | pd.Index):
        raise ValidationError(f"columns= takes a list of column names, got {columns!r}")
    return list(columns)


def select(value: Any, columns: Any = None, rows: Any = None) -> Any:
    """``value[columns]`` and its rows ``rows`` (for values read whole: pickled frames, inline ones)."""
    if not isinstance(value, pd.DataFrame | pd.Series):
        raise ValidationError(
            f"columns= and rows= apply to DataFrames and Series; this output is a {_type_name(value)!r}"
        )
    if columns is not None:
        if isinstance(value, pd.Series):
            raise ValidationError("columns= applies to DataFrames; this output is a Series (use rows=)")
        wanted = _column_list(columns)
        missing = [c for c in wanted if c not in value.columns]
        if missing:
            raise NotFoundError(f"the frame has no column(s) {missing}; its columns: {list(value.columns)}")
        value = value[wanted]
    if rows is not None:
        start, stop = _row_range(rows, len(value))
        value = value.iloc[start:stop]
    return value


# --------------------------------------------------------------------------- npy


def _npy_encode(array: np.ndarray) -> Encoded:
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    header = io.BytesIO()
    fields = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(header, fields)
    except ValueError:
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, fields)
    # Fortran-ordered data is written as its C-ordered transpose, as numpy itself does.
    data = array.T if fields["fortran_order"] else array
    try:
        body: Buffer = memoryview(data.reshape(-1).view(np.uint8))
    except (ValueError, TypeError):
        body = data.tobytes()
    return _encoded("npy", [header.getvalue(), body])


def _npy_decode(data: Buffer) -> np.ndarray:
    view = memoryview(data)
    head = io.BytesIO(view[:12].tobytes())
    version = np.lib.format.read_magic(head)
    length_size = 2 if version == (1, 0) else 4
    header_len = 8 + length_size + int.from_bytes(view[8 : 8 + length_size], "little")
    header = io.BytesIO(view[:header_len].tobytes())
    np.lib.format.read_magic(header)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = reader(header, max_header_size=header_len + 1)
    if dtype.hasobject:
        raise IntegrityError("the stored npy array holds Python objects; refusing to unpickle it")
    count = math.prod(shape)
    if dtype.itemsize == 0 or count == 0:
        return np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
    flat = np.frombuffer(view, dtype=dtype, count=count, offset=header_len)
    if fortran_order:
        return flat.reshape(shape[::-1]).T.copy(order="F")
    return flat.reshape(shape).copy()


# --------------------------------------------------------------------------- the codecs


def _type_name(value: Any) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


# --------------------------------------------------------------------------- registered codecs


@runtime_checkable
class Codec(Protocol):
    """A codec chosen by name (:meth:`Codecs.encode_with`), whose bytes may need ``info`` to be read back."""

    name: str

    def encode(self, value: Any) -> Encoded | None:
        """``value`` as bytes, or None when this codec cannot give it back exactly."""
        ...

    def decode(self, data: Buffer, info: Mapping[str, Any]) -> Any:
        """The value ``data`` holds, given the ``info`` its encoding returned."""
        ...


SKOPS_SIGNING_PURPOSE = "asset-skops-signing"
"""The purpose the skops codec's HMAC keys are derived for (:func:`flowdeck.storage.keys.signing_keys`)."""


def _skops_mac(key: bytes, data: Buffer, trusted: Sequence[str]) -> str:
    digest = hashlib.sha256(data).digest()
    return hmac.new(key, digest + json.dumps(sorted(trusted)).encode(), hashlib.sha256).hexdigest()


def is_sklearn_estimator(value: Any) -> bool:
    """Whether ``value`` is a scikit-learn estimator (without importing scikit-learn)."""
    if type(value).__module__.startswith("sklearn."):
        return True
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(value, base.BaseEstimator)


class SkopsCodec:
    """scikit-learn estimators as skops files, loaded only with the types trusted when they were saved.

    The trusted type list and an HMAC over the bytes and that list go to ``Encoded.info``, so neither
    the file nor the list can be swapped without the deployment's key. ``signing_keys`` are newest
    first: the first signs, every one verifies.
    """

    name = "skops"

    def __init__(self, signing_keys: list[bytes]) -> None:
        """A skops codec signing with ``signing_keys[0]`` and accepting any of ``signing_keys``."""
        self._keys = _check_keys(signing_keys, "SkopsCodec")

    def encode(self, value: Any) -> Encoded | None:
        """The estimator as a skops file, or None when it is not one or skops cannot round-trip it."""
        if not is_sklearn_estimator(value):
            return None
        try:
            import skops.io as sio
        except ImportError:  # pragma: no cover - the ml extra is not installed
            return None
        try:
            data = sio.dumps(value)
            trusted = sorted(sio.get_untrusted_types(data=data))
            sio.loads(data, trusted=trusted)
        except Exception:  # skops refuses many custom objects; signed pickle holds them instead
            return None
        encoded = _encoded(self.name, [data])
        encoded.info = {"trusted": trusted, "mac": _skops_mac(self._keys[0], data, trusted)}
        return encoded

    def decode(self, data: Buffer, info: Mapping[str, Any]) -> Any:
        """The estimator, after checking the HMAC over the bytes and the trusted type list."""
        trusted = list(info.get("trusted", []))
        mac = str(info.get("mac", ""))
        if not any(hmac.compare_digest(mac, _skops_mac(key, data, trusted)) for key in self._keys):
            raise IntegrityError(
                "the skops file's signature does not match this deployment's key; refusing to load it. It was "
                "altered, or saved by a deployment with another secret key (keep the old key in "
                "FLOWDECK_SECRET_KEY after a rotation)"
            )
        import skops.io as sio

        try:
            return sio.loads(bytes(data), trusted=trusted)
        except Exception as exc:
            raise IntegrityError(
                f"the skops file does not load with the types trusted when it was saved: {exc}"
            ) from exc


def _check_keys(signing_keys: list[bytes], who: str) -> list[bytes]:
    keys = list(signing_keys)
    if not keys or not all(isinstance(k, bytes) and k for k in keys):
        raise ConfigurationError(
            f"{who} needs at least one non-empty signing key (bytes); derive them from the "
            "deployment's secret with flowdeck.storage.keys.signing_keys(settings)"
        )
    return keys


class Codecs:
    """Encodes values to bytes and decodes them back; pickles are signed with the deployment's keys.

    ``signing_keys`` are HMAC keys, newest first: the first signs, every one verifies (so data
    signed before a key rotation still loads). ``skops_keys`` (keys derived for
    :data:`SKOPS_SIGNING_PURPOSE`) register the ``skops`` codec; further codecs join with :meth:`register`.
    """

    def __init__(self, signing_keys: list[bytes], *, skops_keys: list[bytes] | None = None) -> None:
        """Codecs signing pickles with ``signing_keys[0]`` and accepting any of ``signing_keys``."""
        keys = _check_keys(signing_keys, "Codecs")
        self._keys = keys
        self._registered: dict[str, Codec] = {}
        self._decoders: dict[str, Callable[[Buffer], Any]] = {
            "arrow": self._decode_frame,
            "arrow-series": self._decode_series,
            "str": lambda data: str(data, "utf-8"),
            "json": _json_loads,
            "bytes": bytes,
            "bytearray": bytearray,
            "bytesio": lambda data: io.BytesIO(bytes(data)),
            "npy": _npy_decode,
            "pickle": self._unpickle,
        }
        if skops_keys is not None:
            self.register(SkopsCodec(skops_keys))

    def register(self, codec: Codec) -> None:
        """Add a codec chosen by name; its name must not be a built-in one."""
        if codec.name in self._decoders:
            raise ConfigurationError(f"codec {codec.name!r} is built in; register a codec under another name")
        self._registered[codec.name] = codec

    # ----------------------------------------------------------------- encode

    def encode_with(self, name: str, value: Any) -> Encoded | None:
        """``value`` in the registered codec ``name``, or None when that codec cannot hold it exactly.

        The caller falls back to :meth:`encode` on None and keeps ``Encoded.info`` for :meth:`decode`.
        """
        codec = self._registered.get(name)
        if codec is None:
            raise ConfigurationError(f"no codec {name!r} is registered; registered: {sorted(self._registered)}")
        return codec.encode(value)

    def encode(self, value: Any) -> Encoded:
        """Turn ``value`` into bytes with the codec that gives it back equal and of the same type.

        Raises :class:`~flowdeck.errors.ValidationError` (a ``ValueError``) for a value that cannot
        be stored (not picklable: a lambda, a lock, a generator, a socket, ...).
        """
        kind = type(value)
        encoded: Encoded | None = None
        if kind is pd.DataFrame:
            encoded = self._encode_frame(value)
        elif kind is pd.Series:
            encoded = self._encode_series(value)
        elif kind is str:
            try:
                encoded = _encoded("str", [value.encode("utf-8")])
            except UnicodeEncodeError:
                encoded = None  # lone surrogates: pickle keeps them
        elif kind is bytes:
            encoded = _encoded("bytes", [value])
        elif kind is bytearray:
            encoded = _encoded("bytearray", [value])
        elif kind is io.BytesIO:
            encoded = _encoded("bytesio", [value.getvalue()])
        elif kind is np.ndarray and not value.dtype.hasobject:
            encoded = _npy_encode(value)
        elif (kind in (list, dict, int, float, bool) or value is None) and self._json_safe(value):
            try:
                encoded = _encoded("json", [_json_dumps(value)])
            except (TypeError, ValueError):
                encoded = None
        return encoded if encoded is not None else self._pickle(value)

    @staticmethod
    def _json_safe(value: Any) -> bool:
        try:
            return _is_json_safe(value)
        except RecursionError:
            return False

    def _encode_frame(self, frame: pd.DataFrame) -> Encoded | None:
        plan = _frame_plan(frame)
        if plan is None:
            return None
        try:
            return _frame_to_arrow(frame, plan)
        except (pa.ArrowException, UnicodeError, ValueError, TypeError, OverflowError):
            return None  # values Arrow refuses (e.g. lone surrogates): pickle keeps them exactly

    def _encode_series(self, series: pd.Series) -> Encoded | None:
        name = series.name
        if series.attrs or not (name is None or type(name) in (str, int, bool) or _finite_float(name)):
            return None
        if type(name) is int and not _JSON_INT_MIN <= name <= _JSON_INT_MAX:
            return None
        frame = series.to_frame(name="values")
        plan = _frame_plan(frame)
        if plan is None:
            return None
        plan["series_name"] = name
        try:
            encoded = _frame_to_arrow(frame, plan)
        except (pa.ArrowException, UnicodeError, ValueError, TypeError, OverflowError):
            return None
        encoded.codec = "arrow-series"
        return encoded

    def _pickle(self, value: Any) -> Encoded:
        try:
            payload = pickle.dumps(value, protocol=5)
        except Exception as exc:
            # Pickling failures surface as PicklingError, TypeError, AttributeError, ... depending
            # on the object; all mean the same thing to the caller.
            raise ValidationError(
                f"cannot store a value of type {_type_name(value)!r}: {exc}. Store plain data instead "
                "(frames, arrays, numbers, strings, lists, dicts or instances of module-level classes)"
            ) from exc
        mac = hmac.digest(self._keys[0], payload, hashlib.sha256)
        return _encoded("pickle", [PICKLE_MAGIC + mac, payload])

    # ----------------------------------------------------------------- decode

    def decode(self, codec: str, data: Buffer, info: Mapping[str, Any] | None = None) -> Any:
        """The value ``data`` holds, read with ``codec`` (and the ``info`` a registered codec returned).

        Raises :class:`~flowdeck.errors.IntegrityError` for an unknown codec, a pickle whose
        signature does not match this deployment's keys, or bytes the codec cannot read.
        """
        registered = self._registered.get(codec)
        if registered is not None:
            return registered.decode(data, info or {})
        if codec == "pickle":
            # Verified pickles are trusted; errors of the user's own classes surface as they are.
            return self._unpickle(data)
        decoder = self._decoders.get(codec)
        if decoder is None and codec in CODEC_NAMES:
            raise IntegrityError(
                f"the value was stored with the {codec!r} codec, which these codecs were not given keys for; "
                "open the storage of the deployment (get_storage()) to read it"
            )
        if decoder is None:
            raise IntegrityError(
                f"unknown codec {codec!r}: the value was written by a different flowdeck version; "
                f"this one reads {', '.join(CODEC_NAMES)}"
            )
        try:
            return decoder(data)
        except IntegrityError:
            raise
        except (pa.ArrowException, ValueError, UnicodeDecodeError, TypeError, KeyError) as exc:
            raise IntegrityError(f"stored bytes are not a valid {codec!r} value: {exc}") from exc

    def _decode_frame(self, data: Buffer) -> pd.DataFrame:
        return _arrow_to_frame(data)[0]

    def _decode_series(self, data: Buffer) -> pd.Series:
        frame, meta = _arrow_to_frame(data)
        series = frame.iloc[:, 0]
        series.name = meta.get("series_name")
        return series

    def decode_selected(
        self,
        codec: str,
        data: Buffer,
        *,
        columns: Any = None,
        rows: Any = None,
        zero_copy: bool = False,
        verified: bool = True,
        identity: Any = None,
        key: str | None = None,
    ) -> Any:
        """Some columns and/or a row range of a stored frame (or rows of a Series), decoding only those.

        ``verified=False`` means ``data`` is not checked yet: a frame blob then checks every byte it
        reads against its per-batch checksums (other data must come verified). With ``zero_copy``
        a frame's columns are ``pd.ArrowDtype`` views of ``data`` (read-only). Values that are not
        stored as Arrow are decoded whole, then sliced. ``identity`` names exactly the bytes of
        ``data`` (see :meth:`BlobStore.get_mapped`): what was checked of them is then remembered for
        the next read of the same identity. ``key`` is the key of the blob ``data`` holds: its parsed
        index and metadata are then remembered for the next read of the same blob.
        """
        if codec not in ("arrow", "arrow-series"):
            return select(self.decode(codec, data), columns, rows)
        try:
            return self._select_arrow(codec, data, columns, rows, zero_copy, verified, identity, key)
        except (IntegrityError, ValidationError, NotFoundError):
            raise
        except (pa.ArrowException, ValueError, TypeError, KeyError, IndexError) as exc:
            raise IntegrityError(f"stored bytes are not a valid {codec!r} value: {exc}") from exc

    def _select_arrow(
        self,
        codec: str,
        data: Buffer,
        columns: Any,
        rows: Any,
        zero_copy: bool,
        verified: bool,
        identity: Any,
        key: str | None,
    ) -> Any:
        reader = None
        categories = None
        if frame_blobs.is_frame_blob(data):
            reader = frame_blobs.FrameBlobReader(data, verify=not verified, identity=identity, key=key)
            schema, count = reader.schema, reader.num_rows
            # Parsed once per blob (these dicts are shared: nothing below changes them).
            meta = reader.remembered("flowdeck metadata", lambda: _flowdeck_meta(schema))
            pandas_meta = reader.remembered("pandas metadata", lambda: schema.pandas_metadata or {})
            categories = reader.remembered("categorical dtypes", dict)
        else:
            # Written before frame blobs: an Arrow IPC file, decoded whole (the caller verified it).
            table = ipc.open_file(pa.py_buffer(data)).read_all()
            schema, count = table.schema, table.num_rows
            meta, pandas_meta = _flowdeck_meta(schema), schema.pandas_metadata or {}
        if columns is not None and codec == "arrow-series":
            raise ValidationError("columns= applies to DataFrames; this output is a Series (use rows=)")
        start, stop = (0, count) if rows is None else _row_range(rows, count)
        wanted = None if columns is None else _column_list(columns)
        positions: Sequence[int] | None = None
        if wanted is not None:
            positions = _remembered_positions(reader, schema, pandas_meta, meta, wanted)
            if positions is None:
                # Column labels Arrow does not keep as plain names: select from the whole frame.
                whole = self._select_arrow(codec, data, None, rows, zero_copy, verified, identity, key)
                return select(whole, wanted)
        if reader is not None:
            if positions is None and rows is None:
                if not verified:
                    reader.verify_all()  # every chunk, once for this version of the file
                table = reader.read_all()
            else:
                table = reader.read(positions, start, stop)
        else:
            if positions is not None:
                table = table.select(positions)
            table = table.slice(start, stop - start)
        frame = _table_to_frame(
            table,
            meta,
            zero_copy=zero_copy,
            stored_names=schema.names if positions is not None else None,
            row_start=start if rows is not None else None,
            pandas_meta=pandas_meta,
            categories=categories,
        )
        if codec == "arrow-series":
            series = frame.iloc[:, 0]
            series.name = meta.get("series_name")
            return series
        if wanted is not None and list(frame.columns) != wanted:
            frame = frame[wanted]
        return frame

    def _unpickle(self, data: Buffer) -> Any:
        view = memoryview(data)
        mac, payload = view[len(PICKLE_MAGIC) : _PICKLE_HEADER], view[_PICKLE_HEADER:]
        if (
            len(view) < _PICKLE_HEADER
            or view[: len(PICKLE_MAGIC)] != PICKLE_MAGIC
            or not any(hmac.compare_digest(mac, hmac.digest(key, payload, hashlib.sha256)) for key in self._keys)
        ):
            raise IntegrityError(
                "pickle signature does not match this deployment's key; refusing to unpickle. "
                "The stored bytes were altered, or written by a deployment with another secret key "
                "(keep the old key in FLOWDECK_SECRET_KEY after a rotation)"
            )
        return pickle.loads(payload)


def _remembered_positions(
    reader: frame_blobs.FrameBlobReader | None,
    schema: pa.Schema,
    pandas_meta: dict[str, Any],
    meta: dict[str, Any],
    wanted: list[Any],
) -> Sequence[int] | None:
    """:func:`_column_positions`, remembered per blob for selections of text labels (a few dozen of them)."""
    remembered = None if reader is None else reader.remembered("column positions", dict)
    if remembered is None or not all(type(c) is str for c in wanted):
        return _column_positions(schema, pandas_meta, meta, wanted)
    labels = tuple(wanted)
    try:
        return remembered[labels]
    except KeyError:
        found = _column_positions(schema, pandas_meta, meta, wanted)
        positions = None if found is None else tuple(found)
        if len(remembered) < _REMEMBERED_SELECTIONS:
            remembered[labels] = positions
        return positions


def _column_positions(
    schema: pa.Schema, pandas_meta: dict[str, Any], meta: dict[str, Any], wanted: list[Any]
) -> list[int] | None:
    """Table positions of the ``wanted`` columns plus the index columns, or None when labels are not plain."""
    if meta.get("columns") or len(pandas_meta.get("column_indexes") or [None]) != 1:
        return None
    if not all(type(c) is str for c in wanted) or len(set(wanted)) != len(wanted):
        return None
    index_fields = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)]
    fields = {
        entry["name"]: entry["field_name"]
        for entry in pandas_meta.get("columns", [])
        if entry.get("field_name") not in index_fields and type(entry.get("name")) is str
    }
    missing = [c for c in wanted if c not in fields]
    if missing:
        raise NotFoundError(f"the frame has no column(s) {missing}; its columns: {list(fields)}")
    names = schema.names
    return [names.index(fields[c]) for c in wanted] + [names.index(f) for f in index_fields]


def _finite_float(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)
