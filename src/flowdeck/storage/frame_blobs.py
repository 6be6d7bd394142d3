"""Arrow tables in a layout that lets a read touch, decode and verify only what it needs.

A frame blob (format 2, written since) is::

    head (64): magic "FDFRAME2" and zero padding
    body: for each column, an Arrow IPC stream of that column alone, padded to 64 bytes;
          then the table schema (an Arrow IPC schema message, with pandas' metadata)
    index: JSON
    trailer (40): index offset (u64) | index length (u64) | xxh3-128 of the index (16) | "FDFRAME2"

Each column stream holds an empty record batch first (its schema and, for categoricals, its
dictionary: the *prefix*), then record batches of ``BATCH_ROWS`` rows (the last one shorter). The
index records the number of rows, the batch size and, for the schema, every prefix and every batch,
its byte range in the blob and the xxh3-64 checksum of those bytes (16 hexadecimal digits).

The index comes last so that a blob is written in one pass: the bytes go to the file while another
thread hashes them (the blob's key and checksum and every chunk's checksum, in one read of each
chunk), and the index follows once their checksums are known (:class:`Tail`).

A read of some columns or rows checks the index against its checksum, then checks and decodes only
the prefixes and batches it needs, zero-copy from the buffer it is given (a memory map of the blob):
a corrupted byte anywhere it reads is an :class:`~flowdeck.errors.IntegrityError`, while bytes it
does not read are not looked at. A full read is verified by the blob's own checksum and decodes every
column stream without copying.

Format 1 (``FDFRAME1``, written before): the same column streams, with the index (JSON, its
xxh3-128 before it) at the front and offsets relative to the first column stream. It stays readable.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import xxhash

from flowdeck.errors import IntegrityError

__all__ = [
    "BATCH_ROWS",
    "MAGIC",
    "FrameBlobReader",
    "Tail",
    "encode_table",
    "forget_checked",
    "is_frame_blob",
    "to_ipc_file",
    "write_table",
]

Buffer = bytes | bytearray | memoryview

MAGIC = b"FDFRAME2"
MAGIC_V1 = b"FDFRAME1"
# Rows per record batch: a range of rows touches only the batches that hold it (100 rows of a float
# column decode and verify one 512 KiB batch). Smaller batches make a full read slower: each batch
# costs its decoding and its conversion to pandas (2 M rows of 5 columns: 16,384-row batches cost a
# full read ~20% more CPU than 65,536-row ones), and full reads are the common case.
BATCH_ROWS = 65_536
_ALIGN = 64
_HEAD = MAGIC + bytes(_ALIGN - len(MAGIC))
_TRAILER = struct.Struct("<QQ16s8s")
_FIXED_V1 = struct.Struct("<8sQ16s")
_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_NO_DIGEST = "0" * 16
# A column's stream is many small record batches: handing each to the thread pool costs more than
# decoding it (a full read of 2 M rows of 5 columns decodes in ~40% less time on the calling thread).
_STREAM_OPTIONS = ipc.IpcReadOptions(use_threads=False)
# Categorical dictionaries of up to this many values are decoded once per blob by partial reads.
_REMEMBERED_DICTIONARY = 10_000


class _PartsSink:
    """A write-only file that keeps the buffers Arrow hands it instead of copying them."""

    def __init__(self, start: int = 0) -> None:
        self.parts: list[memoryview] = []
        self.size = start
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
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


def _single_chunk(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    if column.num_chunks == 0:
        return pa.array([], type=column.type)
    return pa.concat_arrays(column.chunks)


@dataclass
class Tail:
    """The end of a frame blob still to be written: its index, which needs the checksums of its chunks.

    ``spans`` are the ``(offset, length)`` of every checksummed chunk of the body, in order (they
    do not overlap, and the body's padding lies outside them). :meth:`finish` takes their xxh3-64
    digests and returns the index and trailer, ``size`` bytes whatever the digests.
    """

    spans: list[tuple[int, int]]
    size: int
    _index: dict[str, Any]
    _index_offset: int

    def finish(self, digests: Sequence[int]) -> list[bytes]:
        """The index and trailer, given the xxh3-64 digest of every chunk in :attr:`spans`."""
        if len(digests) != len(self.spans):
            raise ValueError(f"{len(digests)} digests for {len(self.spans)} chunks")
        hexes = iter(f"{d:016x}" for d in digests)
        index = _index_json(self._index, hexes)
        if len(index) + _TRAILER.size != self.size:
            raise AssertionError("frame index changed size")  # pragma: no cover - fixed-width digests
        trailer = _TRAILER.pack(self._index_offset, len(index), xxhash.xxh3_128_digest(index), MAGIC)
        return [index, trailer]

    def finish_serial(self, parts: Sequence[Buffer]) -> list[bytes]:
        """:meth:`finish` with the digests computed here from ``parts`` (the body)."""
        hasher = ChunkHasher(self.spans)
        for part in parts:
            hasher.update(memoryview(part).cast("B") if memoryview(part).format != "B" else memoryview(part))
        return self.finish(hasher.digests())


def _index_json(index: dict[str, Any], hexes: Any) -> bytes:
    """The index with each ``None`` digest replaced by the next of ``hexes`` (fixed-width hex strings)."""

    def span(entry: list[Any]) -> list[Any]:
        return [entry[0], entry[1], next(hexes)]

    filled = {
        "version": 2,
        "rows": index["rows"],
        "batch_rows": index["batch_rows"],
        "columns": [
            {"prefix": span(c["prefix"]), "batches": [span(b) for b in c["batches"]]} for c in index["columns"]
        ],
        "schema": span(index["schema"]),
    }
    return json.dumps(filled, separators=(",", ":")).encode()


class ChunkHasher:
    """xxh3-64 of each span of a stream of bytes fed in order (bytes outside the spans are skipped)."""

    def __init__(self, spans: Sequence[tuple[int, int]]) -> None:
        """Hash the ``(offset, length)`` ``spans`` (sorted, not overlapping) of what :meth:`update` is fed."""
        self._spans = spans
        self._next = 0
        self._position = 0
        self._hasher = xxhash.xxh3_64()
        self._digests: list[int] = []

    def update(self, view: memoryview) -> None:
        """Feed the next ``view`` of the stream."""
        spans, position, size = self._spans, self._position, view.nbytes
        offset = 0
        while offset < size and self._next < len(spans):
            start, length = spans[self._next]
            end = start + length
            here = position + offset
            if here < start:
                offset += min(start - here, size - offset)
                continue
            take = min(end - here, size - offset)
            self._hasher.update(view[offset : offset + take] if (offset or take != size) else view)
            offset += take
            if here + take == end:
                self._digests.append(self._hasher.intdigest())
                self._hasher = xxhash.xxh3_64()
                self._next += 1
        self._position = position + size

    def digests(self) -> list[int]:
        """The digests of every span (all must have been fed)."""
        if self._next != len(self._spans):
            raise ValueError(f"only {self._next} of {len(self._spans)} chunks were fed")
        return self._digests


def _empty_like(array: pa.Array) -> pa.Array:
    """A zero-row array of ``array``'s type (with its dictionaries), for a column's prefix.

    Not ``array.slice(0, 0)``: Arrow writes a zero-row slice of a string or list column with the
    whole offsets buffer (16 MB for 2 M rows), where a taken empty array has none.
    """
    if _has_dictionary(array.type):
        return array.slice(0, 0)  # the dictionaries go with the prefix; they are needed whole
    try:
        return array.take(pa.array([], type=pa.int64()))
    except pa.ArrowNotImplementedError:  # a type take() does not know: the prefix is only larger
        return array.slice(0, 0)


def encode_table(table: pa.Table) -> tuple[list[Buffer], Tail]:
    """The body of the blob of ``table`` (mostly views of the table's own memory) and its :class:`Tail`."""
    rows = table.num_rows
    batch_rows = BATCH_ROWS
    sink = _PartsSink()
    sink.write(_HEAD)
    spans: list[tuple[int, int]] = []
    columns_index: list[dict[str, Any]] = []
    for i, field in enumerate(table.schema):
        schema = pa.schema([field])
        array = _single_chunk(table.column(i))
        begin = sink.size
        bounds = [begin]
        with ipc.new_stream(sink, schema) as writer:
            writer.write_batch(pa.record_batch([_empty_like(array)], schema=schema))
            bounds.append(sink.size)
            for start in range(0, rows, batch_rows):
                writer.write_batch(pa.record_batch([array.slice(start, batch_rows)], schema=schema))
                bounds.append(sink.size)
        chunks = [[bounds[k], bounds[k + 1] - bounds[k], None] for k in range(len(bounds) - 1)]
        spans.extend((c[0], c[1]) for c in chunks)
        columns_index.append({"prefix": chunks[0], "batches": chunks[1:]})
        padding = -sink.size % _ALIGN
        if padding:
            sink.write(bytes(padding))
    schema_bytes = table.schema.serialize()
    schema_span = [sink.size, schema_bytes.size, None]
    spans.append((schema_span[0], schema_span[1]))
    sink.write(schema_bytes)
    index = {"rows": rows, "batch_rows": batch_rows, "columns": columns_index, "schema": schema_span}
    length = len(_index_json(index, iter(_NO_DIGEST for _ in spans)))
    tail = Tail(spans=spans, size=length + _TRAILER.size, _index=index, _index_offset=sink.size)
    return sink.parts, tail


def write_table(table: pa.Table) -> tuple[list[Buffer], int]:
    """The whole blob of ``table`` as a list of buffers and its size (checksums computed here)."""
    parts, tail = encode_table(table)
    parts = [*parts, *tail.finish_serial(parts)]
    return parts, sum(memoryview(p).nbytes for p in parts)


def is_frame_blob(data: Buffer) -> bool:
    """Whether ``data`` is in this layout, either format (older frames are plain Arrow IPC files)."""
    head = bytes(memoryview(data)[: len(MAGIC)])
    return head in (MAGIC, MAGIC_V1)


def _corrupt(what: str) -> IntegrityError:
    return IntegrityError(
        f"stored frame is corrupted: {what} does not match the checksum recorded when it was written; "
        "the value was not returned. Restore the blob from a backup or save the value again."
    )


@dataclass
class _Index:
    """What a frame blob's index says, parsed and checked once for every reader of the same blob."""

    num_rows: int
    batch_rows: int
    columns: list[tuple[tuple[int, int, int], list[tuple[int, int, int]]]]  # (prefix, batches), absolute
    schema_span: tuple[int, int, int]
    size: int
    schema: pa.Schema | None = None
    # Values derived from checked bytes of the blob (parsed metadata, small decoded dictionaries), for
    # later readers of the same blob. None of them refers to the bytes: that would keep the memory
    # map (and a deleted blob's disk space) alive.
    memo: dict[Hashable, Any] = dataclasses.field(default_factory=dict)


@dataclass
class _Checks:
    """What was checked of the bytes of one mapped file, for later readers of the same file."""

    whole_verified: bool = False
    prefixes_checked: set[int] = dataclasses.field(default_factory=set)  # column positions
    batches_checked: set[tuple[int, int]] = dataclasses.field(default_factory=set)  # (column, batch)


class _Cache:
    """A small least-recently-used map, safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable | None) -> Any:
        if key is None:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable | None, value: Any) -> None:
        if key is None:
            return
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._entries.values())


# Parsed indexes by blob content: (blob key, size, the index checksum the blob records). A blob's key
# is the hash of its bytes, so a later reader of the same blob skips parsing the index even when its
# file was just written (it still checks the index bytes, and every chunk it reads).
_PARSED = _Cache(64)
# What was checked of a mapped file, by (blob key, file identity): a file that is written to (a
# changed inode, size, modification or change time) is checked again.
_CHECKED = _Cache(256)


def forget_checked() -> None:
    """Forget every parsed index and every check remembered in this process."""
    _PARSED.clear()
    _CHECKED.clear()


def _digest(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _parse_spans(entries: Any, base: int) -> list[tuple[int, int, int]]:
    return [(int(e[0]) + base, int(e[1]), _digest(e[2])) for e in entries]


def _locate_index(view: memoryview, *, verify: bool) -> tuple[memoryview, bytes, int]:
    """(the index bytes, the checksum recorded for them, the offset its ranges count from) of frame
    blob ``view`` (format 1 or 2), the bytes checked against the checksum with ``verify``."""
    size = view.nbytes
    magic = bytes(view[: len(MAGIC)])
    if magic == MAGIC:
        if size < len(_HEAD) + _TRAILER.size:
            raise _corrupt("the index")
        offset, length, digest, end_magic = _TRAILER.unpack_from(view, size - _TRAILER.size)
        if end_magic != MAGIC or offset + length + _TRAILER.size != size or offset < len(_HEAD):
            raise _corrupt("the index")
        raw, base, what = view[offset : offset + length], 0, "the index"
    elif magic == MAGIC_V1:
        if size < _FIXED_V1.size:
            raise _corrupt("the header")
        _, length, digest = _FIXED_V1.unpack_from(view)
        raw, what = view[_FIXED_V1.size : _FIXED_V1.size + length], "the header"
        if raw.nbytes != length:
            raise _corrupt(what)
        base = _FIXED_V1.size + length
        base += -base % _ALIGN
    else:
        raise _corrupt("the header")
    if verify and xxhash.xxh3_128_digest(raw) != digest:
        raise _corrupt(what)
    return raw, bytes(digest), base


def _parse_index(raw: memoryview, base: int, size: int) -> _Index:
    """The index whose JSON bytes are ``raw`` (ranges counted from ``base``) of a blob of ``size`` bytes."""
    try:
        meta = json.loads(bytes(raw))
        columns = [(_parse_spans([c["prefix"]], base)[0], _parse_spans(c["batches"], base)) for c in meta["columns"]]
        schema_span = _parse_spans([meta["schema"]], base)[0]
        return _Index(int(meta["rows"]), int(meta["batch_rows"]), columns, schema_span, size)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise _corrupt("the index") from exc


def _has_dictionary(arrow_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(arrow_type):
        return True
    return any(_has_dictionary(arrow_type.field(i).type) for i in range(getattr(arrow_type, "num_fields", 0)))


class FrameBlobReader:
    """Reads columns and row ranges of a frame blob; ``verify=True`` checks every byte it reads.

    ``key`` is the blob's key (the hash of its bytes): the index is then parsed once for all readers
    of the blob (and still checked by each). ``identity`` names the exact bytes of ``data`` (the key and the identity
    of the file mapped): what was checked of them is then remembered for later readers of that file.
    """

    def __init__(self, data: Buffer, *, verify: bool, identity: Hashable | None = None, key: str | None = None) -> None:
        """Parse (and with ``verify`` check) the index of ``data``, a frame blob."""
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        self.verify = verify
        self._view = view
        self._buffer = pa.py_buffer(view)
        # The index and the schema are checked on every read (a few kB); parsed once per blob.
        raw, digest, base = _locate_index(view, verify=verify)
        content = None if key is None else (key, view.nbytes, digest)
        index = _PARSED.get(content)
        if index is None:
            index = _parse_index(raw, base, view.nbytes)
            index.schema = ipc.read_schema(self._span(index.schema_span))
            if len(index.schema) != len(index.columns):
                raise _corrupt("the index")
            _PARSED.put(content, index)
        elif verify:
            self._span(index.schema_span)
        checks = _CHECKED.get(identity) if verify else None
        if checks is None:
            checks = _Checks()
            if verify:
                _CHECKED.put(identity, checks)
        self._index = index
        self._checks = checks
        self.num_rows: int = index.num_rows
        self.batch_rows: int = index.batch_rows
        self.schema: pa.Schema = index.schema

    def remembered(self, name: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per blob: for values derived from it that hold no reference to its bytes."""
        memo = self._index.memo
        try:
            return memo[name]
        except KeyError:
            value = memo[name] = compute()
            return value

    @property
    def whole_verified(self) -> bool:
        """Whether every byte of these exact bytes was checked (by :meth:`verify_all`) since they were mapped."""
        return self._checks.whole_verified

    def verify_all(self) -> None:
        """Check every chunk of the blob against its checksum (remembered for the blob's identity)."""
        if self._checks.whole_verified:
            return
        saved, self.verify = self.verify, True
        try:
            for prefix, batches in self._index.columns:
                self._span(prefix)
                for span in batches:
                    self._span(span)
        finally:
            self.verify = saved
        self._checks.whole_verified = True

    def _span(self, span: Sequence[int], *, check: bool = True) -> pa.Buffer:
        offset, length, digest = span
        if offset < 0 or length < 0 or offset + length > self._view.nbytes:
            raise _corrupt("a batch range")
        if check and self.verify and xxhash.xxh3_64_intdigest(self._view[offset : offset + length]) != digest:
            raise _corrupt(f"bytes {offset}-{offset + length} of the data")
        return self._buffer.slice(offset, length)

    def _prefix(self, position: int, span: Sequence[int]) -> pa.Buffer:
        """The prefix of column ``position``, checked unless these exact bytes were checked before."""
        checks = self._checks
        known = checks.whole_verified or position in checks.prefixes_checked
        buffer = self._span(span, check=not known)
        if self.verify and not known:
            checks.prefixes_checked.add(position)
        return buffer

    def _batch(self, position: int, number: int, span: Sequence[int]) -> pa.Buffer:
        """Batch ``number`` of column ``position``, checked unless these exact bytes were checked before."""
        checks = self._checks
        known = checks.whole_verified or (position, number) in checks.batches_checked
        buffer = self._span(span, check=not known)
        if self.verify and not known:
            checks.batches_checked.add((position, number))
        return buffer

    def read(self, columns: Sequence[int] | None = None, start: int = 0, stop: int | None = None) -> pa.Table:
        """Columns ``columns`` (positions; all when None) of rows ``start:stop``, with the full schema's metadata."""
        stop = self.num_rows if stop is None else stop
        positions = range(len(self._index.columns)) if columns is None else columns
        arrays = [self._column(i, start, stop) for i in positions]
        fields = [self.schema.field(i) for i in positions]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=self.schema.metadata))

    def _column(self, position: int, start: int, stop: int) -> pa.ChunkedArray:
        prefix_span, spans = self._index.columns[position]
        field = self.schema.field(position)
        if start == 0 and stop == self.num_rows and _contiguous(prefix_span, spans):
            return self._whole_column(position, prefix_span, spans)
        first, last = start // self.batch_rows, max(start, stop - 1) // self.batch_rows
        chosen = spans[first : last + 1] if stop > start else []
        try:
            if _has_dictionary(field.type) and not pa.types.is_dictionary(field.type):
                # A dictionary inside a nested type: read the chosen batches as one stream after the prefix.
                prefix = self._span(prefix_span)
                buffers = [self._batch(position, first + i, span) for i, span in enumerate(chosen)]
                stream = pa.py_buffer(b"".join([prefix.to_pybytes(), *(b.to_pybytes() for b in buffers), _EOS]))
                batches = _read_stream(stream)
                arrays = [b.column(0) for b in (batches[1:] if buffers else batches)]
            elif pa.types.is_dictionary(field.type):
                # The dictionary comes with the prefix; the batches hold the indices.
                dictionary = self._dictionary(position, prefix_span)
                index_schema = pa.schema([pa.field(field.name, field.type.index_type)])
                arrays = []
                for i, span in enumerate(chosen):
                    message = ipc.read_message(self._batch(position, first + i, span))
                    indices = ipc.read_record_batch(message, index_schema).column(0)
                    arrays.append(pa.DictionaryArray.from_arrays(indices, dictionary, ordered=field.type.ordered))
                if not arrays:  # no rows: the categories still come back
                    empty = pa.array([], type=field.type.index_type)
                    arrays.append(pa.DictionaryArray.from_arrays(empty, dictionary, ordered=field.type.ordered))
            else:
                self._prefix(position, prefix_span)  # not needed to decode, but part of the column: checked too
                schema = pa.schema([field])
                arrays = [
                    ipc.read_record_batch(ipc.read_message(self._batch(position, first + i, span)), schema).column(0)
                    for i, span in enumerate(chosen)
                ]
        except (pa.ArrowException, ValueError) as exc:
            raise _corrupt(f"column {field.name!r}") from exc
        if any(a.type != field.type for a in arrays):
            raise _corrupt(f"column {field.name!r}")
        expected = min((last + 1) * self.batch_rows, self.num_rows) - first * self.batch_rows if chosen else 0
        if sum(len(a) for a in arrays) != expected:
            raise _corrupt(f"column {field.name!r}")
        chunked = pa.chunked_array(arrays, type=field.type)
        return chunked.slice(start - first * self.batch_rows, max(0, stop - start))

    def _dictionary(self, position: int, prefix_span: Sequence[int]) -> pa.Array:
        """The dictionary of categorical column ``position``, from its prefix (checked once for these
        exact bytes); one of up to ``_REMEMBERED_DICTIONARY`` values is decoded once per blob."""
        prefix = self._prefix(position, prefix_span)
        memo = self._index.memo
        found = memo.get(("dictionary", position))
        if found is not None:
            return found
        dictionary = _read_stream(prefix)[0].column(0).dictionary
        if len(dictionary) <= _REMEMBERED_DICTIONARY:
            # A copy: the remembered values must not hold the mapped bytes (or a deleted blob's space).
            memo[("dictionary", position)] = pa.concat_arrays([dictionary, dictionary.slice(0, 0)])
        return dictionary

    def _whole_column(
        self, position: int, prefix_span: Sequence[int], spans: Sequence[Sequence[int]]
    ) -> pa.ChunkedArray:
        """Every row of column ``position``, its stream checked chunk by chunk (unless checked before),
        then decoded in one call: one call per batch costs more than decoding it."""
        self._prefix(position, prefix_span)
        for number, span in enumerate(spans):
            self._batch(position, number, span)
        field = self.schema.field(position)
        begin, end = prefix_span[0], (spans[-1][0] + spans[-1][1]) if spans else prefix_span[0] + prefix_span[1]
        try:
            column = ipc.open_stream(self._buffer.slice(begin, end - begin), options=_STREAM_OPTIONS).read_all()
        except (pa.ArrowException, ValueError) as exc:
            raise _corrupt(f"column {field.name!r}") from exc
        if column.num_columns != 1 or column.num_rows != self.num_rows or column.schema.field(0).type != field.type:
            raise _corrupt(f"column {field.name!r}")
        return column.column(0)

    def read_all(self) -> pa.Table:
        """Every column, every row (the caller has verified the whole blob), without copying."""
        arrays = []
        for position, (prefix, spans) in enumerate(self._index.columns):
            begin = prefix[0]
            end = spans[-1][0] + spans[-1][1] if spans else begin + prefix[1]
            stream = self._buffer.slice(begin, end - begin)
            field = self.schema.field(position)
            try:
                column = ipc.open_stream(stream, options=_STREAM_OPTIONS).read_all().column(0)
            except (pa.ArrowException, ValueError) as exc:
                raise _corrupt(f"column {field.name!r}") from exc
            if column.type != field.type:
                raise _corrupt(f"column {field.name!r}")
            arrays.append(column)
        return pa.Table.from_arrays(arrays, schema=self.schema)


def to_ipc_file(data: Buffer) -> Buffer:
    """``data`` (a verified frame blob, or an Arrow IPC file already) as an Arrow IPC file (Feather v2)."""
    if not is_frame_blob(data):
        return data
    table = FrameBlobReader(data, verify=False).read_all()
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _contiguous(prefix_span: Sequence[int], spans: Sequence[Sequence[int]]) -> bool:
    """Whether a column's prefix and batches follow each other with no byte between them (so that its
    stream, read whole, holds only checked bytes)."""
    end = prefix_span[0] + prefix_span[1]
    for offset, length, _ in spans:
        if offset != end:
            return False
        end = offset + length
    return True


def _read_stream(buffer: pa.Buffer) -> list[pa.RecordBatch]:
    return list(ipc.open_stream(buffer, options=_STREAM_OPTIONS))
