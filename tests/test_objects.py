"""StoreInterface object storage: get_s3_asset and list_fixture_data on the S3 server and on local disk."""

from __future__ import annotations

import io
import json
import uuid

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from flowdeck import StoreInterface
from flowdeck.errors import AccessError, NotFoundError, ValidationError


@pytest.fixture
def s3_store(embedded, s3_server):
    """A store of a run on the embedded default whose S3 reads go to the loopback server."""
    flowdeck.configure(home=str(embedded), s3_endpoint_url=s3_server.endpoint_url)
    bucket = s3_server.create_bucket(f"org-{uuid.uuid4().hex[:10]}")
    client = s3_server.client()
    frame = pd.DataFrame({"region": ["north", "south"], "sales": [10, 20]})
    client.put_object(Bucket=bucket, Key="data/sales.csv", Body=frame.to_csv(index=False).encode())
    client.put_object(Bucket=bucket, Key="data/sales.parquet", Body=frame.to_parquet(index=False))
    client.put_object(Bucket=bucket, Key="config/settings.json", Body=json.dumps({"a": [1, 2]}).encode())
    client.put_object(Bucket=bucket, Key="models/model.pkl", Body=b"\x80\x04not really a pickle")
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    from flowdeck.store import objects

    objects._client.cache_clear()  # the client (and its warning) is made once per process
    with pytest.warns(UserWarning, match="profile 'govcloud'"):
        store = StoreInterface(run.flow_id, user="alice", bucket_name=bucket)
        store.get_s3_asset("config/settings.json")
    return store, frame, bucket


def test_get_s3_asset_decodes_by_extension(s3_store):
    store, frame, _ = s3_store
    assert_frame_equal(store.get_s3_asset("data/sales.csv"), frame, check_dtype=False)
    assert_frame_equal(store.get_s3_asset("data/sales.parquet"), frame)
    assert store.get_s3_asset("config/settings.json") == {"a": [1, 2]}
    blob = store.get_s3_asset("models/model.pkl")
    assert isinstance(blob, io.BytesIO) and blob.read() == b"\x80\x04not really a pickle"


def test_get_s3_asset_errors_are_clear_and_distinct(s3_store):
    store, _, bucket = s3_store
    with pytest.raises(NotFoundError, match=rf"no object 'data/missing.csv' in bucket '{bucket}'|'data/missing.csv'"):
        store.get_s3_asset("data/missing.csv")
    store.bucket_name = "no-such-bucket-" + uuid.uuid4().hex[:6]
    with pytest.raises(NotFoundError, match="bucket 'no-such-bucket-"):
        store.get_s3_asset("data/sales.csv")
    store.bucket_name = bucket
    with pytest.raises(ValidationError, match=r"\.\."):
        store.get_s3_asset("data/../secrets.csv")
    store.bucket_name = None
    with pytest.raises(ValidationError, match="bucket_name="):
        store.get_s3_asset("data/sales.csv")


def test_get_s3_asset_with_refused_credentials(embedded, s3_auth_server):
    flowdeck.configure(home=str(embedded), s3_endpoint_url=s3_auth_server)
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", bucket_name="any-bucket", profile_name=None)
    with pytest.raises(AccessError, match="any-bucket"):
        store.get_s3_asset("data/sales.csv")


def test_list_fixture_data_on_the_embedded_default(embedded):
    root = embedded / "fixture"
    (root / "sales").mkdir(parents=True)
    (root / "sales" / "2024.csv").write_text("a\n1\n")
    (root / "sales" / "2023.csv").write_text("a\n1\n")
    (root / "other.txt").write_text("x")
    assert StoreInterface.list_fixture_data() == [
        "fixture/other.txt",
        "fixture/sales/2023.csv",
        "fixture/sales/2024.csv",
    ]
    assert StoreInterface.list_fixture_data("sales") == ["fixture/sales/2023.csv", "fixture/sales/2024.csv"]
    with pytest.raises(ValidationError, match=r"\.\."):
        StoreInterface.list_fixture_data("../secrets")


def test_list_fixture_data_in_the_metadata_bucket(embedded, s3_server):
    bucket = s3_server.create_bucket(f"meta-{uuid.uuid4().hex[:10]}")
    client = s3_server.client()
    for key in ("fixture/b/2.csv", "fixture/b/1.csv", "fixture/a.json", "elsewhere/x.csv"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    flowdeck.configure(home=str(embedded), s3_endpoint_url=s3_server.endpoint_url, metadata_bucket=f"s3://{bucket}")
    assert StoreInterface.list_fixture_data() == ["fixture/a.json", "fixture/b/1.csv", "fixture/b/2.csv"]
    assert StoreInterface.list_fixture_data("b/") == ["fixture/b/1.csv", "fixture/b/2.csv"]
