"""gc and deduplicated saves together: gc never deletes a blob a save has just reused.

The deployment tests run on local blobs and on S3 (``postgres-s3``); the tests of the S3 backend's
set-aside alone need only the S3 server (``FLOWDECK_TEST_S3=1``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from flowdeck import IntegrityError, StoreInterface
from flowdeck.storage import s3_blobs
from flowdeck.storage.blobs import BlobStore
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import outputs as output_records
from flowdeck.storage.s3_blobs import S3Backend
from flowdeck.store.maintenance import collect_garbage

if TYPE_CHECKING:
    from s3_server import S3Server

FRAME = pd.DataFrame({"a": np.arange(50_000), "b": np.arange(50_000) * 0.5})
MiB = 1024**2


def test_gc_running_while_the_same_bytes_are_saved_keeps_them(deployment, monkeypatch) -> None:
    # An old run saved FRAME and went: its blob is an orphan gc may delete.
    old = flowdeck.start(sample_flows.three_steps, user="alice")
    StoreInterface(old.flow_id, user="alice", step_name="Produce").save_output(FRAME, "frame")
    flowdeck.delete_run(old.flow_id, user="alice")
    storage = get_storage()
    orphans = [key for key, _ in storage.blobs.iter_keys()]
    assert len(orphans) == 1
    if deployment.endswith("s3"):
        time.sleep(2.1)  # S3 keeps whole seconds, and gc rounds a blob's time up: let it age past that

    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    put, listing = storage.values.put, storage.blobs.iter_keys
    bytes_stored, gc_done = threading.Event(), threading.Event()
    writes = storage.blobs.stats.writes

    def put_then_wait_for_gc(value: object) -> object:
        # The slowest save: its bytes are stored (deduplicated: nothing written), and its row is
        # committed only after gc has decided and deleted what it would.
        stored = put(value)
        bytes_stored.set()
        assert gc_done.wait(30)
        return stored

    def list_while_saving() -> Iterator[tuple[str, float]]:
        # gc has read which keys rows refer to and lists the blobs: the save starts now.
        keys = list(listing())
        saver.start()
        assert bytes_stored.wait(30)
        return iter(keys)

    saver = threading.Thread(target=store.save_output, args=(FRAME, "again"))
    monkeypatch.setattr(storage.values, "put", put_then_wait_for_gc)
    monkeypatch.setattr(storage.blobs, "iter_keys", list_while_saving)
    try:
        report = collect_garbage(grace_seconds=0)
    finally:
        gc_done.set()
    saver.join(30)
    monkeypatch.undo()

    assert storage.blobs.stats.writes == writes, "the save should have been deduplicated"
    assert (report.examined, report.removed) == (1, 0)
    assert_frame_equal(store.get_input("again", step_name="Produce"), FRAME)
    assert [key for key, _ in storage.blobs.iter_keys()] == orphans

    # Once nothing refers to it and its grace is over, it does go.
    flowdeck.delete_run(run.flow_id, user="alice")
    assert collect_garbage(grace_seconds=-5).removed == 1
    assert list(storage.blobs.iter_keys()) == []


def test_a_save_that_reuses_the_bytes_after_gcs_last_check_gets_a_blob_that_stays(deployment, monkeypatch) -> None:
    # gc has asked whether a row refers to the orphan (none does) and is about to delete it: a save
    # of the same bytes then stores them and commits its row. Before gc set blobs aside (local files
    # first, then S3), the save reused the blob gc went on to delete, and the row referred to nothing.
    old = flowdeck.start(sample_flows.three_steps, user="alice")
    StoreInterface(old.flow_id, user="alice", step_name="Produce").save_output(FRAME, "frame")
    flowdeck.delete_run(old.flow_id, user="alice")
    storage = get_storage()
    orphans = [key for key, _ in storage.blobs.iter_keys()]
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    referenced = output_records.blob_is_referenced
    saved = threading.Event()

    def answer_then_save(conn: object, key: str) -> bool:
        answer = referenced(conn, key)
        saver = threading.Thread(target=lambda: (store.save_output(FRAME, "again"), saved.set()))
        saver.start()
        assert saved.wait(30)
        return answer

    monkeypatch.setattr(output_records, "blob_is_referenced", answer_then_save)
    report = collect_garbage(grace_seconds=-5)
    monkeypatch.undo()

    assert (report.examined, report.removed) == (1, 1)  # the old blob went, the save stored the bytes anew
    assert [key for key, _ in storage.blobs.iter_keys()] == orphans
    assert_frame_equal(store.get_input("again", step_name="Produce"), FRAME)
    assert collect_garbage(grace_seconds=-5).removed == 0


@pytest.mark.backends("sqlite", "postgres-s3")
def test_a_blob_a_stopped_gc_left_aside_is_put_back_by_the_next(deployment) -> None:
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    store.save_output(FRAME, "frame")
    storage = get_storage()
    [key] = [key for key, _ in storage.blobs.iter_keys()]
    assert storage.blobs.set_aside(key) is not None  # gc stopped here (killed)
    assert list(storage.blobs.iter_keys()) == []
    assert collect_garbage(grace_seconds=-5).removed == 0
    assert [k for k, _ in storage.blobs.iter_keys()] == [key]
    assert_frame_equal(store.get_input("frame", step_name="Produce"), FRAME)


@pytest.mark.backends("sqlite", "postgres-s3")
def test_a_read_while_gc_holds_the_blob_aside_waits_for_it(deployment) -> None:
    # A save that reused an orphan's bytes just before gc set them aside may read its value back
    # before gc has found the row and put the blob back: the read waits instead of failing.
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    store.save_output(FRAME, "frame")
    storage = get_storage()
    [key] = [key for key, _ in storage.blobs.iter_keys()]
    storage.blobs.set_aside(key)
    cache = getattr(storage.blobs.backend, "cache", None)
    if cache is not None:
        cache.clear()  # S3: the read goes to the server
    putter = threading.Timer(0.2, storage.blobs.put_back, args=(key,))
    putter.start()
    assert_frame_equal(store.get_input("frame", step_name="Produce"), FRAME)
    assert_frame_equal(store.get_input("frame", step_name="Produce", columns=["b"]), FRAME[["b"]])
    putter.join()
    # A blob that is simply gone is an IntegrityError at once.
    storage.blobs.delete(key)
    with pytest.raises(IntegrityError, match="missing"):
        store.get_input("frame", step_name="Produce")


# --------------------------------------------------------------------------- the S3 backend alone


class _Killed(BaseException):
    """The process died (like ``kill -9``: nothing after it runs, not even ``except Exception``)."""


class DyingClient:
    """A boto3 client that dies at the ``nth`` call of ``operation``: that call and every later one
    raise :class:`_Killed` without reaching the server."""

    def __init__(self, client: Any, operation: str, nth: int = 1) -> None:
        self._client = client
        self._operation = operation
        self._left = nth
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name in ("meta", "get_paginator"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == self._operation:
                self._left -= 1
                self.dead = self.dead or self._left == 0
            if self.dead:
                raise _Killed(name)
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket()


@pytest.fixture
def make_backend(s3_server: S3Server, bucket: str) -> Callable[..., S3Backend]:
    def make(client: Any = None) -> S3Backend:
        # Parts of 5 MiB from 8 MiB on, so that a few MiB take the multipart copy too.
        return S3Backend(
            f"s3://{bucket}/blobs",
            endpoint_url=s3_server.endpoint_url,
            multipart_threshold=8 * MiB,
            part_size=5 * MiB,
            client=client,
        )

    return make


def _objects(s3_server: S3Server, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []))


def _aside_copies(s3_server: S3Server, bucket: str) -> list[str]:
    return [k for k in _objects(s3_server, bucket) if k.startswith("blobs/gc-aside/")]


@pytest.mark.s3
@pytest.mark.parametrize("size", [1000, 11 * MiB], ids=["one-copy", "multipart-copy"])
def test_a_blob_set_aside_on_s3_is_out_of_reach_of_saves_reads_and_listings(
    make_backend: Callable[..., S3Backend], s3_server: S3Server, bucket: str, size: int
) -> None:
    store = BlobStore(make_backend())
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    ref = store.put([data])
    backend = store.backend
    written = backend.last_used(ref.key)
    mark = s3_server.mark()
    assert store.set_aside(ref.key) == written
    if size >= backend.multipart_threshold:
        assert any("partNumber" in r.query for r in s3_server.requests_since(mark, bucket=bucket))
    [aside] = _aside_copies(s3_server, bucket)
    assert aside.startswith(f"blobs/gc-aside/{ref.key}/")
    assert s3_server.client().get_object(Bucket=bucket, Key=aside)["Body"].read() == data
    assert backend.is_set_aside(ref.key)
    assert not backend.exists(ref.key) and backend.last_used(ref.key) is None
    assert list(backend.iter_keys()) == []
    with pytest.raises(FileNotFoundError):
        backend.read(ref.key)

    # A save of the same bytes cannot reuse the copy set aside: it stores them anew, and putting
    # back keeps that blob (and its newer time) and drops the copy.
    writes = store.stats.writes
    assert store.put([data]) == ref
    assert store.stats.writes == writes + 1
    stored = backend.last_used(ref.key)
    store.put_back(ref.key)
    assert _aside_copies(s3_server, bucket) == [] and not backend.is_set_aside(ref.key)
    assert backend.last_used(ref.key) == stored
    assert bytes(store.get(ref.key, ref.checksum)) == data

    # Put back when nothing was stored meanwhile: copied back, then the copy goes.
    store.set_aside(ref.key)
    store.put_back(ref.key)
    assert _objects(s3_server, bucket) == [backend.object_key(ref.key)]
    assert bytes(store.get(ref.key, ref.checksum)) == data

    # A save that reused the blob before it was set aside shows in the time set_aside returns.
    written = backend.last_used(ref.key)
    assert backend.touch(ref.key)
    reused = backend.last_used(ref.key)
    assert reused > written
    assert store.set_aside(ref.key) == reused
    store.discard_set_aside(ref.key)
    assert _objects(s3_server, bucket) == []


@pytest.mark.s3
def test_a_blob_written_again_while_it_is_copied_aside_is_copied_again(make_backend: Callable[..., S3Backend]) -> None:
    # The blob's time is taken before the copy: a blob written again in between (with a newer
    # time) is refused by the copy's condition, and the set-aside starts over with the newer time.
    # moto does not check that condition; the refusal S3 sends is made up here.
    backend = make_backend()
    backend.write("ab12", [b"bytes"])
    client, calls = backend.client, []

    def copy_object(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "At least one"}}, "CopyObject")
        return client.copy_object(**kwargs)

    backend.client = type("Client", (), {"__getattr__": lambda self, name: getattr(client, name)})()
    backend.client.copy_object = copy_object
    assert backend.set_aside("ab12") is not None
    assert len(calls) == 2 and all("CopySourceIfUnmodifiedSince" in c for c in calls)
    assert backend.is_set_aside("ab12") and not backend.exists("ab12")


def _set_aside(backend: S3Backend, key: str) -> None:
    backend.set_aside(key)


def _set_aside_then_put_back(backend: S3Backend, key: str) -> None:
    backend.set_aside(key)
    backend.put_back(key)


def _set_aside_then_discard(backend: S3Backend, key: str) -> None:
    backend.set_aside(key)
    backend.discard(key)


# Where a gc may stop: (what it was doing, the call that never happened, which of them, what is left).
STOPS = [
    (_set_aside, "copy_object", 1, "blob"),
    (_set_aside, "delete_object", 1, "blob+copy"),
    (_set_aside, "head_object", 2, "copy"),  # the blob deleted, its marker not read yet
    (_set_aside_then_put_back, "copy_object", 2, "copy"),
    (_set_aside_then_put_back, "delete_object", 2, "blob+copy"),  # copied back, the copy not deleted
    (_set_aside_then_discard, "delete_object", 3, "copy"),  # the marker deleted, the copy not yet
]


@pytest.mark.s3
@pytest.mark.parametrize(
    ("step", "operation", "nth", "left"), STOPS, ids=[f"{s[0].__name__}-{s[1]}-{s[2]}" for s in STOPS]
)
def test_a_gc_stopped_anywhere_on_s3_leaves_a_copy_the_next_puts_back(
    make_backend: Callable[..., S3Backend],
    s3_server: S3Server,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    step: Callable[[S3Backend, str], None],
    operation: str,
    nth: int,
    left: str,
) -> None:
    first = BlobStore(make_backend())
    ref = first.put([b"the only copy of a value"])
    obj = first.backend.object_key(ref.key)
    dying = make_backend(DyingClient(first.backend.client, operation, nth))
    with pytest.raises(_Killed):
        step(dying, ref.key)
    objects, copies = _objects(s3_server, bucket), _aside_copies(s3_server, bucket)
    assert "+".join(name for name, there in (("blob", obj in objects), ("copy", bool(copies))) if there) == left

    # The next gc (another process) puts the blob back. A copy whose blob is stored is left for an
    # hour: it may be another gc's, made in the instant before that gc deletes the blob.
    following = BlobStore(make_backend())
    assert following.put_back_all() == len(copies)
    assert bytes(following.get(ref.key, ref.checksum)) == b"the only copy of a value"
    assert _aside_copies(s3_server, bucket) == (copies if left == "blob+copy" else [])
    monkeypatch.setattr(s3_blobs, "ASIDE_STALE_SECONDS", -1.0)
    following.put_back_all()
    assert _aside_copies(s3_server, bucket) == []
    assert [k for k, _ in following.iter_keys()] == [ref.key]


@pytest.mark.s3
def test_a_read_on_s3_while_the_blob_is_aside_waits_for_it(make_backend: Callable[..., S3Backend]) -> None:
    store = BlobStore(make_backend())
    ref = store.put([b"wait for me"])
    store.set_aside(ref.key)
    putter = threading.Timer(0.2, store.put_back, args=(ref.key,))
    putter.start()
    started = time.monotonic()
    assert bytes(store.get(ref.key, ref.checksum)) == b"wait for me"
    assert time.monotonic() - started >= 0.15
    putter.join()
    store.set_aside(ref.key)
    store.discard_set_aside(ref.key)
    with pytest.raises(IntegrityError, match="missing"):
        store.get(ref.key, ref.checksum)


@pytest.mark.s3
def test_another_gcs_copy_set_aside_is_its_own(
    make_backend: Callable[..., S3Backend], s3_server: S3Server, bucket: str
) -> None:
    # Two gcs set the same blob aside at once: each has its own copy, and the one that keeps the
    # blob wins over the one that discards it.
    one, two = make_backend(), make_backend()
    one.write("cd34", [b"shared"])
    assert one.set_aside("cd34") is not None
    # The second copied the blob before the first deleted it (here: the blob is there again).
    [first_copy] = _aside_copies(s3_server, bucket)
    s3_server.client().copy_object(Bucket=bucket, Key=one.object_key("cd34"), CopySource=f"{bucket}/{first_copy}")
    assert two.set_aside("cd34") is not None
    assert len(_aside_copies(s3_server, bucket)) == 2
    one.put_back("cd34")
    two.discard("cd34")
    assert _aside_copies(s3_server, bucket) == []
    assert bytes(one.read("cd34")) == b"shared"
