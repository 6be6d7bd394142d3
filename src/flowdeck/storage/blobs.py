"""Content-addressed, atomic, verified blob store.

- ``BlobRef(key, size, checksum)``: ``key`` is the BLAKE3-256 hex digest of the bytes (the address,
  collision-resistant), ``checksum`` the xxh3-128 hex digest recorded at write time and checked on
  every read.
- ``BlobBackend``: where the bytes live (local files, memory, S3). ``write`` must be atomic
  (visible only when complete) and durable when it returns.
- ``BlobStore``: owns hashing and verification; equal bytes are stored once.

A backend may also offer ``write_pending(parts, key, more=None) -> bool``: write the bytes durably
first and call ``key()`` only before making them visible, so that hashing runs while the bytes are
written (see :meth:`LocalBackend.write_pending`).

A blob may end with a *tail* that depends on checksums of its chunks (a frame's index, see
:mod:`flowdeck.storage.frame_blobs`): :meth:`BlobStore.put` computes those checksums in the same
read of each chunk that computes the key and the checksum, then writes the tail after the body.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import unquote, urlparse

import blake3
import xxhash

from flowdeck.config import make_private_dir
from flowdeck.errors import ConfigurationError, IntegrityError, ValidationError
from flowdeck.storage.frame_blobs import ChunkHasher, Tail

__all__ = [
    "BlobBackend",
    "BlobRef",
    "BlobStats",
    "BlobStore",
    "Buffer",
    "LocalBackend",
    "MemoryBackend",
]

Buffer = bytes | bytearray | memoryview

SUPPORTED_SCHEMES = ("file", "memory", "s3")

# Below this size a blob is hashed first and written only when new; above it the bytes are
# written to a temporary file while a second thread hashes them (both release the GIL).
PARALLEL_HASH_THRESHOLD = 4 * 1024**2
# Multi-threaded BLAKE3 only pays off on large inputs.
BLAKE3_THREADS_THRESHOLD = 8 * 1024**2
# Files at least this large are read through a read-only memory map instead of copied.
MMAP_THRESHOLD = 1024**2
# A file changed less than this long ago (ns) may change again without its timestamps changing (they
# come from a coarse clock): it gets no identity, and what was checked of it is not remembered.
_SETTLED_NS = 2_000_000_000
# Largest number of buffers handed to one writev call (POSIX IOV_MAX is at least 1024).
_IOV_MAX = 1024
# Hashing reads each piece of this size once from memory, then hashes it again from the CPU cache.
_HASH_PIECE = 256 * 1024

# Zero-copy reads keep the memory map of up to this many blob files (of at least MMAP_THRESHOLD
# bytes) for this long after their last read: mapping a big file afresh costs more than decoding its
# batch headers (the page tables are built again, ~1 ms for 100 MB). A blob deleted meanwhile keeps
# its disk space until its map is dropped.
KEPT_MAPS = 8
KEPT_MAP_SECONDS = 60.0

_MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
_KEY_RE = re.compile(r"[0-9a-f]{4,128}")
T = TypeVar("T")
_TMP_PREFIX = ".tmp-"
#: Where gc moves a blob while it makes its last checks (see :meth:`LocalBackend.set_aside`).
_ASIDE_PREFIX = ".gc-aside-"
#: How long a read waits for gc to put back a blob it holds aside (it asks one query, then decides).
_ASIDE_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class BlobRef:
    """Where a value's bytes live and how to check them."""

    key: str
    size: int
    checksum: str


@runtime_checkable
class BlobBackend(Protocol):
    """The few operations a place that keeps blobs must offer."""

    url: str

    def exists(self, key: str) -> bool:
        """Whether a complete blob is stored under ``key``."""
        ...

    def write(self, key: str, parts: Sequence[Buffer]) -> None:
        """Store the concatenation of ``parts`` under ``key``: atomically and durably."""
        ...

    def read(self, key: str) -> Buffer:
        """The bytes stored under ``key``; ``FileNotFoundError`` when there are none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (POSIX seconds)."""
        ...

    def touch(self, key: str) -> bool:
        """Mark ``key`` as just used (a save reuses its bytes); False when no blob is stored under it."""
        ...

    def last_used(self, key: str) -> float | None:
        """When ``key`` was last written or touched (POSIX seconds, never early); None when it is gone."""
        ...


# --------------------------------------------------------------------------- helpers


def _as_bytes_view(part: Any) -> memoryview:
    """A flat unsigned-byte view of ``part`` (bytes, bytearray, memoryview, Arrow or numpy buffer)."""
    view = part if isinstance(part, memoryview) else memoryview(part)
    if view.format == "B" and view.ndim == 1 and view.c_contiguous:
        return view
    if view.c_contiguous:
        return view.cast("B")
    return memoryview(view.tobytes())


def _views(parts: Sequence[Any]) -> list[memoryview]:
    views = [_as_bytes_view(p) for p in parts]
    return [v for v in views if v.nbytes]


# BLAKE3's multi-threaded mode uses a thread pool that does not survive fork(): a child process
# hashing with it would wait forever. Only the process that started the pool uses it.
_blake3_pool_pid: int | None = None


def _blake3_threads(size: int) -> int:
    global _blake3_pool_pid
    if size < BLAKE3_THREADS_THRESHOLD:
        return 1
    pid = os.getpid()
    if _blake3_pool_pid is None:
        _blake3_pool_pid = pid
    return blake3.blake3.AUTO if _blake3_pool_pid == pid else 1


def _digests(
    views: Sequence[memoryview], *, parallel: bool = True, tail: Tail | None = None
) -> tuple[str, str, list[Buffer]]:
    """(BLAKE3-256 hex, xxh3-128 hex, tail buffers) of the concatenated ``views`` and their tail.

    With a ``tail``, the checksums of its chunks are computed in the same pass, and its buffers
    (which follow ``views``) are hashed too. ``parallel=False`` hashes on this thread only (the
    caller keeps the other cores busy).
    """
    size = sum(v.nbytes for v in views) + (tail.size if tail is not None else 0)
    key_hash = blake3.blake3(max_threads=_blake3_threads(size) if parallel else 1)
    check_hash = xxhash.xxh3_128()
    if tail is None:
        for view in views:
            key_hash.update(view)
            check_hash.update(view)
        return key_hash.hexdigest(), check_hash.hexdigest(), []
    chunks = ChunkHasher(tail.spans)
    for view in views:
        for start in range(0, view.nbytes, _HASH_PIECE):
            piece = view[start : start + _HASH_PIECE] if view.nbytes > _HASH_PIECE else view
            chunks.update(piece)
            key_hash.update(piece)
            check_hash.update(piece)
    tail_parts: list[Buffer] = list(tail.finish(chunks.digests()))
    for part in tail_parts:
        key_hash.update(part)
        check_hash.update(part)
    return key_hash.hexdigest(), check_hash.hexdigest(), tail_parts


def _write_all(fd: int, views: Sequence[memoryview]) -> None:
    """Write every byte of ``views`` to ``fd`` (``writev`` may write less than asked)."""
    pending = list(views)
    start = 0
    while start < len(pending):
        written = os.writev(fd, pending[start : start + _IOV_MAX])
        while written and start < len(pending):
            head = pending[start]
            if written >= head.nbytes:
                written -= head.nbytes
                start += 1
            else:
                pending[start] = head[written:]
                written = 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- backends


class LocalBackend:
    """Blobs as files under ``root``, sharded as ``ab/cd/<key>`` (``file://`` URLs).

    Writes go to a temporary file that is fsynced and then renamed into place, and the directory is
    fsynced too: a reader sees a complete blob or none, and a blob survives a crash once
    :meth:`write` returns.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        """Keep blobs under ``root`` (created if missing)."""
        self.root = Path(root).expanduser().absolute()
        make_private_dir(self.root)
        self.url = self.root.as_uri()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        if not _KEY_RE.fullmatch(key):
            raise ValidationError(f"invalid blob key {key!r}: expected 4 to 128 lower-case hexadecimal characters")
        return self.root / key[:2] / key[2:4] / key

    def _shard_dir(self, key: str) -> Path:
        """The directory of ``key``, created (durably) if missing."""
        shard = self.path(key).parent
        if not shard.is_dir():
            make_private_dir(shard)
            # New directory entries must be durable before a blob inside them is.
            _fsync_dir(shard.parent)
            _fsync_dir(self.root)
        return shard

    def exists(self, key: str) -> bool:
        """Whether a complete blob is stored under ``key``."""
        return self.path(key).is_file()

    def _write_temp(
        self, directory: Path, views: Sequence[memoryview], more: Callable[[], Sequence[Buffer]] | None = None
    ) -> Path:
        """Write ``views`` (then the buffers ``more()`` returns) durably to a new temporary file in ``directory``."""
        tmp = directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            try:
                _write_all(fd, views)
                if more is not None:
                    # The body goes to disk while ``more()`` is still being computed; the second
                    # fsync then has only the last buffers to write.
                    os.fsync(fd)
                    _write_all(fd, _views(more()))
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def write(self, key: str, parts: Sequence[Buffer]) -> None:
        """Store the concatenation of ``parts`` under ``key``: atomically and durably."""
        shard = self._shard_dir(key)
        tmp = self._write_temp(shard, _views(parts))
        try:
            os.replace(tmp, shard / key)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(shard)

    def write_pending(
        self,
        parts: Sequence[Buffer],
        key: Callable[[], str],
        more: Callable[[], Sequence[Buffer]] | None = None,
    ) -> bool:
        """Write ``parts`` (then ``more()``) durably, then store them under ``key()``, called once on disk.

        Lets the caller compute the key, and the last buffers, while the bytes are being written.
        Returns ``False`` (and keeps nothing extra) when a blob with that key already exists.
        """
        tmp = self._write_temp(self.root, _views(parts), more)
        try:
            final_key = key()
            final = self.path(final_key)
            if self.touch(final_key):
                tmp.unlink()
                return False
            shard = self._shard_dir(final_key)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(shard)
        return True

    def read(self, key: str) -> Buffer:
        """The bytes stored under ``key``; ``FileNotFoundError`` when there are none.

        Large blobs come back as a read-only memory map (no copy; blobs are never modified in
        place, and a blob deleted while mapped stays readable); small ones as ``bytes``.
        """
        fd = os.open(self.path(key), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            size = os.fstat(fd).st_size
            if size < MMAP_THRESHOLD:
                chunks = []
                while chunk := os.read(fd, max(size, 65536)):
                    chunks.append(chunk)
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if _MAP_POPULATE:
                # Every page is read by the checksum anyway: map them all in one call.
                mapped = mmap.mmap(fd, size, flags=mmap.MAP_SHARED | _MAP_POPULATE, prot=mmap.PROT_READ)
            else:
                mapped = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        return memoryview(mapped)

    def read_mapped(self, key: str, *, with_identity: bool = False, keep: bool = False) -> Any:
        """The bytes of ``key`` as a read-only memory map whose pages load only when touched.

        ``with_identity=True`` returns ``(bytes, identity)``, the identity naming this version of the
        file (device, inode, size, modification and change times: any write to the file changes it).
        ``keep=True`` reuses (and keeps) the map of an unchanged big file for later reads that keep it.
        """
        return _map_file(self.path(key), with_identity=with_identity, keep=keep)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self.path(key).unlink(missing_ok=True)

    def touch(self, key: str) -> bool:
        """Set the blob's modification time to now (gc keeps it for its grace period); False if missing."""
        # An explicit time: without one the kernel stamps from a coarse clock that can lag
        # time.time(), the clock gc's cutoff comes from, by milliseconds.
        now = time.time_ns()
        try:
            os.utime(self.path(key), ns=(now, now))
        except FileNotFoundError:
            return False
        return True

    def last_used(self, key: str) -> float | None:
        """The blob file's modification time (writes and :meth:`touch` set it), or None when it is gone."""
        try:
            return self.path(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (POSIX seconds); temporary files are skipped."""
        for level1 in _scan_dirs(self.root):
            for level2 in _scan_dirs(Path(level1.path)):
                prefix = level1.name + level2.name
                with os.scandir(level2.path) as entries:
                    for entry in entries:
                        name = entry.name
                        if name.startswith(prefix) and _KEY_RE.fullmatch(name) and entry.is_file():
                            try:
                                yield name, entry.stat().st_mtime
                            except FileNotFoundError:
                                continue  # deleted while listing

    def _aside(self, key: str) -> Path:
        path = self.path(key)
        return path.with_name(_ASIDE_PREFIX + key)

    def set_aside(self, key: str) -> float | None:
        """Move blob ``key`` out of reach (a save of the same bytes then stores them anew) and return
        when it was last used; None when it is gone. :meth:`put_back` or :meth:`discard` follows."""
        aside = self._aside(key)
        try:
            os.rename(self.path(key), aside)
            return aside.stat().st_mtime
        except FileNotFoundError:
            return None

    def put_back(self, key: str) -> None:
        """Return a blob set aside to ``key``, unless a save stored the same bytes there meanwhile."""
        aside = self._aside(key)
        try:
            os.link(aside, self.path(key))  # never replaces a copy written meanwhile (or its newer time)
        except FileExistsError:
            pass
        except FileNotFoundError:
            return  # put back already (by a gc that started meanwhile)
        aside.unlink(missing_ok=True)
        _fsync_dir(self.path(key).parent)

    def is_set_aside(self, key: str) -> bool:
        """Whether gc holds blob ``key`` aside now."""
        return self._aside(key).is_file()

    def discard(self, key: str) -> None:
        """Delete a blob set aside."""
        self._aside(key).unlink(missing_ok=True)

    def put_back_all(self) -> int:
        """Put back every blob a gc that stopped half-way left aside; how many there were."""
        found = 0
        for level1 in _scan_dirs(self.root):
            for level2 in _scan_dirs(Path(level1.path)):
                for aside in Path(level2.path).glob(f"{_ASIDE_PREFIX}*"):
                    key = aside.name[len(_ASIDE_PREFIX) :]
                    if _KEY_RE.fullmatch(key):
                        found += 1
                        self.put_back(key)
        return found

    def remove_stale_temp(self, older_than: float = 3600.0) -> int:
        """Delete temporary files left by interrupted writes older than ``older_than`` seconds."""
        cutoff = time.time() - older_than
        removed = 0
        candidates = [self.root, *(Path(d.path) for d in _scan_dirs(self.root))]
        candidates += [Path(d2.path) for d in _scan_dirs(self.root) for d2 in _scan_dirs(Path(d.path))]
        for directory in candidates:
            for tmp in directory.glob(f"{_TMP_PREFIX}*"):
                try:
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed


class _KeptMaps:
    """The memory maps of recently read big files, by path, each valid for one identity of its file."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[tuple[int, ...], memoryview, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, identity: tuple[int, ...]) -> memoryview | None:
        """The map kept for ``path`` if it maps this identity of the file (a changed file's is dropped)."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            found = self._entries.pop(path, None)
            if found is None or found[0] != identity:
                return None
            self._entries[path] = (identity, found[1], now)
            return found[1]

    def put(self, path: str, identity: tuple[int, ...], data: memoryview) -> None:
        """Keep ``data``, the map of this identity of the file at ``path``."""
        with self._lock:
            self._entries.pop(path, None)
            self._entries[path] = (identity, data, time.monotonic())
            while len(self._entries) > KEPT_MAPS:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every kept map."""
        with self._lock:
            self._entries.clear()

    def _expire(self, now: float) -> None:
        while self._entries:
            path, (_, _, used) = next(iter(self._entries.items()))
            if now - used <= KEPT_MAP_SECONDS:
                return
            del self._entries[path]


_KEPT = _KeptMaps()


def forget_kept_maps() -> None:
    """Drop the memory maps zero-copy reads keep (the next read of each file maps it afresh)."""
    _KEPT.clear()


def _map_file(path: Path, *, with_identity: bool = False, keep: bool = False) -> Any:
    """A read-only memory map of the file at ``path`` (``bytes`` for an empty file).

    ``with_identity=True`` returns ``(bytes, identity)``: (device, inode, size, modification and
    change time in ns) of the file mapped, which any write to it changes. ``keep=True`` reuses the
    map a read with ``keep`` made of the same identity of the file, and keeps a new one (see
    :data:`KEPT_MAPS`).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        stat = os.fstat(fd)
        identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        data: Buffer | None = _KEPT.get(str(path), identity) if keep else None
        if data is None:
            data = memoryview(mmap.mmap(fd, stat.st_size, access=mmap.ACCESS_READ)) if stat.st_size else b""
            if keep and stat.st_size >= MMAP_THRESHOLD:
                _KEPT.put(str(path), identity, data)
    finally:
        os.close(fd)
    if not with_identity:
        return data
    return data, identity


def _scan_dirs(path: Path) -> list[os.DirEntry[str]]:
    """The two-hex-character shard directories directly under ``path``."""
    try:
        with os.scandir(path) as entries:
            return [e for e in entries if len(e.name) == 2 and _KEY_RE.fullmatch(e.name + e.name) and e.is_dir()]
    except FileNotFoundError:
        return []


class MemoryBackend:
    """Blobs in a dict of this process (``memory://`` URLs); for tests and throw-away deployments."""

    def __init__(self, url: str = "memory://") -> None:
        """An empty store named ``url``."""
        self.url = url
        self._blobs: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBackend({self.url!r})"

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        return key in self._blobs

    def write(self, key: str, parts: Sequence[Buffer]) -> None:
        """Store the concatenation of ``parts`` under ``key``."""
        data = b"".join(_views(parts))
        with self._lock:
            self._blobs[key] = (data, time.time())

    def read(self, key: str) -> Buffer:
        """The bytes stored under ``key``; ``FileNotFoundError`` when there are none."""
        try:
            return self._blobs[key][0]
        except KeyError:
            raise FileNotFoundError(f"no blob {key!r} in {self.url}") from None

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._lock:
            self._blobs.pop(key, None)

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with the time it was written."""
        with self._lock:
            items = [(key, mtime) for key, (_, mtime) in self._blobs.items()]
        yield from items

    def touch(self, key: str) -> bool:
        """Record that ``key`` was just used; False when it is not stored."""
        with self._lock:
            found = self._blobs.get(key)
            if found is None:
                return False
            self._blobs[key] = (found[0], time.time())
        return True

    def last_used(self, key: str) -> float | None:
        """When ``key`` was written or touched last, or None."""
        with self._lock:
            found = self._blobs.get(key)
        return None if found is None else found[1]


_memory_backends: dict[str, MemoryBackend] = {}
_memory_lock = threading.Lock()


def _memory_backend(url: str) -> MemoryBackend:
    with _memory_lock:
        backend = _memory_backends.get(url)
        if backend is None:
            backend = _memory_backends[url] = MemoryBackend(url)
        return backend


# --------------------------------------------------------------------------- the store


@dataclass
class BlobStats:
    """Counters of one :class:`BlobStore` (``writes`` counts blobs actually stored)."""

    puts: int = 0
    writes: int = 0
    bytes_written: int = 0
    reads: int = 0


class _HashThread(threading.Thread):
    """Hashes a list of buffers (and a tail) in the background; :meth:`digests` waits for the result."""

    def __init__(self, views: Sequence[memoryview], tail: Tail | None = None) -> None:
        super().__init__(name="flowdeck-blob-hash", daemon=True)
        self._views = views
        self._tail = tail
        self._result: tuple[str, str, list[Buffer]] | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            # One thread: the writer needs the other core, and hashing on every core starves it.
            self._result = _digests(self._views, parallel=False, tail=self._tail)
        except BaseException as exc:
            self._error = exc

    def digests(self) -> tuple[str, str, list[Buffer]]:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class BlobStore:
    """Content-addressed blobs over a :class:`BlobBackend`, verified on every read.

    The key of a blob is the BLAKE3-256 digest of its bytes, so equal bytes are stored once;
    its xxh3-128 checksum is returned in the :class:`BlobRef` and checked by :meth:`get`.
    """

    def __init__(self, backend: BlobBackend) -> None:
        """A store keeping its blobs in ``backend``."""
        self.backend = backend
        self.stats = BlobStats()
        self._stats_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BlobStore({self.backend!r})"

    @property
    def url(self) -> str:
        """The URL of the backend."""
        return self.backend.url

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        s3_endpoint_url: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_size: int | None = None,
    ) -> BlobStore:
        """A store for ``url``: ``file:///path``, ``memory://name`` or ``s3://bucket/prefix``.

        ``memory://`` URLs name one shared store per process. ``s3_endpoint_url``, ``cache_dir`` and
        ``cache_size`` only apply to S3 (an S3-compatible server and the local read cache).
        """
        parsed = urlparse(url)
        scheme = parsed.scheme.lower()
        if scheme == "file":
            if parsed.netloc not in ("", "localhost"):
                raise ConfigurationError(
                    f"blob URL {url!r} is not an absolute file URL; write it as file:///absolute/path"
                )
            return cls(LocalBackend(Path(unquote(parsed.path))))
        if scheme == "memory":
            return cls(_memory_backend(url))
        if scheme == "s3":
            try:
                from flowdeck.storage.s3_blobs import S3Backend
            except ImportError as exc:
                raise ConfigurationError(
                    f"blob URL {url!r} needs the S3 support, which failed to import ({exc}); "
                    "install it with: pip install 'flowdeck[s3]'"
                ) from exc
            return cls(S3Backend(url, endpoint_url=s3_endpoint_url, cache_dir=cache_dir, cache_size=cache_size))
        supported = ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
        what = f"scheme {parsed.scheme!r}" if parsed.scheme else "no scheme"
        raise ConfigurationError(
            f"blob URL {url!r} has {what}; supported schemes are {supported} "
            "(e.g. file:///var/lib/flowdeck/blobs or s3://bucket/prefix)"
        )

    def _count(self, **increments: int) -> None:
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def put(self, parts: Sequence[Buffer], *, tail: Tail | None = None) -> BlobRef:
        """Store the concatenation of ``parts`` and ``tail`` (unless stored already) and return its reference.

        The blob is durable when this returns. Large blobs are hashed while their bytes are being
        written (when the backend offers ``write_pending``), the checksums of the ``tail``'s chunks
        in the same pass; if an equal blob turns out to exist already, the new copy is discarded and
        ``stats.writes`` does not change.
        """
        views = _views(parts)
        size = sum(v.nbytes for v in views) + (tail.size if tail is not None else 0)
        self._count(puts=1)
        write_pending = getattr(self.backend, "write_pending", None)
        if size >= PARALLEL_HASH_THRESHOLD and write_pending is not None:
            hasher = _HashThread(views, tail)
            hasher.start()
            try:
                if tail is None:
                    written = write_pending(views, lambda: hasher.digests()[0])
                else:
                    written = write_pending(views, lambda: hasher.digests()[0], lambda: hasher.digests()[2])
            finally:
                key, checksum, _ = hasher.digests()
        else:
            key, checksum, tail_parts = _digests(views, tail=tail)
            # A reused blob is touched, not just looked at: gc spares blobs used within its grace
            # period, so an old unreferenced blob this save is about to refer to stays.
            written = not self._touch(key)
            if written:
                self.backend.write(key, [*views, *_views(tail_parts)])
        if written:
            self._count(writes=1, bytes_written=size)
        return BlobRef(key=key, size=size, checksum=checksum)

    def get(self, key: str, checksum: str | None = None, *, mapped: bool = False, verify: bool = True) -> Buffer:
        """The verified bytes of blob ``key``.

        ``checksum`` is the xxh3-128 digest from the :class:`BlobRef`; without it the bytes are
        checked against the BLAKE3 key itself. Raises :class:`~flowdeck.errors.IntegrityError` when
        the blob is missing or its bytes do not match. ``mapped=True`` returns a read-only memory map
        where the backend can (local files, S3 blobs in the read cache) whose pages load when touched;
        ``verify=False`` skips the whole-blob check, for a caller that checks the parts it reads.
        """
        read_mapped = getattr(self.backend, "read_mapped", None) if mapped else None
        try:
            data = self._reading(key, lambda: read_mapped(key) if read_mapped is not None else self.backend.read(key))
        except FileNotFoundError:
            raise self._missing(key) from None
        self._count(reads=1)
        if verify:
            self.check(key, checksum, data)
        return data

    def get_mapped(self, key: str, *, keep: bool = False) -> tuple[Buffer, tuple[Any, ...] | None]:
        """The bytes of blob ``key``, NOT verified, as a read-only memory map where the backend can.

        Returns ``(bytes, identity)``: ``identity`` names exactly these bytes (the key and the identity
        of the file mapped, which any write to the file changes), or is None when they are not a
        mapped file or the file changed within the last 2 seconds (file times come from a coarse
        clock: a second write in the same tick would keep them). The caller checks what it reads
        (:meth:`check`, or per-chunk checksums). ``keep=True`` (for zero-copy reads, whose frames
        hold the map anyway) reuses the map of a big file an earlier such read made, while the file
        is unchanged, and keeps a new one: see :data:`KEPT_MAPS`.
        """
        read_mapped = getattr(self.backend, "read_mapped", None)
        try:
            if read_mapped is None:
                data, identity = self._reading(key, lambda: self.backend.read(key)), None
            else:
                data, identity = self._reading(key, lambda: read_mapped(key, with_identity=True, keep=keep))
        except FileNotFoundError:
            raise self._missing(key) from None
        self._count(reads=1)
        if identity is None or time.time_ns() - max(identity[-2:]) < _SETTLED_NS:
            return data, None
        return data, (key, *identity)

    def _reading(self, key: str, read: Callable[[], T]) -> T:
        """``read()``, waiting (at most :data:`_ASIDE_WAIT_SECONDS`) while gc holds blob ``key`` aside.

        gc sets a blob aside only while no row refers to it; a save that has just reused it may
        read it back before gc has asked again and put it back.
        """
        try:
            return read()
        except FileNotFoundError:
            is_set_aside = getattr(self.backend, "is_set_aside", None)
            if is_set_aside is None:
                raise
        deadline = time.monotonic() + _ASIDE_WAIT_SECONDS
        while is_set_aside(key) and time.monotonic() < deadline:
            time.sleep(0.005)
            try:
                return read()
            except FileNotFoundError:
                pass
        # gc may have put the blob back between the failed read and the question (a copy and a
        # delete on S3): one more read tells.
        return read()

    def _missing(self, key: str) -> IntegrityError:
        return IntegrityError(f"blob {key} referenced but missing from {self.url}; the value it held cannot be loaded")

    def check(self, key: str, checksum: str | None, data: Buffer) -> None:
        """Raise :class:`~flowdeck.errors.IntegrityError` unless ``data`` are the bytes of blob ``key``.

        ``checksum`` is the xxh3-128 digest from the :class:`BlobRef`; without it the BLAKE3 key is used.
        """
        if checksum is not None:
            actual = xxhash.xxh3_128_hexdigest(data)
            expected, algorithm = checksum, "xxh3-128"
        else:
            actual = blake3.blake3(data, max_threads=_blake3_threads(len(data))).hexdigest()
            expected, algorithm = key, "BLAKE3"
        if actual != expected:
            raise IntegrityError(
                f"blob {key} in {self.url} is corrupted: its stored bytes do not match the {algorithm} "
                f"digest recorded when it was written (expected {expected}, got {actual}); "
                "the value was not returned. Restore the blob from a backup or save the value again."
            )

    def exists(self, key: str) -> bool:
        """Whether blob ``key`` is stored."""
        return self.backend.exists(key)

    def _touch(self, key: str) -> bool:
        touch = getattr(self.backend, "touch", None)
        return touch(key) if touch is not None else self.backend.exists(key)

    def last_used(self, key: str) -> float | None:
        """When blob ``key`` was last written or reused by a save (POSIX seconds), None when it is gone.

        gc asks this again right before deleting: a save that reused the bytes meanwhile shows here.
        """
        last_used = getattr(self.backend, "last_used", None)
        if last_used is not None:
            return last_used(key)
        return time.time() if self.backend.exists(key) else None  # unknown: treat as just used

    def delete(self, key: str) -> None:
        """Remove blob ``key`` if present."""
        self.backend.delete(key)

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (POSIX seconds)."""
        return self.backend.iter_keys()

    @property
    def can_set_aside(self) -> bool:
        """Whether the backend can move a blob out of reach before deleting it (local files and S3 can)."""
        return hasattr(self.backend, "set_aside")

    def set_aside(self, key: str) -> float | None:
        """Move blob ``key`` where no save or read finds it, and return when it was last used (None: gone).

        gc does this before its last checks: a save of the same bytes that comes later stores them
        anew instead of reusing the blob gc is about to delete. :meth:`put_back` or
        :meth:`discard_set_aside` must follow. Only where :attr:`can_set_aside`.
        """
        return self.backend.set_aside(key)

    def put_back(self, key: str) -> None:
        """Return blob ``key`` from where :meth:`set_aside` moved it (a copy stored meanwhile is kept)."""
        self.backend.put_back(key)

    def discard_set_aside(self, key: str) -> None:
        """Delete blob ``key``, set aside by :meth:`set_aside`."""
        self.backend.discard(key)

    def put_back_all(self) -> int:
        """Put back every blob an interrupted gc left set aside; how many (0 where blobs are never set aside)."""
        put_back_all = getattr(self.backend, "put_back_all", None)
        return put_back_all() if put_back_all is not None else 0

    def remove_stale_temp(self, older_than: float = 3600.0) -> int:
        """Delete partial writes older than ``older_than`` seconds, where the backend leaves any."""
        remove = getattr(self.backend, "remove_stale_temp", None)
        return remove(older_than) if remove is not None else 0
