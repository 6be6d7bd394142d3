"""The content-addressed blob store: round-trips, stored once, verified reads, atomic writes."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import blake3
import numpy as np
import pytest
import xxhash

import flowdeck.storage.blobs as blobs_module
from flowdeck.errors import ConfigurationError, IntegrityError, ValidationError
from flowdeck.storage.blobs import (
    PARALLEL_HASH_THRESHOLD,
    BlobBackend,
    BlobRef,
    BlobStore,
    LocalBackend,
    MemoryBackend,
)

SMALL = b"a small value" * 10
# Large enough for the parallel hash-while-writing path and the memory-mapped read path.
LARGE = np.random.default_rng(7).integers(0, 256, PARALLEL_HASH_THRESHOLD + 12345, dtype=np.uint8).tobytes()


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore(LocalBackend(tmp_path / "blobs"))
    return BlobStore(MemoryBackend())


@pytest.fixture
def local(tmp_path: Path) -> BlobStore:
    return BlobStore(LocalBackend(tmp_path / "blobs"))


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def flip(path: Path, position: int) -> None:
    """Flip one bit of the byte at ``position`` (negative counts from the end) in place."""
    size = path.stat().st_size
    offset = position % size
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ 0x10]))


# --------------------------------------------------------------------------- round-trips


@pytest.mark.parametrize("data", [SMALL, b"", LARGE], ids=["small", "empty", "large"])
def test_put_get_roundtrip_with_blake3_key_and_xxh3_checksum(store: BlobStore, data: bytes) -> None:
    ref = store.put([data])
    assert ref == BlobRef(blake3.blake3(data).hexdigest(), len(data), xxhash.xxh3_128_hexdigest(data))
    assert bytes(store.get(ref.key, ref.checksum)) == data
    assert bytes(store.get(ref.key, None)) == data
    assert store.exists(ref.key)
    assert [key for key, _ in store.iter_keys()] == [ref.key]


@pytest.mark.parametrize("data", [SMALL, LARGE], ids=["small", "large"])
def test_parts_are_concatenated_and_any_split_gives_the_same_blob(store: BlobStore, data: bytes) -> None:
    view = memoryview(data)
    whole = store.put([data])
    split = store.put([view[:3], bytearray(view[3:100]), view[100:]])
    numpy_part = store.put([np.frombuffer(data, dtype=np.uint8)])
    assert whole == split == numpy_part
    assert bytes(store.get(whole.key, whole.checksum)) == data


@pytest.mark.parametrize("data", [SMALL, LARGE], ids=["small", "large"])
def test_equal_bytes_are_stored_once(store: BlobStore, data: bytes) -> None:
    first = store.put([data])
    second = store.put([data[:10], data[10:]])
    other = store.put([data + b"!"])
    assert first == second != other
    assert (store.stats.puts, store.stats.writes) == (3, 2)
    assert store.stats.bytes_written == 2 * len(data) + 1
    assert sorted(key for key, _ in store.iter_keys()) == sorted({first.key, other.key})


def test_stored_once_leaves_exactly_one_file_and_no_temporary(local: BlobStore, tmp_path: Path) -> None:
    for _ in range(3):
        local.put([LARGE])
        local.put([SMALL])
    ref_large, ref_small = local.put([LARGE]), local.put([SMALL])
    files = all_files(tmp_path / "blobs")
    assert [f.name for f in files] == sorted([ref_large.key, ref_small.key])
    assert local.stats.writes == 2 and local.stats.reads == 0
    for ref in (ref_large, ref_small):
        assert (tmp_path / "blobs" / ref.key[:2] / ref.key[2:4] / ref.key).is_file()


def test_reads_are_counted_and_delete_removes(store: BlobStore) -> None:
    ref = store.put([SMALL])
    store.get(ref.key, ref.checksum)
    store.get(ref.key, ref.checksum)
    assert store.stats.reads == 2
    store.delete(ref.key)
    store.delete(ref.key)  # absent: no error
    assert not store.exists(ref.key)
    assert list(store.iter_keys()) == []


def test_iter_keys_gives_modification_times(local: BlobStore) -> None:
    ref = local.put([SMALL])
    [(key, mtime)] = list(local.iter_keys())
    assert key == ref.key
    assert mtime == pytest.approx(os.stat(local.backend.path(key)).st_mtime)


def test_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalBackend(tmp_path), BlobBackend)
    assert isinstance(MemoryBackend(), BlobBackend)


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize("data", [SMALL, LARGE], ids=["small", "large"])
@pytest.mark.parametrize("position", [0, "middle", -1])
@pytest.mark.parametrize("with_checksum", [True, False], ids=["xxh3", "blake3"])
def test_a_flipped_byte_anywhere_is_an_integrity_error(
    local: BlobStore, data: bytes, position: int | str, with_checksum: bool
) -> None:
    ref = local.put([data])
    assert bytes(local.get(ref.key, ref.checksum)) == data
    flip(local.backend.path(ref.key), len(data) // 2 if position == "middle" else int(position))
    with pytest.raises(IntegrityError, match=f"blob {ref.key} .* is corrupted"):
        local.get(ref.key, ref.checksum if with_checksum else None)


def test_a_truncated_or_extended_blob_is_an_integrity_error(local: BlobStore) -> None:
    ref = local.put([SMALL])
    path = local.backend.path(ref.key)
    path.write_bytes(SMALL[:-1])
    with pytest.raises(IntegrityError, match="corrupted"):
        local.get(ref.key, ref.checksum)
    path.write_bytes(SMALL + b"\0")
    with pytest.raises(IntegrityError, match="corrupted"):
        local.get(ref.key, ref.checksum)


def test_a_wrong_checksum_is_refused_on_the_memory_backend() -> None:
    store = BlobStore(MemoryBackend())
    ref = store.put([SMALL])
    with pytest.raises(IntegrityError, match="do not match the xxh3-128 digest"):
        store.get(ref.key, "0" * 32)


def test_a_missing_blob_is_an_integrity_error(store: BlobStore) -> None:
    key = blake3.blake3(b"never stored").hexdigest()
    with pytest.raises(IntegrityError, match=f"blob {key} referenced but missing"):
        store.get(key, "0" * 32)


def test_invalid_keys_are_refused_by_local_files(local: BlobStore) -> None:
    for key in ("../../etc/passwd", "ABCDEF", "ab"):
        with pytest.raises(ValidationError, match="invalid blob key"):
            local.get(key, None)


# --------------------------------------------------------------------------- atomic, durable writes


@pytest.mark.parametrize("data", [SMALL, LARGE], ids=["small", "large"])
def test_a_failed_write_leaves_no_blob_and_no_temporary_file(
    local: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        local.put([data])
    monkeypatch.undo()
    assert all_files(tmp_path / "blobs") == []
    assert list(local.iter_keys()) == []
    ref = local.put([data])  # and the store still works
    assert bytes(local.get(ref.key, ref.checksum)) == data


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name file descriptors")
@pytest.mark.parametrize("data", [SMALL, LARGE], ids=["small", "large"])
def test_file_and_directory_are_fsynced_around_the_rename(
    local: BlobStore, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(blobs_module.os, "fsync", fsync)
    monkeypatch.setattr(blobs_module.os, "replace", replace)
    ref = local.put([data])
    final = local.backend.path(ref.key)
    replaced = events.index(("replace", str(final)))
    assert any(kind == "fsync" and ".tmp-" in path for kind, path in events[:replaced])
    assert ("fsync", str(final.parent)) in events[replaced:]


def test_temporary_files_are_never_listed_and_stale_ones_are_removed(local: BlobStore) -> None:
    ref = local.put([SMALL])
    shard = local.backend.path(ref.key).parent
    stale = shard / ".tmp-deadbeef"
    stale.write_bytes(b"partial")
    fresh = local.backend.root / ".tmp-cafe"
    fresh.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    assert [key for key, _ in local.iter_keys()] == [ref.key]
    assert local.backend.remove_stale_temp(older_than=3600) == 1
    assert not stale.exists() and fresh.exists()


def test_a_reader_listing_keys_never_sees_a_partial_blob(local: BlobStore) -> None:
    rng = np.random.default_rng(3)
    payloads = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in [5_000_000, 300_000] * 4]
    done = threading.Event()
    seen: set[str] = set()
    failures: list[BaseException] = []

    def reader() -> None:
        while not done.is_set():
            for key, _ in local.iter_keys():
                try:
                    local.get(key, None)  # verifies the bytes against the key itself
                    seen.add(key)
                except BaseException as exc:
                    failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        refs = [local.put([p]) for p in payloads]
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert seen <= {r.key for r in refs}
    assert len(list(local.iter_keys())) == len(payloads)


# Large enough for multi-threaded BLAKE3.
HUGE = LARGE * 3


def _large_put_in_child(root: str, queue: multiprocessing.Queue) -> None:
    ref = BlobStore(LocalBackend(root)).put([HUGE[::-1]])
    queue.put(ref.key)


@pytest.mark.timeout(120)
def test_large_puts_work_in_a_forked_child_after_the_parent_hashed(tmp_path: Path) -> None:
    # Multi-threaded hashing in the parent must not leave a forked child waiting forever.
    store = BlobStore(LocalBackend(tmp_path / "blobs"))
    store.put([HUGE])
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_large_put_in_child, args=(str(tmp_path / "blobs"), queue))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("a large put in a forked child hung")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == blake3.blake3(HUGE[::-1]).hexdigest()


# --------------------------------------------------------------------------- from_url


def test_from_url_file(tmp_path: Path) -> None:
    store = BlobStore.from_url((tmp_path / "a b").as_uri())
    assert isinstance(store.backend, LocalBackend)
    assert store.backend.root == tmp_path / "a b"
    assert store.url == (tmp_path / "a b").as_uri()
    ref = store.put([SMALL])
    assert (tmp_path / "a b" / ref.key[:2] / ref.key[2:4] / ref.key).read_bytes() == SMALL


def test_from_url_memory_is_one_store_per_url() -> None:
    first = BlobStore.from_url("memory://test-shared")
    ref = first.put([SMALL])
    assert bytes(BlobStore.from_url("memory://test-shared").get(ref.key, ref.checksum)) == SMALL
    assert not BlobStore.from_url("memory://test-other").exists(ref.key)


def test_from_url_s3_builds_the_s3_backend() -> None:
    store = BlobStore.from_url("s3://bucket/prefix", s3_endpoint_url="http://127.0.0.1:9", cache_size=0)
    assert type(store.backend).__name__ == "S3Backend"
    assert store.url == "s3://bucket/prefix"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/blobs", r"scheme 'ftp'; supported schemes are file://, memory://, s3://"),
        ("/var/lib/blobs", r"no scheme; supported schemes are file://, memory://, s3://"),
        ("file://relative/path", r"not an absolute file URL; write it as file:///absolute/path"),
    ],
)
def test_from_url_errors_name_the_url_and_the_fix(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BlobStore.from_url(url)


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name == "flowdeck-blob-hash"]
    for t in leftover:
        t.join(timeout=5)
    assert not any(t.is_alive() for t in leftover)


# --- maps kept for zero-copy reads ---------------------------------------------------------------


@pytest.fixture
def kept_maps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the files mapped (by size), starting and ending with no kept map."""
    mapped: list[int] = []
    real = blobs_module.mmap.mmap

    def counting(fd: int, length: int, *args: object, **kwargs: object) -> object:
        mapped.append(length)
        return real(fd, length, *args, **kwargs)

    monkeypatch.setattr(blobs_module.mmap, "mmap", counting)
    blobs_module.forget_kept_maps()
    yield mapped
    blobs_module.forget_kept_maps()


def _big_file(path: Path, fill: bytes = b"a") -> Path:
    path.write_bytes(fill * blobs_module.MMAP_THRESHOLD)
    return path


def test_a_kept_map_is_reused_while_its_file_is_unchanged(tmp_path: Path, kept_maps: list[int]) -> None:
    path = _big_file(tmp_path / "blob")
    first, identity = blobs_module._map_file(path, with_identity=True, keep=True)
    again, same = blobs_module._map_file(path, with_identity=True, keep=True)
    assert again is first and same == identity and len(kept_maps) == 1
    # A read that does not keep maps (a partial read, a download batch) maps afresh and keeps nothing.
    other = blobs_module._map_file(path)
    assert other is not first and len(kept_maps) == 2

    # A write to the file changes its identity: the next read maps the new bytes.
    os.utime(path, ns=(1, 1))
    changed, new_identity = blobs_module._map_file(path, with_identity=True, keep=True)
    assert changed is not first and new_identity != identity and len(kept_maps) == 3
    # A file replaced by another (as a blob written again is) is another file.
    replacement = _big_file(tmp_path / "new", b"b")
    replacement.replace(path)
    replaced = blobs_module._map_file(path, keep=True)
    assert bytes(replaced[:1]) == b"b" and len(kept_maps) == 4


def test_kept_maps_are_bounded_in_number_and_time(
    tmp_path: Path, kept_maps: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [_big_file(tmp_path / f"blob{i}") for i in range(blobs_module.KEPT_MAPS + 1)]
    for path in paths:
        blobs_module._map_file(path, keep=True)
    assert len(kept_maps) == blobs_module.KEPT_MAPS + 1
    blobs_module._map_file(paths[-1], keep=True)  # still kept
    assert len(kept_maps) == blobs_module.KEPT_MAPS + 1
    blobs_module._map_file(paths[0], keep=True)  # the least recently used was dropped
    assert len(kept_maps) == blobs_module.KEPT_MAPS + 2
    monkeypatch.setattr(blobs_module, "KEPT_MAP_SECONDS", 0.0)  # unused for longer than this: dropped
    blobs_module._map_file(paths[0], keep=True)
    assert len(kept_maps) == blobs_module.KEPT_MAPS + 3
    small = tmp_path / "small"
    small.write_bytes(b"x" * 100)  # a small file is not worth keeping
    blobs_module._map_file(small, keep=True)
    blobs_module._map_file(small, keep=True)
    assert kept_maps[-2:] == [100, 100]
