"""Re-signing stored values under a new deployment key.

Pickles carry an HMAC of their payload (see :mod:`flowdeck.storage.codecs`); skops files keep
theirs in the asset's metadata. A key rotation that retires the old key must re-sign every one
of them under the new key first, or they could no longer be loaded. Only bytes whose signature
verifies under one of the current keys are re-signed: a tampered value stays refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from flowdeck.storage.codecs import PICKLE_MAGIC
from flowdeck.storage.records import signatures as records
from flowdeck.storage.values import StoredValue

__all__ = ["ResignReport", "resign_pickle", "resign_stored_values"]

_MAC_SIZE = hashlib.sha256().digest_size


@dataclasses.dataclass
class ResignReport:
    """How many signed values were re-signed, and how many were left because no key verified them."""

    pickles: int = 0
    skops: int = 0
    unverified: list[str] = dataclasses.field(default_factory=list)


def resign_pickle(data: bytes, verify_keys: list[bytes], sign_key: bytes) -> bytes | None:
    """The signed pickle ``data`` signed with ``sign_key`` instead; None when no verify key matches."""
    header = len(PICKLE_MAGIC) + _MAC_SIZE
    if len(data) < header or data[: len(PICKLE_MAGIC)] != PICKLE_MAGIC:
        return None
    mac, payload = data[len(PICKLE_MAGIC) : header], data[header:]
    if not any(hmac.compare_digest(mac, hmac.digest(key, payload, hashlib.sha256)) for key in verify_keys):
        return None
    return PICKLE_MAGIC + hmac.digest(sign_key, payload, hashlib.sha256) + payload


def _stored(storage: Any, codec: str, data: bytes) -> StoredValue:
    if len(data) <= storage.values.inline_threshold:
        return StoredValue(codec, len(data), data, None, None)
    ref = storage.blobs.put([data])
    return StoredValue(codec, len(data), None, ref.key, ref.checksum)


def resign_stored_values(
    storage: Any,
    pickle_keys: tuple[list[bytes], bytes],
    skops_resign: Callable[[bytes, dict[str, Any]], dict[str, Any] | None],
) -> ResignReport:
    """Re-sign every signed pickle (outputs and assets) and every skops asset's MAC.

    ``pickle_keys`` is (keys that verify, key that signs). ``skops_resign(data, info)`` returns the
    asset's object info with a new MAC, or None when the old MAC does not verify. New bytes are
    durable before the row points at them; the old blobs are left for ``flowdeck gc``.
    """
    verify, sign = pickle_keys
    report = ResignReport()
    for table in ("outputs", "assets"):
        last: Any = None
        while True:
            with storage.db.read() as conn:
                batch = records.signed_rows(conn, table, ("pickle", "skops"), after=last)
            if not batch:
                break
            last = batch[-1].id
            for row in batch:
                data = bytes(storage.values.raw(row))
                if row.codec == "pickle":
                    signed = resign_pickle(data, verify, sign)
                    if signed is None:
                        report.unverified.append(f"{table} {row.id}")
                        continue
                    stored = _stored(storage, "pickle", signed)
                    with storage.db.write() as conn:
                        records.replace_value(conn, table, row.id, stored)
                    report.pickles += 1
                    continue
                document = json.loads(row.metadata_json or "{}")
                info = skops_resign(data, dict(document.get("object") or {}))
                if info is None:
                    report.unverified.append(f"{table} {row.id}")
                    continue
                document["object"] = info
                with storage.db.write() as conn:
                    records.replace_asset_metadata(conn, row.id, json.dumps(document))
                report.skops += 1
    return report
