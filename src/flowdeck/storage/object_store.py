"""Reading the organisation's own object storage: S3 objects by path, and the fixture data.

These are the storage halves of ``StoreInterface.get_s3_asset``, ``StoreInterface.list_fixture_data``
and ``get_boto3_s3_client_from_connection_store``: clients, reads with clear errors, decoding by
extension (never unpickling), and listing under the fixture root.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError

from flowdeck.errors import AccessError, NotFoundError, ValidationError

__all__ = [
    "FIXTURE_ROOT",
    "TABLE_EXTENSIONS",
    "boto3_client_from_connection",
    "decode_object",
    "list_fixture_keys",
    "read_object",
    "s3_client",
]

FIXTURE_ROOT = "fixture"
"""Top-level folder of the fixture data, in the metadata bucket or under ``$FLOWDECK_HOME``."""
TABLE_EXTENSIONS = frozenset({"csv", "tsv", "parquet", "feather", "xlsx"})
"""Extensions ``decode_object`` turns into a DataFrame."""

_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "InvalidToken",
        "InvalidClientTokenId",
        "403",
    }
)
_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=16)


def _path_config(endpoint_url: str | None) -> Config:
    # S3-compatible servers (MinIO, moto, Ceph) are addressed by path, not by bucket host.
    return _CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"})) if endpoint_url else _CLIENT_CONFIG


# --------------------------------------------------------------------------- clients


def s3_client(
    profile_name: str | None, endpoint_url: str | None = None, *, region_name: str | None = None
) -> Any:
    """A boto3 S3 client using AWS profile ``profile_name`` when the AWS config has it.

    When the profile does not exist the default credential chain (environment, instance role, ...)
    is used and a warning names the missing profile.
    """
    session: boto3.session.Session
    if profile_name and profile_name in boto3.session.Session().available_profiles:
        session = boto3.session.Session(profile_name=profile_name)
    else:
        if profile_name:
            warnings.warn(
                f"AWS profile {profile_name!r} is not in the AWS config; using the default credential "
                "chain instead (pass profile_name= of an existing profile, or None, to silence this)",
                UserWarning,
                stacklevel=2,
            )
        session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name or session.region_name or "us-east-1",
        config=_path_config(endpoint_url),
    )


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
    if access_key:
        session = boto3.session.Session(
            aws_access_key_id=str(access_key),
            aws_secret_access_key=str(secret),
            aws_session_token=str(token) if token else None,
            region_name=str(region) if region else None,
        )
        return session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=session.region_name or "us-east-1",
            config=_path_config(endpoint_url),
        )
    return s3_client(
        str(profile) if profile else None, endpoint_url, region_name=str(region) if region else None
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
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        return response["Body"].read()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise NotFoundError(f"S3 bucket {bucket!r} does not exist (reading {key!r})") from exc
        if code in ("NoSuchKey", "404", "NotFound"):
            raise NotFoundError(f"S3 object {key!r} does not exist in bucket {bucket!r}") from exc
        if code in _CREDENTIAL_CODES:
            raise AccessError(
                f"S3 refused the credentials for bucket {bucket!r} ({code}) reading {key!r}; check the AWS "
                "profile or keys and their permissions on the bucket"
            ) from exc
        raise
    except NoCredentialsError as exc:
        raise AccessError(
            f"no AWS credentials found to read {key!r} from bucket {bucket!r}; configure a profile or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ) from exc


def _extension(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).suffix.lower().lstrip(".")


def _parse_text_table(data: bytes, path: str, fmt: str) -> pd.DataFrame:
    """csv/tsv/xlsx bytes as a DataFrame, through the shared upload parser when it is available."""
    filename = PurePosixPath(path).name
    try:
        from flowdeck.formats import parse_table
    except ImportError:
        parse_table = None
    if parse_table is not None:
        return parse_table(data, filename, fmt)
    try:
        if fmt == "xlsx":
            return pd.read_excel(io.BytesIO(data), engine="openpyxl")
        return pd.read_csv(io.BytesIO(data), sep="\t" if fmt == "tsv" else ",")
    except Exception as exc:
        raise ValidationError(f"{filename} is not a valid {fmt} file: {exc}") from exc


def decode_object(data: bytes, path: str) -> Any:
    """The value of an object by its extension: a DataFrame for csv/tsv/parquet/feather/xlsx,
    a dict or list for json, and a ``BytesIO`` of the raw bytes for anything else.

    Pickles are never loaded: a ``.pkl`` object comes back as ``BytesIO`` like any unknown type.
    """
    ext = _extension(path)
    name = PurePosixPath(path).name
    if ext in ("csv", "tsv", "xlsx"):
        return _parse_text_table(data, path, ext)
    if ext in ("parquet", "feather"):
        try:
            if ext == "parquet":
                return pd.read_parquet(io.BytesIO(data))
            return pd.read_feather(io.BytesIO(data))
        except Exception as exc:
            raise ValidationError(f"{name} is not a valid {ext} file: {exc}") from exc
    if ext == "json":
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(f"{name} is not valid JSON: {exc}") from exc
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
        raise ValidationError(
            f"fixture prefix {prefix!r} is absolute; give a path relative to the fixture root"
        )
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
        raise ValidationError(
            f"metadata bucket {metadata_bucket!r} has no bucket name; write it as s3://bucket"
        )
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
        client = client if client is not None else s3_client(None, endpoint_url)
        keys: list[str] = []
        try:
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=base + key_prefix
            ):
                keys.extend(item["Key"][len(base) :] for item in page.get("Contents", []))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                raise NotFoundError(
                    f"metadata bucket {bucket!r} does not exist; fix FLOWDECK_METADATA_BUCKET"
                ) from exc
            if code in _CREDENTIAL_CODES:
                raise AccessError(
                    f"S3 refused the credentials for metadata bucket {bucket!r} ({code})"
                ) from exc
            raise
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
