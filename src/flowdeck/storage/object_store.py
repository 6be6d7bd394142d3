"""Reading the organisation's own object storage: S3 objects by path, and the fixture data.

These are the storage halves of ``StoreInterface.get_s3_asset``, ``StoreInterface.list_fixture_data``
and ``get_boto3_s3_client_from_connection_store``: clients of stored connections, reads with clear
errors, decoding by extension (never unpickling), and listing under the fixture root. Clients and
error messages come from :mod:`flowdeck.storage.s3`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from flowdeck.errors import ValidationError
from flowdeck.formats import parse_feather, parse_table
from flowdeck.storage.s3 import mapped_s3_errors, s3_client

__all__ = [
    "FIXTURE_ROOT",
    "TABLE_EXTENSIONS",
    "boto3_client_from_connection",
    "decode_object",
    "list_fixture_keys",
    "read_object",
]

FIXTURE_ROOT = "fixture"
"""Top-level folder of the fixture data, in the metadata bucket or under ``$FLOWDECK_HOME``."""
TABLE_EXTENSIONS = frozenset({"csv", "tsv", "parquet", "feather", "xlsx"})
"""Extensions ``decode_object`` turns into a DataFrame."""


# --------------------------------------------------------------------------- clients


def boto3_client_from_connection(spec_fields: Mapping[str, Any]) -> Any:
    """A boto3 S3 client from the plain fields of a stored connection of type ``s3``.

    Fields used: ``host`` or ``endpoint``/``endpoint_url`` (a URL, or a host name with an optional
    ``port``; none means AWS itself), ``username`` (access key id), ``secret`` or ``password``
    (secret access key), and ``params`` with ``region``/``region_name``, ``profile``/``profile_name``
    and ``session_token``. Without keys the profile, else the default credential chain, is used.
    """
    params: Mapping[str, Any] = spec_fields.get("params") or {}

    def first(*names: str, source: Mapping[str, Any] = spec_fields) -> Any:
        for name in names:
            value = source.get(name)
            if value not in (None, ""):
                return value
        return None

    endpoint = first("endpoint_url", "endpoint", "host") or first("endpoint_url", "endpoint", source=params)
    endpoint_url: str | None = None
    if endpoint:
        endpoint = str(endpoint)
        if "://" not in endpoint:
            port = spec_fields.get("port")
            scheme = "http" if endpoint.split(":")[0] in ("127.0.0.1", "localhost", "::1") else "https"
            endpoint = f"{scheme}://{endpoint}" + (f":{port}" if port and ":" not in endpoint else "")
        endpoint_url = endpoint
    region = first("region", "region_name", source=params) or first("region", "region_name")
    access_key = first("username", "aws_access_key_id")
    secret = first("secret", "password", "aws_secret_access_key")
    token = first("session_token", "aws_session_token", source=params)
    profile = first("profile", "profile_name", source=params)
    if access_key and not secret:
        raise ValidationError(
            f"S3 connection for access key {access_key!r} has no secret access key; "
            "store the connection again with its secret"
        )
    return s3_client(
        endpoint_url=endpoint_url,
        region_name=str(region) if region else None,
        profile_name=None if access_key or not profile else str(profile),
        aws_access_key_id=str(access_key) if access_key else None,
        aws_secret_access_key=str(secret) if access_key else None,
        aws_session_token=str(token) if access_key and token else None,
    )


# --------------------------------------------------------------------------- reading objects


def _clean_path(path: str, what: str) -> str:
    """``path`` as an object key without leading ``/``; a ``..`` segment is refused."""
    if not isinstance(path, str) or not path.strip():
        raise ValidationError(f"{what} must be a non-empty path, got {path!r}")
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        raise ValidationError(f"{what} {path!r} contains '..'; give a path inside the bucket without '..'")
    return path.lstrip("/")


def read_object(client: Any, bucket: str | None, path: str) -> bytes:
    """The bytes of object ``path`` in ``bucket``, with a distinct error for each way it can fail.

    No bucket: ``ValidationError``. A ``..`` segment in ``path``: ``ValidationError``. The bucket or
    the key does not exist: ``NotFoundError`` naming them. The credentials are refused:
    ``AccessError`` naming the bucket.
    """
    if not bucket:
        raise ValidationError("get_s3_asset needs a bucket: create StoreInterface(..., bucket_name=...)")
    key = _clean_path(path, "S3 path")
    with mapped_s3_errors("reading", bucket=bucket, key=key):
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def _extension(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).suffix.lower().lstrip(".")


def decode_object(data: bytes, path: str) -> Any:
    """The value of an object by its extension: a DataFrame for csv/tsv/parquet/feather/xlsx,
    a dict or list for json, and a ``BytesIO`` of the raw bytes for anything else.

    Pickles are never loaded: a ``.pkl`` object comes back as ``BytesIO`` like any unknown type.
    """
    ext = _extension(path)
    name = PurePosixPath(path).name
    # Tables are bounded as uploads are (the sizes a Parquet or Arrow file declares are checked
    # before it is decoded): an object in a bucket can be as hostile as an upload.
    if ext in ("csv", "tsv", "xlsx", "parquet"):
        return parse_table(data, name, ext)
    if ext == "feather":
        return parse_feather(data, name)
    if ext == "json":
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(f"{name} is not valid JSON: {exc}") from exc
        except RecursionError:
            raise ValidationError(f"{name} nests lists or objects too deeply to decode") from None
    return io.BytesIO(data)


# --------------------------------------------------------------------------- fixtures


def _fixture_prefix(prefix: str | None) -> str:
    """``fixture/<prefix>`` as a key prefix; the prefix may not leave the fixture root."""
    if prefix is None or prefix == "":
        return f"{FIXTURE_ROOT}/"
    if not isinstance(prefix, str):
        raise ValidationError(f"fixture prefix must be a string, got {type(prefix).__name__}")
    normalised = prefix.replace("\\", "/")
    if normalised.startswith("/") or PurePosixPath(normalised).is_absolute() or os.path.isabs(prefix):
        raise ValidationError(f"fixture prefix {prefix!r} is absolute; give a path relative to the fixture root")
    if ".." in normalised.split("/"):
        raise ValidationError(f"fixture prefix {prefix!r} contains '..'; it cannot leave the fixture root")
    return f"{FIXTURE_ROOT}/{normalised}"


def _bucket_name(metadata_bucket: str) -> tuple[str, str]:
    """Bucket and key prefix of ``s3://bucket[/prefix]`` or ``bucket``."""
    raw = metadata_bucket.strip()
    if raw.startswith("s3://"):
        raw = raw[len("s3://") :]
    bucket, _, base = raw.partition("/")
    if not bucket:
        raise ValidationError(f"metadata bucket {metadata_bucket!r} has no bucket name; write it as s3://bucket")
    base = base.strip("/")
    return bucket, f"{base}/" if base else ""


def list_fixture_keys(
    prefix: str | None,
    *,
    metadata_bucket: str | None,
    home: Path,
    client: Any = None,
    endpoint_url: str | None = None,
) -> list[str]:
    """Full keys (``fixture/<prefix>...``) of the fixture data, sorted.

    With a metadata bucket (``s3://name`` or ``name``) the bucket is listed; on the embedded default
    the files under ``$home/fixture`` are, as keys with ``/`` separators. ``prefix`` is a plain
    string prefix under the fixture root (``"sales/2024"`` matches ``fixture/sales/2024-01.csv``).
    """
    key_prefix = _fixture_prefix(prefix)
    if metadata_bucket:
        bucket, base = _bucket_name(metadata_bucket)
        client = client if client is not None else s3_client(endpoint_url=endpoint_url)
        keys: list[str] = []
        with mapped_s3_errors(
            "listing",
            bucket=bucket,
            what="the fixture data under",
            key=base + key_prefix,
            bucket_label=f"metadata bucket {bucket!r}",
            bucket_fix="fix FLOWDECK_METADATA_BUCKET",
        ):
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base + key_prefix):
                keys.extend(item["Key"][len(base) :] for item in page.get("Contents", []))
        return sorted(k for k in keys if not k.endswith("/"))
    root = Path(home) / FIXTURE_ROOT
    if not root.is_dir():
        return []
    resolved_root = root.resolve()
    found: list[str] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            full = Path(dirpath) / filename
            # A symlink pointing outside the root is not fixture data.
            if not full.resolve().is_relative_to(resolved_root):
                continue
            key = f"{FIXTURE_ROOT}/{full.relative_to(root).as_posix()}"
            if key.startswith(key_prefix):
                found.append(key)
    return sorted(found)
