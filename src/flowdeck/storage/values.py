"""Persisting one Python value: encode it, keep small payloads inline, large ones as blobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowdeck.storage.blobs import BlobStore
from flowdeck.storage.codecs import Codecs, Encoded
from flowdeck.storage.frame_blobs import is_frame_blob, to_ipc_file

__all__ = ["StoredValue", "ValueStore"]


@dataclass(frozen=True)
class StoredValue:
    """How a value was stored: the columns a row keeps to load it again."""

    codec: str
    size: int
    inline_data: bytes | None
    blob_key: str | None
    checksum: str | None

    def columns(self) -> dict[str, Any]:
        """The row columns (codec, size, inline_data, blob_key, checksum)."""
        return {
            "codec": self.codec,
            "size": self.size,
            "inline_data": self.inline_data,
            "blob_key": self.blob_key,
            "checksum": self.checksum,
        }


class ValueStore:
    """Encodes values with the codecs and keeps their bytes inline or in the blob store.

    The blob (if any) is durable before :meth:`put` returns, so the caller may commit the
    row that refers to it: a crash in between leaves at worst an unreferenced blob.
    """

    def __init__(self, codecs: Codecs, blobs: BlobStore, inline_threshold: int) -> None:
        self.codecs = codecs
        self.blobs = blobs
        self.inline_threshold = inline_threshold

    def put(self, value: Any) -> StoredValue:
        """Encode ``value`` and store its bytes; raise ``ValidationError`` if it cannot be stored."""
        return self.put_encoded(self.codecs.encode(value))

    def put_encoded(self, encoded: Encoded, *, inline: bool = True) -> StoredValue:
        """Store a value already encoded (e.g. by :meth:`Codecs.encode_with`): inline when small, else a blob.

        ``inline=False`` keeps it as a blob whatever its size.
        """
        if inline and encoded.size <= self.inline_threshold:
            parts = encoded.parts
            data = b"".join(bytes(p) for p in parts) if len(parts) != 1 else bytes(parts[0])
            return StoredValue(encoded.codec, encoded.size, data, None, None)
        body, tail = encoded.body()
        ref = self.blobs.put(body, tail=tail)
        return StoredValue(encoded.codec, encoded.size, None, ref.key, ref.checksum)

    def put_bytes(self, data: bytes) -> StoredValue:
        """Store raw bytes (an upload) always as a blob, so that they can be streamed and shared."""
        ref = self.blobs.put([data])
        return StoredValue("bytes", len(data), None, ref.key, ref.checksum)

    def raw(self, row: Any) -> Any:
        """The stored bytes of a row (verified when they come from a blob)."""
        if row.inline_data is not None:
            return row.inline_data
        return self.blobs.get(row.blob_key, row.checksum)

    def exported(self, row: Any) -> Any:
        """The stored bytes of a row in a format other programs read: frames as an Arrow IPC file."""
        data = self.raw(row)
        return to_ipc_file(data) if row.codec in ("arrow", "arrow-series") else data

    def get(
        self,
        row: Any,
        info: Mapping[str, Any] | None = None,
        *,
        columns: Any = None,
        rows: Any = None,
        zero_copy: bool = False,
    ) -> Any:
        """Load the value a row refers to (``row`` has codec, inline_data, blob_key, checksum).

        ``info`` is what the value's codec returned beside the bytes when it was encoded, if anything.
        ``columns``, ``rows`` and ``zero_copy`` select part of a stored frame (see
        :meth:`Codecs.decode_selected`): a frame blob is memory-mapped and only the batches read are
        verified; a value in another format is verified and decoded whole, then sliced. A zero-copy
        read of a whole frame blob checks every chunk the first time this process maps that version
        of the file, and not again while the file is unchanged (see docs/storage.md).
        """
        if columns is None and rows is None and not zero_copy:
            return self.codecs.decode(row.codec, self.raw(row), info)
        if row.inline_data is not None or row.codec not in ("arrow", "arrow-series"):
            return self.codecs.decode_selected(
                row.codec, self.raw(row), columns=columns, rows=rows, zero_copy=zero_copy
            )
        # A zero-copy frame holds its map anyway: keeping it spares the next such read mapping again.
        data, identity = self.blobs.get_mapped(row.blob_key, keep=zero_copy)
        if not is_frame_blob(data):
            # Written before per-batch checksums: only the whole-blob check can verify it.
            self.blobs.check(row.blob_key, row.checksum, data)
            return self.codecs.decode_selected(row.codec, data, columns=columns, rows=rows, zero_copy=zero_copy)
        return self.codecs.decode_selected(
            row.codec,
            data,
            columns=columns,
            rows=rows,
            zero_copy=zero_copy,
            verified=False,
            identity=identity,
            key=row.blob_key,
        )
