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
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
from pandas.api.types import infer_dtype

from flowdeck.errors import ConfigurationError, IntegrityError, ValidationError

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


@dataclass
class Encoded:
    """A value turned into bytes: the codec that reads it back and the buffers to store, in order.

    ``info`` is what a registered codec needs besides the bytes to read them back (kept by the caller,
    e.g. in an asset's metadata); the built-in codecs need none.
    """

    codec: str
    parts: list[Buffer]
    size: int
    info: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The parts joined into one ``bytes`` (for storing small values inline)."""
        if len(self.parts) == 1 and type(self.parts[0]) is bytes:
            return self.parts[0]
        return b"".join(self.parts)


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

_MASKED_DTYPES = (
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
    if isinstance(dtype, _MASKED_DTYPES):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_type_exact(dtype.pyarrow_dtype)
    return False


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
        return {} if all(_exact_dtype(level.dtype, where="index") for level in index.levels) else None
    if not _label_ok(index.name) or not _exact_dtype(index.dtype, where="index"):
        return None
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


class _PartsSink:
    """A write-only file that keeps the buffers Arrow hands it instead of copying them."""

    def __init__(self) -> None:
        self.parts: list[Buffer] = []
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.parts.append(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _frame_to_arrow(frame: pd.DataFrame, meta: dict[str, Any]) -> Encoded:
    table = pa.Table.from_pandas(frame, preserve_index=None)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_META_KEY] = json.dumps(meta).encode()
    table = table.replace_schema_metadata(schema_meta)
    sink = _PartsSink()
    with ipc.new_file(sink, table.schema) as writer:
        if table.num_rows:
            writer.write_table(table)
        else:
            # write_table writes no batch for an empty table, and without a batch the categories
            # of an empty categorical column would be lost.
            columns = [pa.concat_arrays(c.chunks) if c.num_chunks else pa.array([], type=c.type) for c in table.columns]
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=table.schema))
    return Encoded("arrow", sink.parts, sink.size)


def _arrow_to_frame(data: Buffer) -> tuple[pd.DataFrame, dict[str, Any]]:
    table = ipc.open_file(pa.py_buffer(data)).read_all()
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    frame = table.to_pandas()
    del table
    for position in meta.get("object_columns", ()):
        frame.isetitem(position, frame.iloc[:, position].astype(object))
    for position, dtype in enumerate(frame.dtypes):
        # Arrow hands categorical codes over without a copy, read-only: the frame must be writable.
        if isinstance(dtype, pd.CategoricalDtype):
            frame.isetitem(position, frame.iloc[:, position].copy())
    columns = meta.get("columns", {})
    if "range" in columns:
        frame.columns = pd.RangeIndex(*columns["range"], name=frame.columns.name)
    elif columns.get("object"):
        frame.columns = frame.columns.astype(object)
    freq = meta.get("index", {}).get("freq")
    if freq is not None:
        frame.index = type(frame.index)(frame.index, freq=freq)
    return frame, meta


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


def _finite_float(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)
