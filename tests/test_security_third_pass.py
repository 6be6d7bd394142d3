"""Attacks by logged-in users and by end users feeding pages, each performed and shown to do no harm.

Values nested far deeper than any input needs (sent to inputs, callbacks and headless runs), a
follower who keeps an event stream open after the run's owner revoked the share, connection URLs
and hosts that one parser reads as a public host and the client connects to as loopback, cloud
metadata addresses that are neither loopback nor link-local, and secret params in the repr of a
connection. alice owns things, bob is in her group, carol is a stranger and root is an admin.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fixtures.server_support import CHURN_CSV, PASSWORDS, add_people, http_login, serving, start_run
from flowdeck.auth.users import resolve_principal
from flowdeck.elements.base import MAX_VALUE_DEPTH, check_value_depth
from flowdeck.errors import AccessError, NotFoundError, ValidationError
from flowdeck.server import create_app
from flowdeck.storage.connection_urls import ConnectionSpec, private_target, unclear_targets
from flowdeck.store import connections as connection_service

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REACTIVE = f"{FIXTURES / 'callback_flows.py'}:reactive"
CHURN = str(Path(__file__).resolve().parents[1] / "examples" / "churn" / "flow.py")


@pytest.fixture
def app(embedded: Path) -> Iterator[Any]:
    add_people()
    server = create_app([REACTIVE, CHURN])
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


def _client(app: Any, name: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    response = client.post("/api/login", json={"name": name, "password": PASSWORDS[name]})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- values nested deeper than any input takes -----------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 500, 900])
def test_deeply_nested_values_are_refused_without_a_server_error(app: Any, depth: int) -> None:
    alice = _client(app, "alice")
    run_id = start_run(alice, "Reactive")
    value_url = f"/api/runs/{run_id}/steps/Choose/elements/Region/value"
    json_body = {"content-type": "application/json"}

    response = alice.put(value_url, content=f'{{"value": {_nested(depth)}}}', headers=json_body)
    assert response.status_code == 422, response.text[:300]
    assert "levels deep" in response.json()["detail"]

    for body in (
        f'{{"kind": "set_value", "target": "Region", "value": {_nested(depth)}}}',
        f'{{"kind": "click", "target": "Notify", "input_data": {{"a": {_nested(depth)}}}}}',
    ):
        response = alice.post(f"/api/runs/{run_id}/callbacks", content=body, headers=json_body)
        assert response.status_code == 400, response.text[:300]

    headless = f'{{"steps": {{"Choose": {{"Region": {{"value": {_nested(depth)}}}}}}}}}'
    response = alice.post("/api/flows/Reactive/runs", content=headless, headers=json_body)
    assert response.status_code == 422, response.text[:300]

    # The run is unharmed and takes a proper value.
    assert alice.put(value_url, json={"value": "west"}).status_code == 200
    assert alice.get(f"/api/runs/{run_id}").json()["state"] == "awaiting_input"


def test_value_depth_check_walks_without_recursion() -> None:
    check_value_depth({"a": [1, {"b": [2, 3]}]}, "a value")
    check_value_depth("[" * 10_000, "a string is not nested")
    deep: Any = []
    for _ in range(200_000):  # far beyond the interpreter's recursion limit
        deep = [deep]
    with pytest.raises(ValidationError, match="more than 32 levels deep"):
        check_value_depth(deep, "a value")


# --- an open event stream after the share is revoked ---------------------------------------------------


def test_a_follower_whose_share_is_revoked_learns_nothing_more_from_an_open_stream(embedded: Path) -> None:
    add_people()
    server = create_app([REACTIVE])
    try:
        with serving(server) as url:
            alice, bob = http_login(url, "alice"), http_login(url, "bob")
            run_id = start_run(alice, "Reactive")  # type: ignore[arg-type]
            assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
            lines: list[tuple[float, str]] = []
            opened = threading.Event()

            def follow() -> None:
                with bob.stream("GET", f"/api/runs/{run_id}/events") as response:
                    assert response.status_code == 200
                    opened.set()
                    for line in response.iter_lines():
                        lines.append((time.monotonic(), line))

            follower = threading.Thread(target=follow, daemon=True)
            follower.start()
            assert opened.wait(10)
            time.sleep(0.5)
            assert alice.delete(f"/api/runs/{run_id}/shares/user/bob").status_code == 204
            revoked = time.monotonic()
            secret_region = "west"
            response = alice.post(
                f"/api/runs/{run_id}/callbacks", json={"kind": "set_value", "target": "Region", "value": secret_region}
            )
            assert response.status_code == 200, response.text
            follower.join(timeout=15)
            assert not follower.is_alive(), "the revoked follower's stream stayed open"
            after = [line for at, line in lines if at >= revoked]
            assert "event: deleted" in after
            assert not any(line.startswith("event: callback") for line in after), after
            assert not any(secret_region in line for line in after), after
            assert bob.get(f"/api/runs/{run_id}").status_code == 404
            alice.close()
            bob.close()
    finally:
        server.state.flowdeck.executor.shutdown(wait=True)


# --- connection targets that parsers read differently ------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback port that records every request reaching it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    hits.append(conn.recv(1024))
                except OSError:
                    hits.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1], hits
    stop.set()
    thread.join(timeout=5)
    sock.close()


def test_a_backslash_url_cannot_carry_an_s3_client_to_loopback(app: Any, listener: tuple[int, list[bytes]]) -> None:
    port, hits = listener
    carol = _client(app, "carol")
    hostile = [
        {"params": {"endpoint_url": f"http://127.0.0.1:{port}\\@example.com"}},
        {"params": {"endpoint_url": f"http://127.0.0.1:{port}\\\\@example.com/"}},
        {"params": {"endpoint": f"127.0.0.1:{port}\\@example.com"}},
        {"params": {"endpoint_url": f"http://127.0.0.1:{port}\t@example.com"}},
        {"host": "127.0.0.1\\@example.com", "port": port},
    ]
    for number, fields in enumerate(hostile):
        body = {"name": f"bucket{number}", "type": "s3", "username": "AKIAEXAMPLE", "password": "sekrit-key"}
        response = carol.post("/api/connections", json={**body, **fields})
        assert response.status_code == 422, (fields, response.text)
        assert "sekrit-key" not in response.text
    # Had one been stored, a step of carol's would have used it like this.
    for number in range(len(hostile)):
        with pytest.raises(NotFoundError):  # nothing was stored
            connection_service.get_boto3_s3_client(resolve_principal("carol"), f"bucket{number}").list_buckets()
    time.sleep(0.3)
    assert hits == []


def test_driver_host_syntax_that_hides_a_loopback_target_is_refused(app: Any) -> None:
    carol = _client(app, "carol")
    for host in ("tcp:127.0.0.1", "127.0.0.1\\SQLEXPRESS", "db.example.com/../127.0.0.1", "a b"):
        response = carol.post(
            "/api/connections", json={"name": "db", "type": "postgresql", "host": host, "password": "pw-12345678"}
        )
        assert response.status_code == 422, (host, response.text)
    # Plain names, lists of them, addresses and host:port stay accepted.
    for number, host in enumerate(("db.example.com", "db1.example.com,db2.example.com", "203.0.113.7", "2001:db8::7")):
        response = carol.post("/api/connections", json={"name": f"ok{number}", "type": "postgresql", "host": host})
        assert response.status_code == 201, (host, response.text)
    response = carol.post(
        "/api/connections",
        json={"name": "minio", "type": "s3", "host": "minio.example.com:9000", "username": "k", "password": "s"},
    )
    assert response.status_code == 201, response.text
    # Admins are trusted with the server's network: they keep every form.
    root = _client(app, "root")
    response = root.post("/api/connections", json={"name": "named", "type": "postgresql", "host": "tcp:127.0.0.1"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"type": "postgresql", "host": "fd00:ec2::254"}, "host"),
        ({"type": "postgresql", "host": "[fd00:ec2::254]"}, "host"),
        ({"type": "mysql", "host": "100.100.100.200"}, "host"),
        (
            {"type": "s3", "username": "k", "password": "s", "params": {"endpoint_url": "http://[fd00:ec2::254]/"}},
            "url",
        ),
        ({"type": "api", "params": {"base_url": "http://100.100.100.200/latest/meta-data/"}}, "url"),
    ],
)
def test_cloud_metadata_addresses_that_are_not_link_local_are_refused(
    app: Any, fields: dict[str, Any], where: str
) -> None:
    carol = _client(app, "carol")
    response = carol.post("/api/connections", json={"name": "meta", **fields})
    assert response.status_code == 403, (where, response.text)
    assert "cloud metadata" in response.json()["detail"]


def test_unclear_targets_and_metadata_addresses_in_the_library() -> None:
    assert private_target("fd00:ec2::254", resolve=False) is not None
    assert private_target("::ffff:100.100.100.200", resolve=False) is not None
    assert private_target("fd00:ec2::253", resolve=False) is None
    spec = ConnectionSpec("s", "s3", params={"endpoint_url": "http://127.0.0.1:9\\@example.com"})
    assert unclear_targets(spec)
    assert unclear_targets(ConnectionSpec("s", "s3", params={"endpoint_url": "https://s3.example.com:9000/x"})) == []
    assert (
        unclear_targets(ConnectionSpec("p", "postgresql", host="/var/run/postgresql")) == []
    )  # a socket: refused later


def test_a_restricted_connection_stored_before_the_check_is_refused_on_use(embedded: Path) -> None:
    add_people()
    connection_service.add_connection(
        "legacy", "s3", "carol", username="k", password="s", restricted=True, endpoint_url="https://s3.example.com"
    )
    from flowdeck.storage.deployment import get_storage
    from flowdeck.storage.schema import connections as table

    with get_storage().db.write() as conn:  # as an older version would have stored it
        conn.execute(
            table.update()
            .where(table.c.name == "legacy")
            .values(params_json='{"endpoint_url": "http://127.0.0.1:9\\\\@example.com"}')
        )
    with pytest.raises((ValidationError, AccessError)):
        connection_service.get_boto3_s3_client(resolve_principal("carol"), "legacy")


# --- secrets in reprs --------------------------------------------------------------------------------


def test_a_connection_spec_repr_hides_the_password_and_every_secret_param() -> None:
    spec = ConnectionSpec(
        "warehouse",
        "postgresql",
        host="db.example.com",
        username="etl",
        secret="Pw-top",
        params={"sslpassword": "Ssl-top", "options": "https://bot:Url-top@example.com/", "application_name": "app"},
    )
    for text in (repr(spec), str(spec), f"{spec}", f"{[spec]}"):
        for secret in ("Pw-top", "Ssl-top", "Url-top"):
            assert secret not in text, text
    assert "application_name': 'app'" in repr(spec)


def test_a_hostile_upload_through_a_callback_and_headless_keeps_its_limits(app: Any) -> None:
    """Uploads that skip the upload route (callback events, headless runs) are checked the same way."""
    alice = _client(app, "alice")
    run_id = start_run(alice, "Customer churn")
    data = base64.b64encode(CHURN_CSV.read_bytes()).decode()
    for name in ("x\r\nSet-Cookie: a=b.csv", "a\u202ecsv.exe", ".."):
        event = {"kind": "upload", "target": "Customer data", "value": {"filename": name, "data_base64": data}}
        assert alice.post(f"/api/runs/{run_id}/callbacks", json=event).status_code == 422
        headless = {"steps": {"Upload customers": {"Customer data": {"base64": data, "filename": name}}}}
        assert alice.post("/api/flows/Customer churn/runs", json=headless).status_code == 422
    path = {"steps": {"Upload customers": {"Customer data": {"value": "/etc/passwd", "filename": "x.csv"}}}}
    response = alice.post("/api/flows/Customer churn/runs", json=path)
    assert response.status_code == 422 and "not a path" in response.json()["detail"]
