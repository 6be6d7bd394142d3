"""Reading the organisation's own S3 objects, decoding them by extension, and listing fixture data."""

from __future__ import annotations

import io
import json
import pickle
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from pandas.testing import assert_frame_equal

from flowdeck.errors import AccessError, NotFoundError, ValidationError
from flowdeck.storage.object_store import (
    boto3_client_from_connection,
    decode_object,
    list_fixture_keys,
    read_object,
)
from flowdeck.storage.s3 import s3_client

# conftest.py provides ``s3_server``; the server that checks credentials is requested by name.
from s3_server import s3_auth_server  # noqa: F401
from test_arrow_ipc import feather_claiming
from test_upload_limits import parquet_dictionary_bomb

if TYPE_CHECKING:
    from s3_server import S3Server


FRAME = pd.DataFrame({"id": [1, 2, 3], "name": ["ann", "bob", "cy"], "score": [0.5, 1.25, -2.0]})

UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    UNPICKLED.append("loaded")
    return "loaded"


class Booby:
    """Unpickling this object calls ``_record_unpickling``."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_record_unpickling, ())


def encoded(ext: str) -> bytes:
    """``FRAME`` (or a JSON/binary value) as the bytes of a ``.ext`` file."""
    buf = io.BytesIO()
    if ext == "csv":
        FRAME.to_csv(buf, index=False)
    elif ext == "tsv":
        FRAME.to_csv(buf, index=False, sep="\t")
    elif ext == "parquet":
        FRAME.to_parquet(buf)
    elif ext == "feather":
        FRAME.to_feather(buf)
    elif ext == "xlsx":
        FRAME.to_excel(buf, index=False)
    else:
        raise AssertionError(ext)
    return buf.getvalue()


# --------------------------------------------------------------------------- decoding (no server)


@pytest.mark.parametrize("ext", ["csv", "tsv", "parquet", "feather", "xlsx"])
def test_tables_decode_to_frames(ext: str) -> None:
    frame = decode_object(encoded(ext), f"data/table.{ext}")
    assert isinstance(frame, pd.DataFrame)
    assert_frame_equal(frame, FRAME, check_dtype=False)
    assert frame["id"].tolist() == [1, 2, 3]


def test_extension_is_matched_case_insensitively() -> None:
    assert_frame_equal(decode_object(encoded("csv"), "DATA.CSV"), FRAME, check_dtype=False)


@pytest.mark.parametrize("value", [{"a": 1, "b": [1, 2]}, [1, "two", {"three": 3}]])
def test_json_decodes_to_dict_or_list(value: Any) -> None:
    assert decode_object(json.dumps(value).encode(), "config/value.json") == value


def test_pickle_is_returned_as_bytes_and_never_loaded() -> None:
    data = pickle.dumps(Booby())
    UNPICKLED.clear()
    result = decode_object(data, "models/model.pkl")
    assert isinstance(result, io.BytesIO)
    assert result.getvalue() == data
    assert UNPICKLED == []
    # The sentinel does fire when unpickled, so the assertion above can fail.
    pickle.loads(data)
    assert UNPICKLED == ["loaded"]


@pytest.mark.parametrize("path", ["blob.bin", "no_extension", "archive.tar.gz"])
def test_other_types_are_bytesio(path: str) -> None:
    result = decode_object(b"\x00\x01raw", path)
    assert isinstance(result, io.BytesIO)
    assert result.read() == b"\x00\x01raw"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("bad.parquet", r"'bad\.parquet' is not a Parquet file"),
        ("bad.feather", r"'bad\.feather' is not a valid feather file"),
        ("bad.json", r"bad\.json is not valid JSON"),
        ("bad.xlsx", r"bad\.xlsx"),
    ],
)
def test_undecodable_objects_name_the_file(path: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        decode_object(b"\x00 definitely not that format {", path)


def test_a_parquet_bomb_in_a_bucket_is_refused_before_it_is_decoded() -> None:
    # A few hundred bytes standing for 3 GB of text: refused from its declared sizes, as an upload is.
    with pytest.raises(ValidationError, match=r"'bomb\.parquet' would decode to more than 3,145,728,000 bytes"):
        decode_object(parquet_dictionary_bomb(), "drop/bomb.parquet")


def test_a_feather_bomb_in_a_bucket_is_refused_before_it_is_decompressed() -> None:
    # One compressed buffer whose length prefix claims a terabyte: refused from the metadata, before
    # pyarrow would allocate that much to decompress it.
    with pytest.raises(ValidationError, match=r"'bomb\.feather' declares column data of 1,099,511,62\d,\d{3} bytes"):
        decode_object(feather_claiming(1024**4), "drop/bomb.feather")


def test_json_nested_past_the_interpreters_stack_is_a_validation_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ValidationError, match=r"deep\.json nests lists or objects too deeply to decode"):
        decode_object(deep, "drop/deep.json")


# --------------------------------------------------------------------------- read_object errors (no server)


def test_read_without_bucket_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match=r"get_s3_asset needs a bucket: create StoreInterface\(\.\.\., bucket"):
        read_object(object(), None, "a.csv")


@pytest.mark.parametrize("path", ["../secret.csv", "data/../../x.csv", "a/..", "..\\x.csv"])
def test_dotdot_paths_are_refused(path: str) -> None:
    with pytest.raises(ValidationError, match=r"contains '\.\.'"):
        read_object(object(), "bucket", path)


def _stubbed_error(code: str, status: int) -> Any:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    stubber.activate()
    return client


@pytest.mark.parametrize(
    ("code", "status", "error", "message"),
    [
        ("NoSuchBucket", 404, NotFoundError, r"S3 bucket 'bkt' does not exist \(reading 'dir/a\.csv'\)"),
        ("NoSuchKey", 404, NotFoundError, r"S3 object 'dir/a\.csv' does not exist in bucket 'bkt'"),
        ("InvalidAccessKeyId", 403, AccessError, r"S3 refused the credentials for bucket 'bkt'"),
        ("SignatureDoesNotMatch", 403, AccessError, r"refused the credentials .*SignatureDoesNotMatch"),
        ("AccessDenied", 403, AccessError, r"refused the credentials for bucket 'bkt' \(AccessDenied\)"),
    ],
)
def test_client_error_codes_map_to_distinct_errors(code: str, status: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        read_object(_stubbed_error(code, status), "bkt", "dir/a.csv")


# --------------------------------------------------------------------------- on the S3 server


@pytest.fixture
def bucket_with_objects(s3_server: S3Server) -> str:
    bucket = s3_server.create_bucket()
    client = s3_server.client()
    for ext in ["csv", "tsv", "parquet", "feather", "xlsx"]:
        client.put_object(Bucket=bucket, Key=f"assets/table.{ext}", Body=encoded(ext))
    client.put_object(Bucket=bucket, Key="assets/dict.json", Body=b'{"k": [1, 2]}')
    client.put_object(Bucket=bucket, Key="assets/list.json", Body=b'[{"k": 1}, 2]')
    client.put_object(Bucket=bucket, Key="assets/model.pkl", Body=pickle.dumps(Booby()))
    client.put_object(Bucket=bucket, Key="assets/blob.bin", Body=b"\x00\xff")
    return bucket


@pytest.mark.s3
def test_every_extension_reads_and_decodes(s3_server: S3Server, bucket_with_objects: str) -> None:
    client = s3_server.client()

    def get(path: str) -> Any:
        return decode_object(read_object(client, bucket_with_objects, path), path)

    for ext in ["csv", "tsv", "parquet", "feather", "xlsx"]:
        assert_frame_equal(get(f"assets/table.{ext}"), FRAME, check_dtype=False)
    assert get("assets/dict.json") == {"k": [1, 2]}
    assert get("assets/list.json") == [{"k": 1}, 2]
    UNPICKLED.clear()
    model = get("/assets/model.pkl")  # a leading slash is the same key
    assert isinstance(model, io.BytesIO) and model.getvalue() == pickle.dumps(Booby())
    assert UNPICKLED == []
    assert get("assets/blob.bin").getvalue() == b"\x00\xff"


@pytest.mark.s3
def test_server_errors_are_clear_and_distinct(
    s3_server: S3Server, bucket_with_objects: str, request: pytest.FixtureRequest
) -> None:
    auth_endpoint: str = request.getfixturevalue("s3_auth_server")
    client = s3_server.client()
    raised: list[BaseException] = []
    cases = [
        (
            client,
            "no-such-flowdeck-bucket",
            "assets/table.csv",
            NotFoundError,
            "S3 bucket 'no-such-flowdeck-bucket'",
        ),
        (
            client,
            bucket_with_objects,
            "assets/missing.csv",
            NotFoundError,
            f"'assets/missing.csv' does not exist in bucket '{bucket_with_objects}'",
        ),
        (client, bucket_with_objects, "assets/../secret.csv", ValidationError, "contains '..'"),
        (client, None, "assets/table.csv", ValidationError, "needs a bucket"),
    ]
    bad_client = boto3.client(
        "s3",
        endpoint_url=auth_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAWRONGWRONGWRONG0",
        aws_secret_access_key="wrong",
    )
    cases.append(
        (
            bad_client,
            "any-bucket",
            "assets/table.csv",
            AccessError,
            "refused the credentials for bucket 'any-bucket'",
        )
    )
    for cli, bucket, path, error, text in cases:
        with pytest.raises(error) as info:
            read_object(cli, bucket, path)
        assert text in str(info.value)
        raised.append(info.value)
    messages = [str(e) for e in raised]
    assert len(set(messages)) == len(messages)


# --------------------------------------------------------------------------- fixture listing


@pytest.fixture
def fixture_home(tmp_path: Path) -> Path:
    root = tmp_path / "fixture"
    for rel in ["sales/2024-01.csv", "sales/2024-02.csv", "sales/old/2019.csv", "zeta.json", "a.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (tmp_path / "outside.csv").write_text("not fixture data")
    return tmp_path


def test_local_fixture_listing_is_sorted_full_keys(fixture_home: Path) -> None:
    assert list_fixture_keys(None, metadata_bucket=None, home=fixture_home) == [
        "fixture/a.txt",
        "fixture/sales/2024-01.csv",
        "fixture/sales/2024-02.csv",
        "fixture/sales/old/2019.csv",
        "fixture/zeta.json",
    ]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("sales/2024", ["fixture/sales/2024-01.csv", "fixture/sales/2024-02.csv"]),
        ("sales/old/", ["fixture/sales/old/2019.csv"]),
        ("z", ["fixture/zeta.json"]),
        ("nothing", []),
    ],
)
def test_local_fixture_listing_by_prefix(fixture_home: Path, prefix: str, expected: list[str]) -> None:
    assert list_fixture_keys(prefix, metadata_bucket=None, home=fixture_home) == expected


def test_local_fixture_listing_without_fixture_folder_is_empty(tmp_path: Path) -> None:
    assert list_fixture_keys(None, metadata_bucket=None, home=tmp_path) == []


def test_symlinks_out_of_the_fixture_root_are_not_listed(fixture_home: Path) -> None:
    (fixture_home / "fixture" / "escape.csv").symlink_to(fixture_home / "outside.csv")
    assert "fixture/escape.csv" not in list_fixture_keys(None, metadata_bucket=None, home=fixture_home)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("../", r"'\.\./' contains '\.\.'; it cannot leave the fixture root"),
        ("sales/../../etc", r"contains '\.\.'"),
        ("/etc/passwd", r"'/etc/passwd' is absolute"),
    ],
)
def test_fixture_prefix_cannot_escape_the_root(fixture_home: Path, prefix: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        list_fixture_keys(prefix, metadata_bucket=None, home=fixture_home)
    with pytest.raises(ValidationError, match=message):
        list_fixture_keys(prefix, metadata_bucket="s3://bucket", home=fixture_home, client=object())


@pytest.mark.s3
def test_fixture_listing_in_the_metadata_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.create_bucket()
    client = s3_server.client()
    for key in ["fixture/sales/b.csv", "fixture/sales/a.csv", "fixture/top.json", "other/sales.csv"]:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    # A thousand more keys prove the listing follows pagination.
    for i in range(1005):
        client.put_object(Bucket=bucket, Key=f"fixture/many/{i:04d}", Body=b"")
    everything = list_fixture_keys(None, metadata_bucket=f"s3://{bucket}", home=tmp_path, client=client)
    assert len(everything) == 1008
    assert everything == sorted(everything)
    assert everything[-3:] == ["fixture/sales/a.csv", "fixture/sales/b.csv", "fixture/top.json"]
    assert list_fixture_keys("sales", metadata_bucket=bucket, home=tmp_path, client=client) == [
        "fixture/sales/a.csv",
        "fixture/sales/b.csv",
    ]
    # Without a client one is made for the endpoint.
    assert list_fixture_keys("top", metadata_bucket=bucket, home=tmp_path, endpoint_url=s3_server.endpoint_url) == [
        "fixture/top.json"
    ]


@pytest.mark.s3
def test_fixture_listing_in_a_missing_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="metadata bucket 'no-such-flowdeck-bucket' does not exist"):
        list_fixture_keys(
            None, metadata_bucket="s3://no-such-flowdeck-bucket", home=tmp_path, client=s3_server.client()
        )


# --------------------------------------------------------------------------- clients


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "aws_config"
    config.write_text("[profile govcloud]\nregion = us-gov-west-1\n")
    credentials = tmp_path / "aws_credentials"
    credentials.write_text("[govcloud]\naws_access_key_id = AKIAGOV\naws_secret_access_key = gov\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return config


def test_existing_profile_is_used_without_warning(aws_config: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = s3_client(profile_name="govcloud")
    assert client.meta.region_name == "us-gov-west-1"
    assert client._request_signer._credentials.access_key == "AKIAGOV"


def test_missing_profile_falls_back_to_default_chain_with_warning(
    aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env")
    with pytest.warns(UserWarning, match=r"AWS profile 'nope' is not in the AWS config; using the default"):
        client = s3_client(profile_name="nope", endpoint_url="http://127.0.0.1:9")
    assert client.meta.region_name == "eu-west-2"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client._request_signer._credentials.access_key == "AKIAENV"


def test_connection_fields_make_a_client(aws_config: Path) -> None:
    client = boto3_client_from_connection(
        {
            "host": "127.0.0.1",
            "port": 9000,
            "username": "AKIA1",
            "secret": "s",
            "params": {"region": "eu-central-1"},
        }
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert client.meta.region_name == "eu-central-1"
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("AKIA1", "s")

    by_profile = boto3_client_from_connection({"host": None, "params": {"profile": "govcloud"}})
    assert by_profile.meta.region_name == "us-gov-west-1"
    assert by_profile.meta.endpoint_url.startswith("https://")

    remote = boto3_client_from_connection({"host": "minio.example.org", "username": "a", "secret": "b"})
    assert remote.meta.endpoint_url == "https://minio.example.org"


def test_connection_without_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="S3 connection for access key 'AKIA1' has no secret access key"):
        boto3_client_from_connection({"username": "AKIA1"})


@pytest.mark.s3
def test_connection_client_reads_from_the_server(s3_server: S3Server, bucket_with_objects: str) -> None:
    client = boto3_client_from_connection({"endpoint": s3_server.endpoint_url, "username": "AKIA1", "secret": "s"})
    assert decode_object(read_object(client, bucket_with_objects, "assets/dict.json"), "dict.json") == {"k": [1, 2]}
