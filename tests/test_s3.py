"""S3 in one place: one client factory for every S3 user, one mapping of botocore errors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import flowdeck
from flowdeck.errors import AccessError, ConfigurationError, NotFoundError
from flowdeck.storage.object_store import boto3_client_from_connection, read_object
from flowdeck.storage.s3 import s3_client, s3_error, shared_s3_client
from flowdeck.storage.s3_blobs import S3Backend

SRC = Path(flowdeck.__file__).resolve().parent


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "from the server"}}, "GetObject")


def test_only_the_factory_builds_s3_clients() -> None:
    builders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("client", "resource")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == "s3"
            ):
                builders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert builders and all(b.startswith("storage/s3.py:") for b in builders), builders


def test_every_s3_user_gets_the_factory_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env")
    endpoint = "http://127.0.0.1:9"
    clients = {
        "blob backend": S3Backend("s3://bucket/prefix", endpoint_url=endpoint).client,
        "object storage": s3_client(endpoint_url=endpoint),
        "stored connection": boto3_client_from_connection({"endpoint": endpoint, "username": "a", "secret": "b"}),
    }
    for who, client in clients.items():
        config = client.meta.config
        assert config.retries["mode"] == "standard", who
        assert config.s3 == {"addressing_style": "path"}, who
        assert client.meta.endpoint_url == endpoint, who
    # The blob store verifies every blob itself; its client leaves response checksums to it.
    assert clients["blob backend"].meta.config.response_checksum_validation == "when_required"
    assert clients["object storage"].meta.config.response_checksum_validation == "when_supported"
    # One blob client per process and endpoint, shared by every backend.
    assert S3Backend("s3://other/x", endpoint_url=endpoint).client is clients["blob backend"]
    assert shared_s3_client(endpoint) is shared_s3_client(endpoint)


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        ("NoSuchBucket", NotFoundError, r"^S3 bucket 'bkt' does not exist \(reading 'a\.csv'\); check the bucket"),
        ("NoSuchKey", NotFoundError, r"^S3 object 'a\.csv' does not exist in bucket 'bkt'$"),
        ("404", NotFoundError, r"^S3 object 'a\.csv' does not exist in bucket 'bkt'$"),
        ("AccessDenied", AccessError, r"^S3 refused the credentials for bucket 'bkt' \(AccessDenied\) reading"),
        ("ExpiredToken", AccessError, r"\(ExpiredToken\) reading object 'a\.csv'; check the AWS profile or keys"),
    ],
)
def test_errors_are_mapped_in_one_place(code: str, error: type, message: str) -> None:
    mapped = s3_error(_client_error(code), "reading", bucket="bkt", key="a.csv")
    assert type(mapped) is error
    with pytest.raises(error, match=message):
        raise mapped


def test_a_missing_blob_store_bucket_is_a_configuration_error() -> None:
    mapped = s3_error(
        _client_error("NoSuchBucket"),
        "writing",
        bucket="b",
        what="blob",
        key="k",
        bucket_label="S3 bucket 'b' of blob store s3://b/p",
        bucket_fix="create it or point FLOWDECK_BLOB_URL at an existing bucket",
        missing_bucket=ConfigurationError,
    )
    assert isinstance(mapped, ConfigurationError)
    assert str(mapped) == (
        "S3 bucket 'b' of blob store s3://b/p does not exist (writing 'k'); "
        "create it or point FLOWDECK_BLOB_URL at an existing bucket"
    )


def test_other_failures_pass_through_unchanged() -> None:
    throttled = _client_error("SlowDown")
    assert s3_error(throttled, "reading", bucket="bkt", key="a.csv") is throttled
    dropped = ConnectionError("network dropped")
    assert s3_error(dropped, "reading", bucket="bkt") is dropped
    missing = _client_error("NoSuchKey")
    assert s3_error(missing, "reading", bucket="bkt", key="k", map_missing_key=False) is missing


def test_no_credentials_at_all_is_an_access_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = s3_client(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(
        AccessError,
        match=r"^no AWS credentials found for bucket 'bkt' \(reading object 'a\.csv'\); configure a profile or "
        r"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY$",
    ):
        read_object(client, "bkt", "a.csv")
