"""gc and deduplicated saves together: gc never deletes a blob a save has just reused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from flowdeck import IntegrityError, StoreInterface
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import outputs as output_records
from flowdeck.store.maintenance import collect_garbage

FRAME = pd.DataFrame({"a": np.arange(50_000), "b": np.arange(50_000) * 0.5})


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


@pytest.mark.backends("sqlite", "postgres", "mariadb")  # blobs as local files: gc can set a blob aside
def test_a_save_that_reuses_the_bytes_after_gcs_last_check_gets_a_blob_that_stays(deployment, monkeypatch) -> None:
    # gc has asked whether a row refers to the orphan (none does) and is about to delete it: a save
    # of the same bytes then stores them and commits its row. Before, the save reused the blob gc
    # went on to delete, and the row referred to nothing.
    old = flowdeck.start(sample_flows.three_steps, user="alice")
    StoreInterface(old.flow_id, user="alice", step_name="Produce").save_output(FRAME, "frame")
    flowdeck.delete_run(old.flow_id, user="alice")
    storage = get_storage()
    assert storage.blobs.can_set_aside
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


@pytest.mark.backends("sqlite")
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


@pytest.mark.backends("sqlite")
def test_a_read_while_gc_holds_the_blob_aside_waits_for_it(deployment) -> None:
    # A save that reused an orphan's bytes just before gc set them aside may read its value back
    # before gc has found the row and put the blob back: the read waits instead of failing.
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    store.save_output(FRAME, "frame")
    storage = get_storage()
    [key] = [key for key, _ in storage.blobs.iter_keys()]
    storage.blobs.set_aside(key)
    putter = threading.Timer(0.2, storage.blobs.put_back, args=(key,))
    putter.start()
    assert_frame_equal(store.get_input("frame", step_name="Produce"), FRAME)
    assert_frame_equal(store.get_input("frame", step_name="Produce", columns=["b"]), FRAME[["b"]])
    putter.join()
    # A blob that is simply gone is an IntegrityError at once.
    storage.blobs.delete(key)
    with pytest.raises(IntegrityError, match="missing"):
        store.get_input("frame", step_name="Produce")
