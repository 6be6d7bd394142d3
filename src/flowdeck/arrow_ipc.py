"""What an Arrow IPC file (Feather v2) declares about itself, read from its metadata alone.

A compressed IPC file can stand for far more memory than it occupies: each compressed buffer
starts with the length it decompresses to. :func:`declared_sizes` reads the footer, every
message header it lists and those length prefixes, and adds them up, so a caller can refuse a
file before a single buffer is decompressed. It reads the FlatBuffers metadata by hand, checking
every offset against the file's bounds, since pyarrow decodes a batch whole or not at all.

Layout (Arrow columnar format, "IPC File Format"): ``ARROW1\\0\\0``, the messages, the footer,
its length as int32 and ``ARROW1``. The footer lists the blocks (offset, metadata length, body
length) of the dictionary and record batches; a batch's header lists its buffers and, when the
body is compressed, its codec.
"""

from __future__ import annotations

import dataclasses
import struct

__all__ = ["IpcDeclaration", "declared_sizes"]

_MAGIC = b"ARROW1"
_CONTINUATION = 0xFFFFFFFF
_BLOCK_SIZE = 24  # struct Block { offset: long; metaDataLength: int; (pad); bodyLength: long }
_BUFFER_SIZE = 16  # struct Buffer { offset: long; length: long }
_DICTIONARY_BATCH = 2
_RECORD_BATCH = 3
_UNCOMPRESSED_PREFIX = -1


class IpcFormatError(ValueError):
    """The bytes are not a well-formed Arrow IPC file (an offset points outside it, say)."""


@dataclasses.dataclass(frozen=True)
class IpcDeclaration:
    """Sizes an Arrow IPC file declares: rows over its record batches, top-level columns, and the
    bytes its buffers take once decompressed (dictionaries included)."""

    rows: int
    columns: int
    decoded_bytes: int


class _Bytes:
    """Little-endian reads that refuse any offset outside the data (never wrapping from the end)."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)

    def read(self, fmt: str, offset: int) -> int:
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(self.data):
            raise IpcFormatError(f"metadata points to byte {offset:,}, outside the {len(self.data):,}-byte file")
        return struct.unpack_from("<" + fmt, self.data, offset)[0]


class _Table:
    """One FlatBuffers table: its fields are found through the vtable it points to."""

    def __init__(self, raw: _Bytes, position: int) -> None:
        self.raw = raw
        self.position = position
        self.vtable = position - raw.read("i", position)
        self.vtable_size = raw.read("H", self.vtable)

    def _offset(self, field: int) -> int:
        slot = 4 + 2 * field
        return 0 if slot + 2 > self.vtable_size else self.raw.read("H", self.vtable + slot)

    def scalar(self, field: int, fmt: str, default: int = 0) -> int:
        offset = self._offset(field)
        return self.raw.read(fmt, self.position + offset) if offset else default

    def table(self, field: int) -> _Table | None:
        offset = self._offset(field)
        if not offset:
            return None
        at = self.position + offset
        return _Table(self.raw, at + self.raw.read("I", at))

    def vector(self, field: int, item_size: int) -> tuple[int, int]:
        """(position of the first item, number of items); (0, 0) when the field is absent."""
        offset = self._offset(field)
        if not offset:
            return 0, 0
        at = self.position + offset
        start = at + self.raw.read("I", at)
        count = self.raw.read("I", start)
        if start + 4 + count * item_size > len(self.raw.data):
            raise IpcFormatError(f"a vector of {count:,} items runs past the end of the file")
        return start + 4, count


def _root(raw: _Bytes, at: int) -> _Table:
    return _Table(raw, at + raw.read("I", at))


def _message_header(file: _Bytes, offset: int, metadata_length: int) -> tuple[int, _Table | None, int]:
    """(header type, header table, position of the body) of the message at ``offset``."""
    length = file.read("I", offset)
    start = offset + 4
    if length == _CONTINUATION:
        length = file.read("I", start)
        start += 4
    if start + length > offset + metadata_length:
        raise IpcFormatError(f"the message at byte {offset:,} is longer than its block says")
    message = _root(file, start)
    header_type = message.scalar(1, "B")
    return header_type, message.table(2), offset + metadata_length


def _batch_bytes(file: _Bytes, batch: _Table, body: int, body_length: int) -> int:
    """Bytes the buffers of one record batch take once decompressed."""
    first, count = batch.vector(2, _BUFFER_SIZE)
    compressed = batch.table(3) is not None
    total = 0
    for index in range(count):
        offset = file.read("q", first + index * _BUFFER_SIZE)
        length = file.read("q", first + index * _BUFFER_SIZE + 8)
        if offset < 0 or length < 0 or offset + length > body_length:
            raise IpcFormatError(f"buffer {index} lies outside its message body")
        if compressed and length:
            prefix = file.read("q", body + offset)
            total += length - 8 if prefix == _UNCOMPRESSED_PREFIX else max(prefix, 0)
        else:
            total += length
    return total


def declared_sizes(data: bytes | memoryview) -> IpcDeclaration:
    """The rows, columns and decompressed bytes ``data`` (an Arrow IPC file) declares.

    Raises :class:`IpcFormatError` (a ``ValueError``) when the bytes are not an IPC file or their
    metadata points outside them.
    """
    file = _Bytes(data)
    size = len(file.data)
    if size < 16 or bytes(file.data[:6]) != _MAGIC or bytes(file.data[-6:]) != _MAGIC:
        raise IpcFormatError("it does not start and end with ARROW1")
    footer_length = file.read("i", size - 10)
    footer_start = size - 10 - footer_length
    if footer_length <= 0 or footer_start < 8:
        raise IpcFormatError("its footer length is out of range")
    footer = _root(file, footer_start)
    schema = footer.table(1)
    columns = schema.vector(1, 4)[1] if schema is not None else 0
    rows = decoded = 0
    for field, wanted in ((2, _DICTIONARY_BATCH), (3, _RECORD_BATCH)):
        first, count = footer.vector(field, _BLOCK_SIZE)
        for index in range(count):
            block = first + index * _BLOCK_SIZE
            offset = file.read("q", block)
            metadata_length = file.read("i", block + 8)
            body_length = file.read("q", block + 16)
            if offset < 8 or metadata_length <= 0 or body_length < 0 or offset + metadata_length + body_length > size:
                raise IpcFormatError(f"block {index} lies outside the file")
            header_type, header, body = _message_header(file, offset, metadata_length)
            if header_type != wanted or header is None:
                raise IpcFormatError(f"block {index} does not hold the batch the footer says")
            batch = header.table(1) if wanted == _DICTIONARY_BATCH else header
            if batch is None:
                raise IpcFormatError(f"dictionary block {index} holds no data")
            if wanted == _RECORD_BATCH:
                rows += max(batch.scalar(0, "q"), 0)
            decoded += _batch_bytes(file, batch, body, body_length)
    return IpcDeclaration(rows=rows, columns=columns, decoded_bytes=decoded)
