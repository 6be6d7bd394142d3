"""The server on a real uvicorn on loopback, as `flowdeck serve` runs it: oversized bodies sent over a
socket, slow clients (slowloris), forwarded headers from trusted and untrusted proxies, and live
streams that must end at logout.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from fixtures.server_support import PASSWORDS, add_people, make_app
from flowdeck.cli.serve import uvicorn_options
from flowdeck.config import reconfigure


@contextmanager
def live_server(app: Any, forwarded_allow_ips: str | None = None) -> Iterator[str]:
    """Serve ``app`` with `flowdeck serve`'s uvicorn options on a free loopback port; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {**uvicorn_options("127.0.0.1", port, forwarded_allow_ips), "log_level": "warning", "lifespan": "off"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(embedded: Path) -> Iterator[Callable[..., Any]]:
    """A factory of live servers on the embedded deployment with the test people."""
    add_people()
    apps = []

    @contextmanager
    def serve(forwarded_allow_ips: str | None = None) -> Iterator[str]:
        app = make_app()
        apps.append(app)
        with live_server(app, forwarded_allow_ips) as base:
            yield base

    yield serve
    for app in apps:
        app.state.flowdeck.executor.shutdown(wait=True)


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def _read_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


# --- request bodies -------------------------------------------------------------------------------


def test_a_declared_1_gib_login_body_is_refused_before_it_is_sent(served: Callable[..., Any]) -> None:
    with served() as base, socket.create_connection(("127.0.0.1", _port(base))) as sock:
        sock.sendall(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n{"
        )
        head = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 413 "), head[:200]
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < 20:
            body += sock.recv(4096)
        assert b'"error":"PayloadTooLarge"' in body


def test_a_streamed_oversized_body_is_cut_off_early(served: Callable[..., Any]) -> None:
    chunk = b"x" * 65536
    sent = 0
    with served() as base, socket.create_connection(("127.0.0.1", _port(base))) as sock:
        sock.sendall(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        answered = False
        try:
            while sent < 1024**3:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    answered = True
                    break
        except (BrokenPipeError, ConnectionResetError):
            answered = True
        assert answered
        # The server stopped reading after about max_json_bytes (1 MiB); socket buffers hold a few more.
        assert sent < 64 * 1024**2, sent
        try:
            head = _read_response(sock)
        except (ConnectionResetError, TimeoutError):
            head = b""
        assert head == b"" or head.startswith(b"HTTP/1.1 413 "), head[:200]


# --- slow clients ---------------------------------------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float, drip: bytes | None = None) -> float:
    """Seconds until the server closed ``sock`` (sending ``drip`` a byte at a time meanwhile)."""
    start = time.monotonic()
    sock.setblocking(False)
    position = 0
    while time.monotonic() - start < seconds:
        readable, _, _ = select.select([sock], [], [], 0.25)
        if readable:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - start
            except ConnectionResetError:
                return time.monotonic() - start
        if drip is not None:
            try:
                sock.send(drip[position % len(drip) : position % len(drip) + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
            position += 1
    raise AssertionError(f"the server kept the connection open for {seconds} s")


@pytest.mark.slow
def test_slow_headers_and_stalled_bodies_are_cut_off(served: Callable[..., Any]) -> None:
    reconfigure(header_timeout=1.0, body_timeout=1.0)
    with served() as base:
        port = _port(base)
        # Headers a byte every 0.25 s, forever: closed once the header deadline passes.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /api/flows HTTP/1.1\r\nHost: x\r\n")
            assert 0.8 < _closed_within(sock, 8, drip=b"X-Slow: aaaaaaaaaaaaaaaa\r\n") < 4
        # A connection that never sends anything.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            assert _closed_within(sock, 8) < 4
        # A body that stops half way.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            assert _closed_within(sock, 8) < 4
        # Ordinary clients are not affected, and a keep-alive connection serves several requests.
        with httpx.Client(base_url=base) as client:
            for _ in range(3):
                response = client.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]})
                assert response.status_code == 200
                time.sleep(0.3)


# --- forwarded headers ----------------------------------------------------------------------------


def _login_cookie(base: str, headers: dict[str, str]) -> str:
    response = httpx.post(f"{base}/api/login", json={"name": "alice", "password": PASSWORDS["alice"]}, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["set-cookie"].lower()


def test_the_session_cookie_is_secure_behind_a_trusted_tls_proxy_only(served: Callable[..., Any]) -> None:
    proxy_headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    with served(forwarded_allow_ips="127.0.0.1") as base:
        assert "; secure" in _login_cookie(base, proxy_headers)
        assert "; secure" not in _login_cookie(base, {})
    # Without --forwarded-allow-ips anyone could claim https or another address: ignored.
    with served() as base:
        assert "; secure" not in _login_cookie(base, proxy_headers)


def test_throttling_counts_the_forwarded_address_only_from_a_trusted_proxy(served: Callable[..., Any]) -> None:
    reconfigure(login_free_failures=100, login_address_free_failures=2, login_max_lock_seconds=60)

    def attempt(base: str, forwarded_for: str, password: str = "guess") -> int:
        body = {"name": "bob", "password": password}
        return httpx.post(f"{base}/api/login", json=body, headers={"X-Forwarded-For": forwarded_for}).status_code

    with served(forwarded_allow_ips="127.0.0.1") as base:
        assert [attempt(base, "203.0.113.5") for _ in range(3)] == [401, 401, 429]
        assert attempt(base, "198.51.100.1", PASSWORDS["bob"]) == 200  # another client behind the proxy
    with served() as base:
        # Untrusted: a new X-Forwarded-For per attempt does not escape the address's count.
        codes = [attempt(base, f"198.51.100.{i}") for i in range(10, 13)]
        assert codes == [401, 401, 429]


# --- live streams end at logout -------------------------------------------------------------------


def test_a_live_stream_ends_when_its_session_logs_out(served: Callable[..., Any]) -> None:
    with served() as base, httpx.Client(base_url=base, timeout=20) as alice:
        login = alice.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]})
        alice.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        run = alice.post("/api/runs", json={"flow": "Fragile"})
        assert run.status_code == 201
        run_id = run.json()["flow_id"]
        events: list[str] = []
        ended = threading.Event()
        opened = threading.Event()

        def follow() -> None:
            with (
                httpx.Client(base_url=base, cookies=alice.cookies, timeout=20) as stream_client,
                stream_client.stream("GET", f"/api/runs/{run_id}/events", params={"after": 0}) as stream,
            ):
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        events.append(line[len("event: ") :])
                        opened.set()
            ended.set()

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert opened.wait(10)
        time.sleep(0.5)
        assert not ended.is_set()  # without until_idle the stream stays open
        old_cookies = dict(alice.cookies)
        assert alice.post("/api/logout").status_code == 204
        assert ended.wait(5), "the stream kept delivering after logout"
        assert events[-1] == "logout"
        # And a new stream with the old cookie is refused.
        stale = httpx.get(f"{base}/api/runs/{run_id}/events", cookies=old_cookies)
        assert stale.status_code == 401
        assert json.loads(stale.text) == {
            "error": "AuthError",
            "detail": "your session has expired or ended; log in again at /login",
        }


@pytest.mark.slow
def test_flowdeck_serve_trusts_the_proxies_it_is_told_of(embedded: Path, tmp_path: Path) -> None:
    add_people()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "FLOWDECK_HOME": str(embedded), "FLOWDECK_HEADER_TIMEOUT": "2"}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "serve", "--port", str(port), "--forwarded-allow-ips", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError((tmp_path / "serve.log").read_text()) from None
                time.sleep(0.2)
        assert "; secure" in _login_cookie(base, {"X-Forwarded-Proto": "https"})
        # The header timeout setting reaches the server: a silent connection is closed.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            assert _closed_within(sock, 8) < 5
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_a_flood_of_logins_does_not_take_the_thread_pool(served: Callable[..., Any], monkeypatch: Any) -> None:
    import asyncio

    from flowdeck.auth import accounts
    from flowdeck.auth.users import resolve_principal
    from flowdeck.server import auth

    reconfigure(max_concurrent_hashes=1, login_address_free_failures=1000, login_free_failures=1000)
    monkeypatch.setattr(accounts, "HASH_WAIT_SECONDS", 4.0)
    token = auth.create_token(resolve_principal("alice"), "probe")[1]
    held = accounts._slots()
    assert held.acquire(timeout=1)  # the one password check in flight takes its time

    async def flood(base: str) -> tuple[list[int], float]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            logins = [
                asyncio.ensure_future(client.post("/api/login", json={"name": "bob", "password": "guess"}))
                for _ in range(60)
            ]
            await asyncio.sleep(1.0)  # every login is in: one holds the slot, the rest queue
            start = time.monotonic()
            probe = await client.get("/api/flows", headers={"Authorization": f"Bearer {token}"})
            took = time.monotonic() - start
            assert probe.status_code == 200
            held.release()
            return [r.status_code for r in await asyncio.gather(*logins)], took

    try:
        with served() as base:
            codes, took = asyncio.run(flood(base))
    finally:
        with suppress(ValueError):
            held.release()
    # With the logins queued on worker threads the probe would wait for the 40-thread pool.
    assert took < 2.0, took
    assert set(codes) <= {401, 503} and 401 in codes
