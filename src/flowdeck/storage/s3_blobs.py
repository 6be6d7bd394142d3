"""Blobs in S3 (or any S3-compatible server), with a bounded local read cache.

``S3Backend("s3://bucket/prefix")`` keeps the blob ``<key>`` at ``prefix/<key[:2]>/<key[2:4]>/<key>``.
S3 makes an object visible only once its upload has completed, which gives atomic writes: small
values go up in one ``PutObject``; large ones in a multipart upload that is aborted when any part
fails, so a failed write leaves nothing behind. Large objects are read back with parallel ranged
GETs. Hashing and verification belong to :class:`~flowdeck.storage.blobs.BlobStore`; this module
only moves bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from flowdeck.errors import AccessError, ConfigurationError, ValidationError
from flowdeck.storage.blobs import _map_file

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "MULTIPART_THRESHOLD",
    "PARALLEL_READ_THRESHOLD",
    "PART_SIZE",
    "BackendStats",
    "LocalReadCache",
    "S3Backend",
    "shared_s3_client",
]

Buffer = bytes | bytearray | memoryview
T = TypeVar("T")

MULTIPART_THRESHOLD = 128 * 1024**2
"""Values at least this large are uploaded in parts, several at once (AWS advises parts above ~100 MB)."""
PARALLEL_READ_THRESHOLD = 128 * 1024**2
"""Blobs at least this large are read with parallel ranged GETs (one stream is ~100 MB/s on AWS)."""
PART_SIZE = 16 * 1024**2
"""Size of one multipart part and of one ranged GET."""
DEFAULT_CACHE_SIZE = 2 * 1024**3
"""Bound of the local read cache when none is given."""
MAX_CONCURRENCY = 8
"""Parts uploaded or downloaded at once for one blob."""

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{4,128}$")
_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "403",
    }
)
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


# --------------------------------------------------------------------------- shared clients

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def shared_s3_client(endpoint_url: str | None = None, *, region_name: str | None = None) -> Any:
    """A process-wide boto3 S3 client for ``endpoint_url`` with a connection pool sized for parallel parts.

    boto3 clients are thread-safe, so one is shared by every backend of the process; a forked child
    gets its own (sockets of a pool must not be shared across processes).
    """
    cache_key = (os.getpid(), endpoint_url, region_name)
    client = _clients.get(cache_key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            # A Session per client: the default session is not safe to build clients from in threads.
            session = boto3.session.Session()
            region = region_name or session.region_name or "us-east-1"
            config = Config(
                max_pool_connections=4 * MAX_CONCURRENCY,
                retries={"max_attempts": 5, "mode": "standard"},
                # S3-compatible servers (MinIO, moto, Ceph) are addressed by path, not by bucket host.
                s3={"addressing_style": "path"} if endpoint_url else None,
            )
            client = session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
            _clients[cache_key] = client
        return client


# --------------------------------------------------------------------------- stats


@dataclass
class BackendStats:
    """Counters of what an :class:`S3Backend` did; tests read them to prove what did (not) happen."""

    uploads: int = 0
    multipart_uploads: int = 0
    bytes_uploaded: int = 0
    downloads: int = 0
    bytes_downloaded: int = 0
    cache_hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Add ``counts`` to the named counters."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for f in fields(self):
                if not f.name.startswith("_"):
                    setattr(self, f.name, 0)


# --------------------------------------------------------------------------- local read cache


class LocalReadCache:
    """A bounded directory of blobs read from a remote store, evicting the least recently used.

    Files are written atomically (temporary file, then rename), so several processes may share one
    directory; a reader sees a whole blob or none. Access refreshes a file's modification time,
    which is the LRU order (access times are unreliable on ``noatime``/``relatime`` mounts). The
    cache holds at most ``max_bytes``; a blob larger than that is not cached at all. Entries are not
    verified here: the blob store checks every blob it reads, wherever it came from.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_CACHE_SIZE) -> None:
        """Use ``directory`` (created when missing) holding at most ``max_bytes`` bytes."""
        if max_bytes < 0:
            raise ValidationError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._lock = threading.Lock()
        self._total: int | None = None

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.directory / key[:2] / key

    def get(self, key: str) -> bytes | None:
        """The cached bytes of ``key``, or None when not cached; a hit makes ``key`` most recently used."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            with self._lock:
                self.misses += 1
            return None
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)
        with self._lock:
            self.hits += 1
        return data

    def map(self, key: str) -> Buffer | None:
        """The cached bytes of ``key`` as a read-only memory map, or None when not cached."""
        path = self._path(key)
        try:
            data = _map_file(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)
        with self._lock:
            self.hits += 1
        return data

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is cached (without counting as an access)."""
        return isinstance(key, str) and self._path(key).is_file()

    def put(self, key: str, data: Buffer) -> bool:
        """Cache ``data`` as ``key``, evicting older entries to stay under the bound; False if too large."""
        size = memoryview(data).nbytes
        if size > self.max_bytes:
            return False
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{key}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        with self._lock:
            if self._total is None:
                self._total = self._scan_total()
            else:
                self._total += size
            if self._total > self.max_bytes:
                self._evict_locked()
        return True

    def discard(self, key: str) -> None:
        """Drop ``key`` from the cache if present."""
        path = self._path(key)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        with self._lock:
            if self._total is not None:
                self._total = max(0, self._total - size)

    def size(self) -> int:
        """Bytes currently held (as found on disk)."""
        with self._lock:
            self._total = self._scan_total()
            return self._total

    def clear(self) -> None:
        """Remove every cached blob."""
        with self._lock:
            for path, _, _ in self._entries():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            self._total = 0

    def _entries(self) -> list[tuple[Path, int, float]]:
        found: list[tuple[Path, int, float]] = []
        if not self.directory.is_dir():
            return found
        for shard in os.scandir(self.directory):
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard.path):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                found.append((Path(entry.path), st.st_size, st.st_mtime))
        return found

    def _scan_total(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict_locked(self) -> None:
        # Rescan rather than trust the running total: other processes may share the directory.
        entries = sorted(self._entries(), key=lambda e: e[2])
        total = sum(size for _, size, _ in entries)
        for path, size, _ in entries:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                self.evictions += 1
            total -= size
        self._total = total


# --------------------------------------------------------------------------- backend


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValidationError(
            f"blob key {key!r} is not valid: keys are 4-128 letters, digits, '-' or '_' (a content hash)"
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Backend:
    """A :class:`~flowdeck.storage.blobs.BlobBackend` keeping blobs in an S3 bucket under a prefix."""

    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_size: int | None = None,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        max_concurrency: int = MAX_CONCURRENCY,
        parallel_read_threshold: int = PARALLEL_READ_THRESHOLD,
        client: Any = None,
    ) -> None:
        """Store blobs at ``url`` (``s3://bucket/prefix``).

        ``endpoint_url`` points at an S3-compatible server (``FLOWDECK_S3_ENDPOINT_URL``);
        ``cache_dir``/``cache_size`` enable the local read cache (none without a directory, or with a
        size of 0). Values of ``multipart_threshold`` bytes or more are uploaded in parts of
        ``part_size``, blobs of ``parallel_read_threshold`` bytes or more downloaded in ranges of
        ``part_size``, ``max_concurrency`` at a time. ``client`` replaces the shared boto3 client.
        """
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigurationError(f"blob URL {url!r} is not an S3 URL; write it as s3://bucket/prefix")
        if part_size < 5 * 1024**2:
            raise ConfigurationError(f"S3 multipart parts must be at least 5 MiB, got part_size={part_size}")
        if multipart_threshold < part_size:
            raise ConfigurationError(f"multipart_threshold ({multipart_threshold}) must be >= part_size ({part_size})")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint_url = endpoint_url
        self.multipart_threshold = int(multipart_threshold)
        self.part_size = int(part_size)
        self.max_concurrency = max(1, int(max_concurrency))
        self.parallel_read_threshold = int(parallel_read_threshold)
        self.client = client if client is not None else shared_s3_client(endpoint_url)
        size = DEFAULT_CACHE_SIZE if cache_size is None else int(cache_size)
        self.cache: LocalReadCache | None = (
            LocalReadCache(cache_dir, size) if cache_dir is not None and size > 0 else None
        )
        self.stats = BackendStats()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Backend({self.url!r}, endpoint_url={self.endpoint_url!r})"

    # ----------------------------------------------------------------- helpers

    def object_key(self, key: str) -> str:
        """The S3 object key of blob ``key`` (sharded so listings and hot prefixes spread out)."""
        _check_key(key)
        sharded = f"{key[:2]}/{key[2:4]}/{key}"
        return f"{self.prefix}/{sharded}" if self.prefix else sharded

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="flowdeck-s3")
            return self._pool

    def _call(self, what: str, key: str | None, fn: Callable[[], T]) -> T:
        """Run one S3 call, turning bucket and credential failures into flowdeck errors."""
        try:
            return fn()
        except ClientError as exc:
            code = _error_code(exc)
            if code == "NoSuchBucket":
                raise ConfigurationError(
                    f"S3 bucket {self.bucket!r} of blob store {self.url} does not exist; create it or "
                    "point FLOWDECK_BLOB_URL at an existing bucket"
                ) from exc
            if code in _CREDENTIAL_CODES:
                raise AccessError(
                    f"S3 refused to {what} blob {key or ''} in bucket {self.bucket!r} ({code}); check the "
                    "AWS credentials of this process and their permissions on the bucket"
                ) from exc
            raise

    # ----------------------------------------------------------------- BlobBackend

    def exists(self, key: str) -> bool:
        """Whether a complete blob is stored under ``key`` (always asks S3, never the cache)."""
        obj = self.object_key(key)
        try:
            self._call("check", key, lambda: self.client.head_object(Bucket=self.bucket, Key=obj))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return False
            raise
        return True

    def write(self, key: str, parts: Sequence[Buffer]) -> None:
        """Store the concatenation of ``parts`` under ``key``; the object appears only when complete."""
        obj = self.object_key(key)
        views = [memoryview(p).cast("B") for p in parts]
        size = sum(v.nbytes for v in views)
        if size < self.multipart_threshold:
            single = len(parts) == 1 and isinstance(parts[0], bytes | bytearray)
            body = parts[0] if single else b"".join(views)
            self._call("write", key, lambda: self.client.put_object(Bucket=self.bucket, Key=obj, Body=body))
            self.stats.add(uploads=1, bytes_uploaded=size)
            return
        self._write_multipart(key, obj, views, size)
        self.stats.add(uploads=1, multipart_uploads=1, bytes_uploaded=size)

    def _write_multipart(self, key: str, obj: str, views: list[memoryview], size: int) -> None:
        upload = self._call("write", key, lambda: self.client.create_multipart_upload(Bucket=self.bucket, Key=obj))
        upload_id = upload["UploadId"]
        offsets = list(range(0, size, self.part_size))

        def send(number: int, offset: int) -> dict[str, Any]:
            chunk = _gather(views, offset, min(self.part_size, size - offset))
            resp = self.client.upload_part(
                Bucket=self.bucket, Key=obj, UploadId=upload_id, PartNumber=number, Body=chunk
            )
            return {"PartNumber": number, "ETag": resp["ETag"]}

        try:
            done = self._map(send, list(enumerate(offsets, start=1)))
            self._call(
                "write",
                key,
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=obj, UploadId=upload_id, MultipartUpload={"Parts": done}
                ),
            )
        except BaseException:
            # Without the abort S3 keeps (and bills) the uploaded parts; the object never appears either way.
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=obj, UploadId=upload_id)
            raise

    def _map(self, fn: Callable[[int, int], T], args: list[tuple[int, int]]) -> list[T]:
        """``fn`` over ``args`` on the part pool, in order; the first failure cancels the rest."""
        if len(args) <= 1:
            return [fn(*a) for a in args]
        futures = [self._executor().submit(fn, *a) for a in args]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def read(self, key: str) -> Buffer:
        """The bytes of ``key`` (from the read cache when there); ``FileNotFoundError`` when missing."""
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                self.stats.add(cache_hits=1)
                return cached
        data = self._download(key)
        self.stats.add(downloads=1, bytes_downloaded=len(data))
        if self.cache is not None:
            self.cache.put(key, data)
        return data

    def read_mapped(self, key: str) -> Buffer:
        """The bytes of ``key`` as a memory map of its read-cache file (downloaded into it if needed).

        A blob the cache cannot hold comes back as :meth:`read` returns it.
        """
        if self.cache is None:
            return self.read(key)
        mapped = self.cache.map(key)
        if mapped is not None:
            self.stats.add(cache_hits=1)
            return mapped
        data = self.read(key)
        mapped = self.cache.map(key)
        return data if mapped is None else mapped

    def _download(self, key: str) -> Buffer:
        obj = self.object_key(key)
        try:
            first = self._call("read", key, lambda: self.client.get_object(Bucket=self.bucket, Key=obj))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise FileNotFoundError(f"blob {key} is not in {self.url}") from exc
            raise
        body = first["Body"]
        total = int(first.get("ContentLength") or 0)
        if total < self.parallel_read_threshold:
            return body.read()
        # Large blob: this stream reads the first part while the pool fetches the rest by range.
        buf = bytearray(total)
        etag = first.get("ETag")

        def fetch(start: int, end: int) -> None:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": obj, "Range": f"bytes={start}-{end - 1}"}
            if etag:
                kwargs["IfMatch"] = etag
            data = self._call("read", key, lambda: self.client.get_object(**kwargs))["Body"].read()
            if len(data) != end - start:
                raise OSError(f"short read of blob {key} in {self.url}: bytes {start}-{end} gave {len(data)}")
            buf[start:end] = data

        head = min(self.part_size, total)
        ranges = [(s, min(s + self.part_size, total)) for s in range(head, total, self.part_size)]
        futures = [self._executor().submit(fetch, s, e) for s, e in ranges]
        try:
            data = body.read(head)
            if len(data) != head:
                raise OSError(f"short read of blob {key} in {self.url}: bytes 0-{head} gave {len(data)}")
            buf[:head] = data
            body.close()
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return buf

    def delete(self, key: str) -> None:
        """Remove ``key`` from the bucket and the read cache, if present."""
        obj = self.object_key(key)
        self._call("delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=obj))
        if self.cache is not None:
            self.cache.discard(key)

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored blob key with its last-modified time (POSIX seconds); unfinished uploads absent."""
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = f"{self.prefix}/" if self.prefix else ""
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
        iterator = iter(pages)
        while True:
            page = self._call("list", None, lambda: next(iterator, None))
            if page is None:
                return
            for item in page.get("Contents", []):
                rest = item["Key"][len(prefix) :].split("/")
                # Only objects laid out as ab/cd/<key> are blobs; anything else in the prefix is not ours.
                if len(rest) == 3 and rest[2][:2] == rest[0] and rest[2][2:4] == rest[1]:
                    yield rest[2], item["LastModified"].timestamp()

    def close(self) -> None:
        """Stop the part-transfer threads (the shared client stays open for other backends)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def _gather(views: list[memoryview], offset: int, length: int) -> bytes:
    """``length`` bytes starting at ``offset`` of the concatenation of ``views``."""
    out: list[memoryview] = []
    pos = 0
    end = offset + length
    for view in views:
        nxt = pos + view.nbytes
        if nxt > offset and pos < end:
            out.append(view[max(0, offset - pos) : min(view.nbytes, end - pos)])
        if nxt >= end:
            break
        pos = nxt
    return b"".join(out)
