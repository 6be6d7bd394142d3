"""Attacks by logged-in users over real HTTP, each performed and shown to do no harm.

Secrets put where drivers and error paths might echo them, hostile upload file names, another
user's triggers and API tokens. The server runs under uvicorn on a loopback port; alice owns
things, carol is a stranger to her and root is an admin.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.server_support import (
    CHURN_CSV,
    add_people,
    element_id,
    http_login,
    make_app,
    serving,
    wait_idle,
)
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.schema import connections as connections_table

SECRET = "Pw-" + uuid.uuid4().hex
PARAM_SECRET = "Ssl-" + uuid.uuid4().hex
URL_SECRET = "Url-" + uuid.uuid4().hex
UPLOAD_STEP = "Upload customers"


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    """The server's base URL, with alice, bob, carol and root."""
    add_people()
    app = make_app()
    with serving(app) as url:
        yield url
    app.state.flowdeck.executor.shutdown(wait=True)


@pytest.fixture
def people(server: str) -> Iterator[dict[str, httpx.Client]]:
    """A logged-in HTTP client per person."""
    clients = {name: http_login(server, name) for name in ("alice", "carol", "root")}
    yield clients
    for client in clients.values():
        client.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (SECRET, PARAM_SECRET, URL_SECRET):
            assert secret not in text, text


# --- secrets in error paths -----------------------------------------------------------------------


def test_failed_adds_and_tests_never_echo_a_password(
    people: dict[str, httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice, root = people["alice"], people["root"]
    odd = f"{SECRET}' host=evil password={SECRET} %41\n"
    seen: list[str] = []
    for body in (
        {"name": "x", "type": "postgresql", "host": "db.example.com", "password": SECRET, "port": "nope"},
        {"name": "x", "type": "postgresql", "host": "db.example.com", "password": SECRET, "params": {"bogus": SECRET}},
        {
            "name": "x",
            "type": "postgresql",
            "host": "db.example.com",
            "password": SECRET,
            "params": {"password": SECRET},
        },
        {"name": "x", "type": "postgresql", "host": "127.0.0.1", "password": SECRET},
        {"name": "x", "type": "postgresql", "host": "db.example.com", "password": "x" * 5000},
        {"name": "x", "type": "nope", "password": SECRET},
        {
            "name": "x",
            "type": "postgresql",
            "host": "db.example.com",
            "password": SECRET,
            "params": {"sslmode": [SECRET]},
        },
        {"name": "x", "type": "postgresql", "host": "db.example.com", "password": SECRET, "params": {"a b": SECRET}},
    ):
        response = alice.post("/api/connections", json=body)
        assert response.status_code in (403, 422), response.text
        seen.append(response.text)
    port = _closed_port()
    for name, password, params in (
        ("odd", odd, {"sslpassword": PARAM_SECRET, "sslmode": "disable"}),
        ("badmode", SECRET, {"sslmode": "bogus"}),
        ("options", SECRET, {"options": "-c bogus"}),
    ):
        body = {
            "name": name,
            "type": "postgresql",
            "host": "127.0.0.1",
            "port": port,
            "database": "d",
            "username": "u",
            "password": password,
            "params": params,
        }
        added = root.post("/api/connections", json=body)
        assert added.status_code == 201, added.text
        tested = root.post(f"/api/connections/{name}/test")
        assert tested.status_code == 200 and tested.json()["ok"] is False, tested.text
        seen.append(tested.text)
        print(tested.text)
    listed = root.get("/api/connections")
    seen.append(listed.text)
    seen.append(caplog.text)
    _no_secret(*seen[:-3])
    _no_secret(seen[-1])


def test_credentials_inside_url_params_are_kept_secret(people: dict[str, httpx.Client]) -> None:
    alice = people["alice"]
    for name, value in (
        ("userinfo", f"https://bot:{URL_SECRET}@api.example.com/v1"),
        ("query", f"https://api.example.com/v1?page=1&token={URL_SECRET}"),
        ("encoded", f"https://api.example.com/v1?pass%77ord={URL_SECRET}"),
    ):
        body = {"name": name, "type": "api", "params": {"base_url": value}}
        assert alice.post("/api/connections", json=body).status_code == 201
    plain = {"name": "plain", "type": "api", "params": {"base_url": "https://api.example.com/v1?page=1"}}
    assert alice.post("/api/connections", json=plain).status_code == 201
    listed = {c["name"]: c for c in alice.get("/api/connections").json()}
    _no_secret(json.dumps(listed))
    assert listed["userinfo"]["protected_params"] == ["base_url"]
    assert listed["plain"]["params"] == {"base_url": "https://api.example.com/v1?page=1"}
    with get_storage().db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(connections_table.select())]
    _no_secret(json.dumps(rows, default=str))


# --- upload file names ----------------------------------------------------------------------------


def _upload_target(client: httpx.Client) -> str:
    created = client.post("/api/runs", json={"flow": "Customer churn"})
    assert created.status_code == 201, created.text
    run_id = created.json()["flow_id"]
    wait_idle(client, run_id)  # type: ignore[arg-type]
    page = client.get(f"/api/runs/{run_id}/steps/{UPLOAD_STEP}/page").json()
    return f"/api/runs/{run_id}/steps/{UPLOAD_STEP}/elements/{element_id(page, 'Customer data')}/upload"


def _raw_upload(client: httpx.Client, url: str, filename: str, data: bytes) -> httpx.Response:
    """Post ``data`` as field ``file`` named ``filename`` byte for byte (httpx would escape it)."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename.encode("utf-8", "surrogatepass")
        + b'"\r\nContent-Type: text/csv\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(url, content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_hostile_upload_file_names_are_refused_or_reduced_to_a_plain_name(people: dict[str, httpx.Client]) -> None:
    alice = people["alice"]
    url = _upload_target(alice)
    data = CHURN_CSV.read_bytes()
    for hostile in (
        "a\x00.csv",
        "a\tb\x1b[31m.csv",
        "\u202evsc.exe.csv",
        "..",
        "x" * 300 + ".csv",
        "a." + "c" * 5000,
    ):
        refused = _raw_upload(alice, url, hostile, data)
        assert refused.status_code == 422, (hostile[:40], refused.text[:300])
        assert len(refused.text) < 2000
    kept = alice.post(url, files={"file": ("../../etc/<img src=x onerror=alert(1)>.csv", data, "text/csv")})
    assert kept.status_code == 200, kept.text
    assert kept.json()["element"]["value"]["filename"] == "<img src=x onerror=alert(1)>.csv"
    windows = alice.post(url, files={"file": ("C:\\Users\\me\\customers.csv", data, "text/csv")})
    assert windows.json()["element"]["value"]["filename"] == "customers.csv"


def test_one_upload_request_carries_one_file(people: dict[str, httpx.Client]) -> None:
    alice = people["alice"]
    url = _upload_target(alice)
    data = CHURN_CSV.read_bytes()
    many = [("file", (f"f{i}.csv", data, "text/csv")) for i in range(5)]
    assert alice.post(url, files=many).status_code == 422


def test_the_web_ui_never_renders_text_as_html() -> None:
    static = Path(__file__).resolve().parents[1] / "src" / "flowdeck" / "server" / "static"
    for script in static.glob("*.js"):
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "srcdoc"):
            assert sink not in text, (script.name, sink)


# --- another user's triggers and tokens -----------------------------------------------------------


def test_a_stranger_gets_404_for_every_trigger_action(people: dict[str, httpx.Client]) -> None:
    from flowdeck.triggers import AssetTrigger, check_triggers

    AssetTrigger(label="scores", name="alice scores", dry_run=True).configure("Customer churn", user_id="alice").start()
    check_triggers()
    carol, alice = people["carol"], people["alice"]
    base = "/api/triggers/alice scores"
    unknown = carol.get("/api/triggers/no such trigger")
    assert unknown.status_code == 404
    for response in (carol.get(base), carol.post(f"{base}/pause"), carol.post(f"{base}/resume"), carol.delete(base)):
        assert response.status_code in (404, 405), (response.request.method, response.text)
        if response.status_code == 404:
            assert response.json()["error"] == "NotFoundError"
            assert "alice" not in response.json()["detail"].replace("alice scores", "")
    assert carol.get("/api/triggers").json() == []
    shown = alice.get(base).json()
    assert shown["active"] is True
    assert people["root"].post(f"{base}/pause").status_code == 204


def test_tokens_are_shown_once_and_strangers_can_neither_list_nor_revoke_them(
    people: dict[str, httpx.Client], server: str
) -> None:
    alice, carol = people["alice"], people["carol"]
    made = alice.post("/api/tokens", json={"label": "<b>ci</b>"})
    assert made.status_code == 201
    token_id, token = made.json()["id"], made.json()["token"]
    assert token not in alice.get("/api/tokens").text
    assert [t["id"] for t in alice.get("/api/tokens").json()] == [token_id]
    assert carol.get("/api/tokens").json() == []
    refused = carol.delete(f"/api/tokens/{token_id}")
    assert refused.status_code == 404
    assert token not in refused.text
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as script:
        assert script.get("/api/me").json()["name"] == "alice"
    assert [t["id"] for t in alice.get("/api/tokens").json()] == [token_id]
    assert alice.delete(f"/api/tokens/{token_id}").status_code == 204
