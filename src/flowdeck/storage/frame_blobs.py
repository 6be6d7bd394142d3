"""Arrow tables in a layout that lets a read touch, decode and verify only what it needs.

A frame blob is::

    magic (8) | header length (u64) | xxh3-128 of the header (16) | header (JSON) | padding to 64
    | for each column: an Arrow IPC stream of that column alone

Each column stream holds an empty record batch first (its schema and, for categoricals, its
dictionary: the *prefix*), then record batches of ``BATCH_ROWS`` rows (the last one shorter). The
header records the full table schema (with pandas' metadata) and, for every column, the byte range
and xxh3-64 checksum of its prefix and of each of its batches, computed when the blob was written.

A read of some columns or rows checks the header against its checksum, then checks and decodes
only the prefix and batches it needs, zero-copy from the buffer it is given (a memory map of the
blob): a corrupted byte anywhere it reads is an :class:`~flowdeck.errors.IntegrityError`, while
bytes it does not read are not looked at. A full read is verified as before, by the blob's own
checksum, and decodes every column stream without copying.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import xxhash

from flowdeck.errors import IntegrityError

__all__ = ["BATCH_ROWS", "MAGIC", "FrameBlobReader", "is_frame_blob", "to_ipc_file", "write_table"]

Buffer = bytes | bytearray | memoryview

MAGIC = b"FDFRAME1"
# Rows per record batch: a range of rows touches only the batches that hold it (a 100-row read of
# 40 float columns decodes and verifies 40 x 512 KiB), while a full read stays a few hundred batches.
BATCH_ROWS = 65_536
_ALIGN = 64
_FIXED = struct.Struct("<8sQ16s")
_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


class _PartsSink:
    """A write-only file that keeps the buffers Arrow hands it instead of copying them."""

    def __init__(self, start: int = 0) -> None:
        self.parts: list[memoryview] = []
        self.size = start
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
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


def _checksums(parts: Sequence[memoryview], start: int, bounds: Sequence[int]) -> list[int]:
    """xxh3-64 of each range ``[bounds[i], bounds[i+1])`` of the parts (which begin at ``start``)."""
    digests: list[int] = []
    hasher = xxhash.xxh3_64()
    position = start
    edge = 1
    for part in parts:
        offset = 0
        while offset < part.nbytes:
            if edge >= len(bounds):
                return digests
            take = min(part.nbytes - offset, bounds[edge] - position)
            hasher.update(part[offset : offset + take])
            offset += take
            position += take
            if position == bounds[edge]:
                digests.append(hasher.intdigest())
                hasher = xxhash.xxh3_64()
                edge += 1
    return digests


def _single_chunk(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    if column.num_chunks == 0:
        return pa.array([], type=column.type)
    return pa.concat_arrays(column.chunks)


def write_table(table: pa.Table) -> tuple[list[Buffer], int]:
    """The blob bytes of ``table`` as a list of buffers (mostly views of the table's own memory)."""
    rows = table.num_rows
    body: list[memoryview] = []
    position = 0
    columns_index: list[dict[str, Any]] = []
    for i, field in enumerate(table.schema):
        schema = pa.schema([field])
        array = _single_chunk(table.column(i))
        sink = _PartsSink(position)
        bounds = [position]
        with ipc.new_stream(sink, schema) as writer:
            writer.write_batch(pa.record_batch([array.slice(0, 0)], schema=schema))
            bounds.append(sink.size)
            for start in range(0, rows, BATCH_ROWS):
                writer.write_batch(pa.record_batch([array.slice(start, BATCH_ROWS)], schema=schema))
                bounds.append(sink.size)
        digests = _checksums(sink.parts, position, bounds)
        spans = [[bounds[k], bounds[k + 1] - bounds[k], digests[k]] for k in range(len(digests))]
        columns_index.append({"prefix": spans[0], "batches": spans[1:]})
        body.extend(sink.parts)
        padding = -sink.size % _ALIGN
        if padding:
            body.append(memoryview(bytes(padding)))
        position = sink.size + padding
    schema_bytes = table.schema.serialize().to_pybytes()
    header = json.dumps(
        {
            "rows": rows,
            "batch_rows": BATCH_ROWS,
            "schema": [position, len(schema_bytes), xxhash.xxh3_64_intdigest(schema_bytes)],
            "columns": columns_index,
        },
        separators=(",", ":"),
    ).encode()
    head = _FIXED.pack(MAGIC, len(header), xxhash.xxh3_128_digest(header)) + header
    head += bytes(-len(head) % _ALIGN)
    parts: list[Buffer] = [head, *body, schema_bytes]
    return parts, len(head) + position + len(schema_bytes)


def is_frame_blob(data: Buffer) -> bool:
    """Whether ``data`` is in this layout (older frames are plain Arrow IPC files)."""
    return bytes(memoryview(data)[: len(MAGIC)]) == MAGIC


def _corrupt(what: str) -> IntegrityError:
    return IntegrityError(
        f"stored frame is corrupted: {what} does not match the checksum recorded when it was written; "
        "the value was not returned. Restore the blob from a backup or save the value again."
    )


class FrameBlobReader:
    """Reads columns and row ranges of a frame blob; ``verify=True`` checks every byte it reads."""

    def __init__(self, data: Buffer, *, verify: bool) -> None:
        """Parse (and with ``verify`` check) the header of ``data``, a frame blob."""
        view = memoryview(data).cast("B") if memoryview(data).format != "B" else memoryview(data)
        self.verify = verify
        if view.nbytes < _FIXED.size:
            raise _corrupt("the header")
        magic, length, digest = _FIXED.unpack_from(view)
        header = view[_FIXED.size : _FIXED.size + length]
        if magic != MAGIC or header.nbytes != length or (verify and xxhash.xxh3_128_digest(header) != digest):
            raise _corrupt("the header")
        try:
            meta = json.loads(bytes(header))
            self.num_rows: int = meta["rows"]
            self.batch_rows: int = meta["batch_rows"]
            self._columns: list[dict[str, Any]] = meta["columns"]
            schema_span = meta["schema"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _corrupt("the header") from exc
        start = _FIXED.size + length
        start += -start % _ALIGN
        self._body = view[start:]
        self._buffer = pa.py_buffer(self._body)
        schema_bytes = self._span(schema_span)
        self.schema: pa.Schema = ipc.read_schema(schema_bytes)
        if len(self.schema) != len(self._columns):
            raise _corrupt("the header")

    def _span(self, span: Sequence[int]) -> pa.Buffer:
        offset, length, digest = span
        if offset < 0 or length < 0 or offset + length > self._body.nbytes:
            raise _corrupt("a batch range")
        if self.verify and xxhash.xxh3_64_intdigest(self._body[offset : offset + length]) != digest:
            raise _corrupt(f"bytes {offset}-{offset + length} of the data")
        return self._buffer.slice(offset, length)

    def read(self, columns: Sequence[int] | None = None, start: int = 0, stop: int | None = None) -> pa.Table:
        """Columns ``columns`` (positions; all when None) of rows ``start:stop``, with the full schema's metadata."""
        stop = self.num_rows if stop is None else stop
        positions = range(len(self._columns)) if columns is None else columns
        arrays = [self._column(i, start, stop) for i in positions]
        fields = [self.schema.field(i) for i in positions]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=self.schema.metadata))

    def _column(self, position: int, start: int, stop: int) -> pa.ChunkedArray:
        entry = self._columns[position]
        field = self.schema.field(position)
        spans = entry["batches"]
        first, last = start // self.batch_rows, max(start, stop - 1) // self.batch_rows
        chosen = spans[first : last + 1] if stop > start else []
        prefix = self._span(entry["prefix"])
        buffers = [self._span(span) for span in chosen]
        try:
            if pa.types.is_dictionary(field.type) or not buffers:
                # The dictionary comes with the prefix: read the chosen batches as one stream after it.
                stream = pa.py_buffer(b"".join([prefix.to_pybytes(), *(b.to_pybytes() for b in buffers), _EOS]))
                batches = _read_stream(stream)
                if buffers:
                    batches = batches[1:]  # the prefix's empty batch
            else:
                schema = ipc.read_schema(prefix)
                batches = [ipc.read_record_batch(ipc.read_message(b), schema) for b in buffers]
        except (pa.ArrowException, ValueError) as exc:
            raise _corrupt(f"column {field.name!r}") from exc
        if any(b.schema.field(0).type != field.type for b in batches):
            raise _corrupt(f"column {field.name!r}")
        arrays = [b.column(0) for b in batches]
        expected = min((last + 1) * self.batch_rows, self.num_rows) - first * self.batch_rows if chosen else 0
        if sum(len(a) for a in arrays) != expected:
            raise _corrupt(f"column {field.name!r}")
        chunked = pa.chunked_array(arrays, type=field.type)
        return chunked.slice(start - first * self.batch_rows, max(0, stop - start))

    def read_all(self) -> pa.Table:
        """Every column, every row (the caller has verified the whole blob), without copying."""
        arrays = []
        for position, entry in enumerate(self._columns):
            begin = entry["prefix"][0]
            spans = entry["batches"]
            end = spans[-1][0] + spans[-1][1] if spans else begin + entry["prefix"][1]
            stream = self._buffer.slice(begin, end - begin)
            try:
                batches = [b.column(0) for b in _read_stream(stream)]
            except (pa.ArrowException, ValueError) as exc:
                raise _corrupt(f"column {self.schema.field(position).name!r}") from exc
            arrays.append(pa.chunked_array(batches, type=self.schema.field(position).type))
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


def _read_stream(buffer: pa.Buffer) -> list[pa.RecordBatch]:
    return list(ipc.open_stream(buffer))
