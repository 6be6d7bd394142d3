"""Object storage for flow writers: reading the organisation's buckets and the deployment's fixtures."""

from __future__ import annotations

import functools
import re
from typing import Any

from flowdeck.config import get_settings
from flowdeck.errors import ValidationError
from flowdeck.storage import object_store
from flowdeck.storage.s3 import s3_client

__all__ = ["check_bucket_name", "get_s3_asset", "list_fixture_data"]

# S3's bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens, starting and ending
# with a letter or digit, no two dots in a row, and not shaped like an IP address.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@functools.lru_cache(maxsize=16)
def _client(profile_name: str | None, endpoint_url: str | None) -> Any:
    # boto3 clients are slow to build and thread-safe: keep one per profile and endpoint.
    return s3_client(profile_name=profile_name, endpoint_url=endpoint_url)


def check_bucket_name(bucket_name: object, path: str | None = None) -> str:
    """``bucket_name`` when it is a valid S3 bucket name, else a ``ValidationError`` saying what to pass.

    A URL or a name with a path (``s3://bkt/dir``) is refused with the bare bucket name and the key to
    use instead (``path``, when given, is the key asked for, joined to the URL's path in the advice).
    """
    if not isinstance(bucket_name, str):
        raise ValidationError(
            f"bucket_name must be a str naming an S3 bucket, got {type(bucket_name).__name__}: "
            "create the store with StoreInterface(..., bucket_name='my-bucket')"
        )
    rest = _URL_SCHEME.sub("", bucket_name, count=1)
    if rest != bucket_name or "/" in rest:
        bucket, _, prefix = rest.strip("/").partition("/")
        bucket = bucket or "<bucket>"
        key = "/".join(part.strip("/") for part in (prefix, path or "") if part.strip("/")) or "<key>"
        raise ValidationError(
            f"bucket_name={bucket_name!r} is not a bare bucket name: pass the bucket alone and the object's "
            f"key to get_s3_asset, e.g. StoreInterface(..., bucket_name={bucket!r}) and get_s3_asset({key!r})"
        )
    if not _BUCKET_NAME.fullmatch(bucket_name) or ".." in bucket_name or _IP_ADDRESS.fullmatch(bucket_name):
        raise ValidationError(
            f"bucket_name={bucket_name!r} is not a valid S3 bucket name: it takes 3 to 63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit (e.g. 'sales-exports')"
        )
    return bucket_name


def get_s3_asset(bucket_name: str | None, profile_name: str | None, path: str) -> Any:
    """Read ``path`` from ``bucket_name`` and decode it by extension (tables → DataFrame, json → dict/list,
    anything else → BytesIO; nothing is ever unpickled).

    The bucket name is checked against S3's naming rules before any request is made.
    """
    if not bucket_name:
        raise ValidationError(
            "get_s3_asset needs a bucket: create the store with StoreInterface(..., bucket_name='my-bucket')"
        )
    check_bucket_name(bucket_name, path if isinstance(path, str) else None)
    if not isinstance(path, str) or not path:
        raise ValidationError(f"get_s3_asset needs an object path, got {path!r}")
    client = _client(profile_name, get_settings().s3_endpoint_url)
    data = object_store.read_object(client, bucket_name, path)
    return object_store.decode_object(data, path)


def list_fixture_data(prefix: str | None = None) -> list[str]:
    """Keys ``fixture/<prefix>...`` in the deployment's metadata bucket (or ``$FLOWDECK_HOME/fixture``), sorted."""
    settings = get_settings()
    client = _client(None, settings.s3_endpoint_url) if settings.metadata_bucket else None
    return object_store.list_fixture_keys(
        prefix,
        metadata_bucket=settings.metadata_bucket,
        home=settings.home,
        client=client,
        endpoint_url=settings.s3_endpoint_url,
    )
