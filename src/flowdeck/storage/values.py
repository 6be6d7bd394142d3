"""Persisting one Python value: encode it, keep small payloads inline, large ones as blobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowdeck.storage.blobs import BlobStore
from flowdeck.storage.codecs import Codecs, Encoded

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
            data = b"".join(bytes(p) for p in encoded.parts) if len(encoded.parts) != 1 else bytes(encoded.parts[0])
            return StoredValue(encoded.codec, encoded.size, data, None, None)
        ref = self.blobs.put(encoded.parts)
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

    def get(self, row: Any, info: Mapping[str, Any] | None = None) -> Any:
        """Load the value a row refers to (``row`` has codec, inline_data, blob_key, checksum).

        ``info`` is what the value's codec returned beside the bytes when it was encoded, if anything.
        """
        return self.codecs.decode(row.codec, self.raw(row), info)
