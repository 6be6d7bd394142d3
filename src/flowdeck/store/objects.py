"""Object storage for flow writers: reading the organisation's buckets and the deployment's fixtures."""

from __future__ import annotations

import functools
from typing import Any

from flowdeck.config import get_settings
from flowdeck.errors import ValidationError
from flowdeck.storage import object_store
from flowdeck.storage.s3 import s3_client

__all__ = ["get_s3_asset", "list_fixture_data"]


@functools.lru_cache(maxsize=16)
def _client(profile_name: str | None, endpoint_url: str | None) -> Any:
    # boto3 clients are slow to build and thread-safe: keep one per profile and endpoint.
    return s3_client(profile_name=profile_name, endpoint_url=endpoint_url)


def get_s3_asset(bucket_name: str | None, profile_name: str | None, path: str) -> Any:
    """Read ``path`` from ``bucket_name`` and decode it by extension (tables → DataFrame, json → dict/list,
    anything else → BytesIO; nothing is ever unpickled)."""
    if not bucket_name:
        raise ValidationError(
            "get_s3_asset needs a bucket: create the store with StoreInterface(..., bucket_name='my-bucket')"
        )
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
