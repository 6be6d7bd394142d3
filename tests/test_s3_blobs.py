"""The S3 blob backend on a loopback S3 server, and its local read cache."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from flowdeck.errors import AccessError, ConfigurationError, IntegrityError, ValidationError
from flowdeck.storage.blobs import BlobBackend, BlobStore
from flowdeck.storage.codecs import Codecs
from flowdeck.storage.s3_blobs import LocalReadCache, S3Backend

# conftest.py provides ``s3_server``; the server that checks credentials is requested by name.
from s3_server import s3_auth_server  # noqa: F401

if TYPE_CHECKING:
    from s3_server import S3Server


MiB = 1024**2
KEY_A = "a1b2" + "0" * 60
KEY_B = "b2c3" + "1" * 60
KEY_C = "c3d4" + "2" * 60


def random_bytes(size: int, seed: int) -> bytes:
    """Reproducible random bytes (a misplaced range would not go unnoticed)."""
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket()


@pytest.fixture
def backend(s3_server: S3Server, bucket: str, tmp_path: Path) -> S3Backend:
    return S3Backend(
        f"s3://{bucket}/blobs",
        endpoint_url=s3_server.endpoint_url,
        cache_dir=tmp_path / "cache",
        cache_size=64 * MiB,
        multipart_threshold=8 * MiB,
        part_size=5 * MiB,
    )


class FailingClient:
    """A boto3 client whose chosen operation fails on its n-th call; everything else passes through."""

    def __init__(self, client: Any, operation: str, fail_on: int = 1, before: Any = None) -> None:
        self._client = client
        self._operation = operation
        self._fail_on = fail_on
        self._calls = 0
        self._before = before

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name != self._operation:
            return attr

        def wrapped(**kwargs: Any) -> Any:
            self._calls += 1
            if self._before is not None:
                self._before(kwargs)
            if self._calls == self._fail_on:
                raise ConnectionError(f"network dropped during {name}")
            return attr(**kwargs)

        return wrapped


# --------------------------------------------------------------------------- backend on the server


@pytest.mark.s3
def test_backend_satisfies_protocol(backend: S3Backend) -> None:
    assert isinstance(backend, BlobBackend)
    assert backend.url.startswith("s3://")


@pytest.mark.s3
def test_round_trip_small_and_multi_part_values(backend: S3Backend) -> None:
    backend.write(KEY_A, [b"hello ", bytearray(b"wide "), memoryview(b"world")])
    backend.write(KEY_B, [b""])
    assert bytes(backend.read(KEY_A)) == b"hello wide world"
    assert bytes(backend.read(KEY_B)) == b""


@pytest.mark.s3
def test_objects_are_sharded_under_the_prefix(backend: S3Backend, s3_server: S3Server, bucket: str) -> None:
    backend.write(KEY_A, [b"x"])
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"blobs/a1/b2/{KEY_A}"]


@pytest.mark.s3
def test_exists_delete_and_iter_keys(backend: S3Backend, s3_server: S3Server, bucket: str) -> None:
    assert not backend.exists(KEY_A)
    before = time.time()
    backend.write(KEY_A, [b"one"])
    backend.write(KEY_B, [b"two"])
    # Objects in the prefix that are not laid out as blobs are not reported.
    s3_server.client().put_object(Bucket=bucket, Key="blobs/README", Body=b"not a blob")
    assert backend.exists(KEY_A)
    keys = dict(backend.iter_keys())
    assert set(keys) == {KEY_A, KEY_B}
    assert all(before - 5 <= mtime <= time.time() + 5 for mtime in keys.values())
    backend.delete(KEY_A)
    backend.delete(KEY_C)  # absent: no error
    assert not backend.exists(KEY_A)
    assert [k for k, _ in backend.iter_keys()] == [KEY_B]
    with pytest.raises(FileNotFoundError, match=KEY_A):
        backend.read(KEY_A)


@pytest.mark.s3
def test_missing_key_raises_file_not_found(backend: S3Backend) -> None:
    with pytest.raises(FileNotFoundError, match=rf"blob {KEY_C} is not in s3://"):
        backend.read(KEY_C)


@pytest.mark.s3
def test_large_value_uses_multipart_and_parallel_ranged_reads(
    backend: S3Backend, s3_server: S3Server, bucket: str
) -> None:
    data = random_bytes(20 * MiB + 123, seed=1)
    half = len(data) // 2
    mark = s3_server.mark()
    backend.write(KEY_A, [data[:half], memoryview(data)[half:]])
    uploads = s3_server.uploads(mark, bucket=bucket)
    assert sum("partNumber" in r.query for r in uploads) == 5  # ceil(20 MiB / 5 MiB)
    assert backend.stats.multipart_uploads == 1

    backend.cache.clear()
    mark = s3_server.mark()
    assert bytes(backend.read(KEY_A)) == data
    gets = [r for r in s3_server.requests_since(mark, bucket=bucket) if r.method == "GET"]
    # One GET that finds the blob large, then the transfer manager's 5 ranged GETs.
    assert len(gets) == 6


@pytest.mark.s3
def test_value_at_threshold_size_round_trips(backend: S3Backend) -> None:
    data = random_bytes(8 * MiB, seed=2)
    backend.write(KEY_B, [data])
    backend.cache.clear()
    assert bytes(backend.read(KEY_B)) == data
    assert backend.stats.multipart_uploads == 1


@pytest.mark.s3
def test_failed_multipart_leaves_no_object_and_no_pending_upload(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    real = s3_server.client()
    flaky = S3Backend(
        f"s3://{bucket}/blobs",
        endpoint_url=s3_server.endpoint_url,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        max_concurrency=1,
        client=FailingClient(real, "upload_part", fail_on=3),
    )
    with pytest.raises(ConnectionError, match="network dropped"):
        flaky.write(KEY_A, [random_bytes(16 * MiB, seed=3)])
    assert not flaky.exists(KEY_A)
    assert real.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert real.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.s3
def test_multipart_object_is_invisible_until_complete(s3_server: S3Server, bucket: str) -> None:
    real = s3_server.client()
    seen: list[bool] = []
    probe = S3Backend(f"s3://{bucket}/p", endpoint_url=s3_server.endpoint_url)

    def look(_kwargs: dict[str, Any]) -> None:
        seen.append(probe.exists(KEY_B))

    backend = S3Backend(
        f"s3://{bucket}/p",
        endpoint_url=s3_server.endpoint_url,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        client=FailingClient(real, "complete_multipart_upload", fail_on=0, before=look),
    )
    backend.write(KEY_B, [random_bytes(11 * MiB, seed=4)])
    assert seen == [False]
    assert probe.exists(KEY_B)


@pytest.mark.s3
def test_missing_bucket_is_a_configuration_error(s3_server: S3Server, tmp_path: Path) -> None:
    backend = S3Backend("s3://no-such-flowdeck-bucket/x", endpoint_url=s3_server.endpoint_url)
    message = r"S3 bucket 'no-such-flowdeck-bucket' of blob store s3://no-such-flowdeck-bucket/x does not exist"
    with pytest.raises(ConfigurationError, match=message):
        backend.write(KEY_A, [b"x"])
    with pytest.raises(ConfigurationError, match=message):
        backend.read(KEY_A)
    with pytest.raises(ConfigurationError, match=message):
        list(backend.iter_keys())
    assert not backend.exists(KEY_A)


@pytest.mark.s3
def test_refused_credentials_are_an_access_error(request: pytest.FixtureRequest) -> None:
    auth_endpoint: str = request.getfixturevalue("s3_auth_server")
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=auth_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAWRONGWRONGWRONG0",
        aws_secret_access_key="wrong",
    )
    backend = S3Backend("s3://some-bucket/x", client=client)
    with pytest.raises(
        AccessError,
        match=r"S3 refused the credentials for bucket 'some-bucket' \(InvalidAccessKeyId\) writing blob '" + KEY_A,
    ):
        backend.write(KEY_A, [b"x"])


# --------------------------------------------------------------------------- read cache on the server


@pytest.mark.s3
def test_cached_blob_is_not_downloaded_again(
    backend: S3Backend, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    backend.write(KEY_A, [b"cache me"])
    mark = s3_server.mark()
    assert bytes(backend.read(KEY_A)) == b"cache me"
    assert bytes(backend.read(KEY_A)) == b"cache me"
    assert backend.stats.downloads == 1
    assert backend.stats.cache_hits == 1
    assert s3_server.counts(mark, bucket=bucket)["GET"] == 1

    # Another backend (another process, say) on the same cache directory finds it too.
    other = S3Backend(
        backend.url, endpoint_url=s3_server.endpoint_url, cache_dir=tmp_path / "cache", cache_size=64 * MiB
    )
    assert bytes(other.read(KEY_A)) == b"cache me"
    assert other.stats.downloads == 0
    assert s3_server.counts(mark, bucket=bucket)["GET"] == 1


@pytest.mark.s3
def test_delete_drops_the_cached_copy(backend: S3Backend) -> None:
    backend.write(KEY_A, [b"gone soon"])
    backend.read(KEY_A)
    assert backend.cache is not None and KEY_A in backend.cache
    backend.delete(KEY_A)
    assert KEY_A not in backend.cache
    with pytest.raises(FileNotFoundError):
        backend.read(KEY_A)


@pytest.mark.s3
def test_without_cache_dir_every_read_downloads(s3_server: S3Server, bucket: str) -> None:
    backend = S3Backend(f"s3://{bucket}", endpoint_url=s3_server.endpoint_url)
    assert backend.cache is None
    backend.write(KEY_A, [b"no cache"])
    backend.read(KEY_A)
    backend.read(KEY_A)
    assert backend.stats.downloads == 2
    assert [k for k, _ in backend.iter_keys()] == [KEY_A]


# --------------------------------------------------------------------------- no server needed


def test_url_and_key_are_validated() -> None:
    with pytest.raises(ConfigurationError, match=r"'file:///tmp/x' is not an S3 URL; write it as s3://"):
        S3Backend("file:///tmp/x", client=object())
    with pytest.raises(ConfigurationError, match="at least 5 MiB"):
        S3Backend("s3://b/p", client=object(), part_size=1024)
    backend = S3Backend("s3://b/p", client=object())
    assert backend.object_key(KEY_A) == f"p/a1/b2/{KEY_A}"
    assert S3Backend("s3://b", client=object()).object_key(KEY_A) == f"a1/b2/{KEY_A}"
    with pytest.raises(ValidationError, match=r"blob key '\.\./etc/passwd' is not valid"):
        backend.object_key("../etc/passwd")


def _set_age(cache: LocalReadCache, key: str, seconds_ago: float) -> None:
    stamp = time.time() - seconds_ago
    os.utime(cache.directory / key[:2] / key, (stamp, stamp))


def test_cache_round_trip_and_counts(tmp_path: Path) -> None:
    cache = LocalReadCache(tmp_path, max_bytes=1000)
    assert cache.get(KEY_A) is None
    assert cache.put(KEY_A, memoryview(b"abc"))
    assert cache.get(KEY_A) == b"abc"
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.size() == 3
    # Written through a temporary file that is renamed: nothing else is left behind.
    assert sorted(p.name for p in (tmp_path / KEY_A[:2]).iterdir()) == [KEY_A]


def test_cache_evicts_least_recently_used_to_stay_under_limit(tmp_path: Path) -> None:
    cache = LocalReadCache(tmp_path, max_bytes=100)
    cache.put(KEY_A, b"a" * 40)
    cache.put(KEY_B, b"b" * 40)
    _set_age(cache, KEY_A, 30)
    _set_age(cache, KEY_B, 20)
    assert cache.get(KEY_A) == b"a" * 40  # A is now the most recently used
    cache.put(KEY_C, b"c" * 40)
    assert KEY_B not in cache
    assert KEY_A in cache and KEY_C in cache
    assert cache.size() == 80 <= cache.max_bytes
    assert cache.evictions == 1


def test_a_recent_cache_hit_leaves_the_file_alone(tmp_path: Path) -> None:
    """Back-to-back hits keep the file's identity, so what was checked of its bytes stays remembered."""
    cache = LocalReadCache(tmp_path, max_bytes=100)
    cache.put(KEY_A, b"a" * 40)
    path = tmp_path / KEY_A[:2] / KEY_A
    before = path.stat()
    assert cache.get(KEY_A) == b"a" * 40
    data, identity = cache.map(KEY_A, with_identity=True)
    assert bytes(data) == b"a" * 40
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ctime_ns) == (before.st_mtime_ns, before.st_ctime_ns)
    assert identity[3:] == (before.st_mtime_ns, before.st_ctime_ns)
    _set_age(cache, KEY_A, 11)  # older than the recency window: a hit moves it to the recent end
    aged = path.stat().st_mtime_ns
    assert cache.map(KEY_A) is not None
    assert path.stat().st_mtime_ns > aged


def test_cache_refuses_blobs_larger_than_the_limit(tmp_path: Path) -> None:
    cache = LocalReadCache(tmp_path, max_bytes=10)
    cache.put(KEY_A, b"small")
    assert not cache.put(KEY_B, b"x" * 11)
    assert KEY_B not in cache
    assert cache.get(KEY_A) == b"small"


def test_cache_rejects_negative_size(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cache size must be >= 0 bytes, got -1"):
        LocalReadCache(tmp_path, max_bytes=-1)


# --------------------------------------------------------------------------- the blob store on S3


@pytest.fixture
def s3_store(s3_server: S3Server, bucket: str, tmp_path: Path) -> BlobStore:
    return BlobStore.from_url(
        f"s3://{bucket}/store",
        s3_endpoint_url=s3_server.endpoint_url,
        cache_dir=tmp_path / "store-cache",
        cache_size=512 * MiB,
    )


@pytest.mark.s3
@pytest.mark.slow
def test_saving_the_same_100_mb_frame_twice_uploads_it_once(
    s3_store: BlobStore, s3_server: S3Server, bucket: str
) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.random(6_553_600), "b": rng.integers(0, 2**40, 6_553_600)})
    codecs = Codecs([b"test-signing-key"])
    encoded = codecs.encode(frame)
    assert encoded.size >= 100 * MiB

    mark = s3_server.mark()
    first = s3_store.put(encoded.parts)
    after_first = s3_server.mark()
    first_uploads = [(r.method, r.key) for r in s3_server.uploads(mark, bucket=bucket)]
    second = s3_store.put(codecs.encode(frame).parts)
    assert first == second
    # One PutObject: below the multipart threshold (128 MiB) a value goes up in one request.
    assert first_uploads == [("PUT", s3_store.backend.object_key(first.key))]
    # The second save uploads no bytes: it finds the blob and leaves an empty marker saying it was
    # reused just now (so that gc spares it), then checks the blob is still there.
    assert [(r.method, r.key) for r in s3_server.uploads(after_first, bucket=bucket)] == [
        ("PUT", s3_store.backend.marker_key(first.key))
    ]
    assert s3_server.counts(after_first, bucket=bucket) == {"HEAD": 2, "PUT": 1}
    assert s3_store.stats.writes == 1
    assert s3_store.backend.stats.uploads == 1

    loaded = codecs.decode(encoded.codec, s3_store.get(first.key, first.checksum))
    assert_frame_equal(loaded, frame)


@pytest.mark.s3
def test_store_reads_are_verified_and_cached(s3_store: BlobStore, s3_server: S3Server, bucket: str) -> None:
    ref = s3_store.put([b"precious ", b"bytes"])
    assert bytes(s3_store.get(ref.key, ref.checksum)) == b"precious bytes"
    mark = s3_server.mark()
    assert bytes(s3_store.get(ref.key, ref.checksum)) == b"precious bytes"
    assert s3_server.counts(mark, bucket=bucket)["GET"] == 0

    # Bytes changed on the server are refused, never returned.
    s3_server.client().put_object(Bucket=bucket, Key=s3_store.backend.object_key(ref.key), Body=b"tampered")
    uncached = BlobStore.from_url(f"s3://{bucket}/store", s3_endpoint_url=s3_server.endpoint_url)
    with pytest.raises(IntegrityError, match=rf"blob {ref.key} in s3://{bucket}/store is corrupted"):
        uncached.get(ref.key, ref.checksum)
