"""A real S3 server on loopback for the tests: moto's ``ThreadedMotoServer`` on 127.0.0.1.

``s3_server`` (session scope) starts the server on a free port, points the AWS environment at dummy
credentials, and counts every request the server answers (``S3Server.requests``), so tests can prove
what reached the server (e.g. that a value was uploaded only once). ``s3_auth_server`` starts a
second moto server in its own process with authentication switched on, for credential failures.

Both skip unless ``FLOWDECK_TEST_S3=1``. Import them from ``conftest.py``:
``from s3_server import s3_auth_server, s3_server``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest

__all__ = [
    "DUMMY_AWS_ENV",
    "S3Request",
    "S3Server",
    "free_port",
    "make_counting_server",
    "s3_auth_server",
    "s3_enabled",
    "s3_server",
]

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def s3_enabled() -> bool:
    """Whether the S3 tests should run (``FLOWDECK_TEST_S3=1``)."""
    return os.environ.get("FLOWDECK_TEST_S3") == "1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class S3Request:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, list[str]]

    @property
    def bucket(self) -> str:
        """The bucket addressed (path-style URLs), or '' for service-level calls."""
        return self.path.lstrip("/").split("/", 1)[0]

    @property
    def key(self) -> str:
        """The object key addressed, or '' for bucket-level calls."""
        parts = self.path.lstrip("/").split("/", 1)
        return parts[1] if len(parts) == 2 else ""

    @property
    def is_object_upload(self) -> bool:
        """A PutObject, an UploadPart or a CreateMultipartUpload of an object."""
        if not self.key:
            return False
        if self.method == "PUT":
            # Sub-resource PUTs (?tagging, ?acl, ...) change an object but upload no bytes.
            return not set(self.query) - {"x-id", "partNumber", "uploadId"}
        return self.method == "POST" and "uploads" in self.query


class _CountingApp:
    """WSGI middleware recording each request before moto answers it."""

    def __init__(self, app: Any, log: list[S3Request], lock: threading.Lock) -> None:
        self.app = app
        self.log = log
        self.lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = S3Request(
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", ""),
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
        )
        with self.lock:
            self.log.append(request)
        return self.app(environ, start_response)


def _counting_server_class() -> type:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class _CountingMotoServer(ThreadedMotoServer):
        """``ThreadedMotoServer`` whose WSGI app records every request it serves."""

        def __init__(self, ip_address: str, port: int) -> None:
            super().__init__(ip_address=ip_address, port=port, verbose=False)
            self.log: list[S3Request] = []
            self.lock = threading.Lock()

        def _server_entry(self) -> None:
            # Same as moto's own entry point, with the counting middleware in front of the app.
            app = _CountingApp(DomainDispatcherApplication(create_backend_app), self.log, self.lock)
            self._server = make_server(self._ip_address, self._port, app, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    return _CountingMotoServer


def make_counting_server(ip_address: str = "127.0.0.1", port: int | None = None) -> Any:
    """A not yet started moto server on ``ip_address:port`` (a free port by default) that logs requests."""
    return _counting_server_class()(ip_address, port or free_port())


@dataclass
class S3Server:
    """A running S3 server: where it listens and what it was asked."""

    endpoint_url: str
    server: Any = field(repr=False)

    def client(self, **kwargs: Any) -> Any:
        """A fresh boto3 S3 client on this server (extra arguments go to ``boto3.client``)."""
        import boto3

        kwargs.setdefault("region_name", "us-east-1")
        return boto3.client("s3", endpoint_url=self.endpoint_url, **kwargs)

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name by default) and return its name."""
        bucket = name or f"flowdeck-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    @property
    def requests(self) -> list[S3Request]:
        """Every request served so far, oldest first."""
        with self.server.lock:
            return list(self.server.log)

    def mark(self) -> int:
        """A position in the request log, for :meth:`requests_since`."""
        with self.server.lock:
            return len(self.server.log)

    def requests_since(self, mark: int, *, bucket: str | None = None) -> list[S3Request]:
        """Requests served after ``mark`` (to ``bucket`` only, when given)."""
        with self.server.lock:
            found = self.server.log[mark:]
        return [r for r in found if bucket is None or r.bucket == bucket]

    def counts(self, mark: int = 0, *, bucket: str | None = None) -> Counter[str]:
        """Requests per HTTP method served after ``mark`` (to ``bucket`` only, when given)."""
        return Counter(r.method for r in self.requests_since(mark, bucket=bucket))

    def uploads(self, mark: int = 0, *, bucket: str | None = None) -> list[S3Request]:
        """Object uploads (PutObject, CreateMultipartUpload, UploadPart) served after ``mark``."""
        return [r for r in self.requests_since(mark, bucket=bucket) if r.is_object_upload]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 for the whole session, with dummy AWS credentials in the environment."""
    if not s3_enabled():
        pytest.skip("S3 tests need FLOWDECK_TEST_S3=1 (they start a local S3 server)")
    # Session scope cannot use ``monkeypatch``; save and restore the variables by hand.
    saved = {name: os.environ.get(name) for name in DUMMY_AWS_ENV}
    os.environ.update(DUMMY_AWS_ENV)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_counting_server()
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint_url=f"http://{host}:{port}", server=server)
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def s3_auth_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server, in its own process, that checks credentials.

    Authentication in moto is a process-wide switch, so it runs apart from ``s3_server``. It knows no
    IAM users: every access key is refused with ``InvalidAccessKeyId``.
    """
    if not s3_enabled():
        pytest.skip("S3 tests need FLOWDECK_TEST_S3=1 (they start a local S3 server)")
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server with authentication exited with code {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server not listening on 127.0.0.1:{port} after 30 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
