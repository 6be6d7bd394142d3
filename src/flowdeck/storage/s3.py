"""S3 in one place: the one factory of boto3 S3 clients and the one mapping of botocore errors.

Every S3 client of flowdeck comes from :func:`s3_client` (or its per-process cache,
:func:`shared_s3_client`): the blob backend, object storage (``get_s3_asset``,
``list_fixture_data``) and clients made from stored ``s3`` connections. They share one
configuration: standard retries, path-style addressing on S3-compatible servers (MinIO, moto,
Ceph), and a connection pool sized by the caller.

Every botocore failure that means something to a user goes through :func:`s3_error`: a missing
bucket, a missing object, refused or absent credentials each become the matching flowdeck error
with a message naming the bucket, the object and the fix. Anything else (a dropped connection, a
throttled request after the retries) is raised as it is.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError

from flowdeck.errors import AccessError, FlowdeckError, NotFoundError

__all__ = [
    "CREDENTIAL_CODES",
    "MISSING_KEY_CODES",
    "error_code",
    "is_missing_key",
    "mapped_s3_errors",
    "s3_client",
    "s3_error",
    "shared_s3_client",
]

CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "403",
    }
)
"""Error codes meaning the credentials were refused."""
MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
"""Error codes meaning the object does not exist."""


# --------------------------------------------------------------------------- clients


def s3_client(
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    profile_name: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    max_pool_connections: int = 16,
    verify_response_checksums: bool = True,
) -> Any:
    """A new boto3 S3 client.

    Credentials: the keys when given, else AWS profile ``profile_name`` when the AWS config has it,
    else the default credential chain (environment, instance role, ...); a ``profile_name`` missing
    from the AWS config gives a warning naming it. ``endpoint_url`` points at an S3-compatible
    server (addressed by path). ``verify_response_checksums=False`` leaves response checksums to
    the caller (the blob store verifies every blob itself), which also lets boto3's transfer manager
    start a download with its first ranged GET instead of a HEAD.
    """
    session: boto3.session.Session
    if aws_access_key_id:
        session = boto3.session.Session(
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            region_name=region_name,
        )
    elif profile_name and profile_name in boto3.session.Session().available_profiles:
        session = boto3.session.Session(profile_name=profile_name)
    else:
        if profile_name:
            warnings.warn(
                f"AWS profile {profile_name!r} is not in the AWS config; using the default credential "
                "chain instead (pass profile_name= of an existing profile, or None, to silence this)",
                UserWarning,
                stacklevel=2,
            )
        # A Session per client: the default session is not safe to build clients from in threads.
        session = boto3.session.Session()
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        # S3-compatible servers (MinIO, moto, Ceph) are addressed by path, not by bucket host.
        s3={"addressing_style": "path"} if endpoint_url else None,
        response_checksum_validation="when_supported" if verify_response_checksums else "when_required",
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name or session.region_name or "us-east-1",
        config=config,
    )


_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def shared_s3_client(
    endpoint_url: str | None = None,
    *,
    region_name: str | None = None,
    profile_name: str | None = None,
    max_pool_connections: int = 16,
    verify_response_checksums: bool = True,
) -> Any:
    """A process-wide :func:`s3_client` for these arguments, built once.

    boto3 clients are thread-safe and slow to build, so one is shared by every user of the process;
    a forked child builds its own (the sockets of a pool must not be shared across processes).
    """
    cache_key = (os.getpid(), endpoint_url, region_name, profile_name, max_pool_connections, verify_response_checksums)
    client = _clients.get(cache_key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            client = s3_client(
                endpoint_url=endpoint_url,
                region_name=region_name,
                profile_name=profile_name,
                max_pool_connections=max_pool_connections,
                verify_response_checksums=verify_response_checksums,
            )
            _clients[cache_key] = client
        return client


# --------------------------------------------------------------------------- errors


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` ('' for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_missing_key(exc: BaseException) -> bool:
    """Whether ``exc`` says that the object does not exist."""
    return error_code(exc) in MISSING_KEY_CODES


def s3_error(
    exc: BaseException,
    action: str,
    *,
    bucket: str,
    what: str = "object",
    key: str | None = None,
    bucket_label: str | None = None,
    bucket_fix: str = "check the bucket name",
    missing_bucket: type[FlowdeckError] = NotFoundError,
    map_missing_key: bool = True,
) -> BaseException:
    """The flowdeck error for a failed S3 call, or ``exc`` itself when it means nothing more specific.

    ``action`` says what was being done ("reading", "writing", "listing"), ``what`` and ``key`` to
    what (``object 'a/b.csv'``), ``bucket_label`` how to name the bucket (default
    ``S3 bucket '<bucket>'``) and ``bucket_fix`` what to do when it does not exist, which raises
    ``missing_bucket``. A missing object is a ``NotFoundError`` unless ``map_missing_key`` is False
    (for callers that turn it into something else, like the blob store's ``FileNotFoundError``).
    """
    label = bucket_label or f"S3 bucket {bucket!r}"
    doing = f"{action} {what} {key!r}" if key is not None else f"{action} {what}"
    if isinstance(exc, NoCredentialsError):
        return AccessError(
            f"no AWS credentials found for bucket {bucket!r} ({doing}); configure a profile or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    code = error_code(exc)
    if code == "NoSuchBucket":
        return missing_bucket(f"{label} does not exist ({action} {key!r}); {bucket_fix}")
    if code in MISSING_KEY_CODES and map_missing_key:
        return NotFoundError(f"S3 {what} {key!r} does not exist in bucket {bucket!r}")
    if code in CREDENTIAL_CODES:
        return AccessError(
            f"S3 refused the credentials for bucket {bucket!r} ({code}) {doing}; check the AWS profile or "
            "keys of this process and their permissions on the bucket"
        )
    return exc


@contextlib.contextmanager
def mapped_s3_errors(action: str, *, bucket: str, **options: Any) -> Iterator[None]:
    """Run the block, raising what :func:`s3_error` makes of a botocore failure (chained to it)."""
    try:
        yield
    except (ClientError, NoCredentialsError) as exc:
        mapped = s3_error(exc, action, bucket=bucket, **options)
        if mapped is exc:
            raise
        raise mapped from exc
