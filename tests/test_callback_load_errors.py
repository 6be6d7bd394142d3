"""A callback whose function can no longer be loaded: the server answers without naming its code.

A page keeps each callback by reference: its module, qualified name and, for a flow loaded from a
file, that file's path on the server. When the flow file changes so that the function is gone, the
page still holds the reference. Everyone who may view the run may fire the callback, so the answer
must not tell them the server's file paths or the function's name: it is a 404 with a fixed message,
and the whole message goes to the server's log. The library, used by the flow writer's own code,
still raises the full message.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import flowdeck
from fixtures.server_support import PASSWORDS, add_people, element_id, http_login, serving, wait_idle
from flowdeck import CallbackLoadError
from flowdeck.flow import callbacks as callback_service
from flowdeck.flow.registry import resolve_spec
from flowdeck.server import create_app
from flowdeck.store.callback_results import CallbackResult

FLOW_SOURCE = """
from flowdeck import Button, Card, Flow, Page, Section, Step, StoreInterface, standard_event_callback


@standard_event_callback
def {name}(store_interface, **_):
    return "done"


class Show(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Actions", [Button(title="Go", on_click={name})]), "")
        store.update_page(page)


changing = Flow(name="Changing", description="").chain([Show(title="Show", page=Page("Show", [Section("", [])]))])
"""


def _write_flow(path: Path, function: str) -> None:
    before = path.stat().st_mtime if path.exists() else 0.0
    path.write_text(FLOW_SOURCE.format(name=function))
    # A coarse file clock could give the rewrite the same time: the loader must see a change.
    os.utime(path, (before + 5, before + 5))


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret_place" / "changing_flow.py"
    path.parent.mkdir()
    _write_flow(path, "approve_order")
    return path


@pytest.fixture
def people(embedded: Path, flow_file: Path) -> Iterator[dict[str, httpx.Client]]:
    add_people()
    app = create_app([f"{flow_file}:changing"], reload=True)  # a changed flow file is loaded again
    with serving(app) as url:
        clients = {name: http_login(url, name) for name in PASSWORDS}
        yield clients
        for client in clients.values():
            client.close()
    app.state.flowdeck.executor.shutdown(wait=True)


def _go_id(client: httpx.Client, run_id: str) -> str:
    return element_id(client.get(f"/api/runs/{run_id}/steps/{quote('Show')}/page").json(), "Go")


def _click(client: httpx.Client, run_id: str, target: str) -> httpx.Response:
    return client.post(f"/api/runs/{run_id}/callbacks", json={"kind": "click", "target": target})


def test_a_callback_gone_from_its_flow_file_is_a_404_that_names_neither_file_nor_function(
    people: dict[str, httpx.Client], flow_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = people["alice"], people["bob"]
    started = alice.post("/api/runs", json={"flow": "Changing"})
    assert started.status_code == 201, started.text
    run_id = started.json()["flow_id"]
    wait_idle(alice, run_id)
    assert alice.post(f"/api/runs/{run_id}/share", json={"users": ["bob"]}).status_code == 204
    target = _go_id(bob, run_id)
    fired = _click(bob, run_id, target)
    assert fired.status_code == 200 and fired.json()["message"] == "done", fired.text

    _write_flow(flow_file, "approve_order_v2")  # the function the page refers to is renamed
    deadline = time.monotonic() + 20
    while _click(alice, run_id, target).status_code == 200:  # until the server has loaded the new file
        assert time.monotonic() < deadline, "the server did not load the changed flow file"
        time.sleep(0.1)
    secrets = [str(flow_file), str(flow_file.parent), flow_file.name, "approve_order", "secret_place"]
    with caplog.at_level(logging.WARNING, logger="flowdeck.server"):
        answers = {name: _click(client, run_id, target) for name, client in (("bob", bob), ("alice", alice))}
    for who, answer in answers.items():
        assert answer.status_code == 404, (who, answer.text)
        body: dict[str, Any] = answer.json()
        assert body == {"error": "NotFoundError", "detail": CallbackLoadError.public_message}
        assert not [secret for secret in secrets if secret in answer.text], (who, answer.text)
        assert "Run the step again" in body["detail"]
    # The operator's log has what the answer leaves out.
    logged = [r.getMessage() for r in caplog.records if "cannot be loaded" in r.getMessage()]
    assert len(logged) >= 2 and all("approve_order" in m and str(flow_file) in m for m in logged)
    # The page is as it was, and the run still works: its step runs again from the changed file.
    assert alice.get(f"/api/runs/{run_id}").json()["current_step"] == "Show"


def test_the_library_still_names_the_function_and_where_it_was_looked_for(embedded: Path, flow_file: Path) -> None:
    flow, _ = resolve_spec(f"{flow_file}:changing")
    run = flowdeck.start(flow, user="alice")
    _write_flow(flow_file, "approve_order_v2")
    # Another process (a restarted server, a worker) loads the changed file: the function is gone.
    script = (
        "import flowdeck\n"
        "try:\n"
        f"    flowdeck.fire_callback({run.flow_id!r}, 'alice', {{'kind': 'click', 'target': 'Go'}})\n"
        "except flowdeck.CallbackLoadError as exc:\n"
        "    assert isinstance(exc, flowdeck.NotFoundError) and isinstance(exc, ValueError)\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "FLOWDECK_HOME": str(embedded)}
    env.pop("FLOWDECK_DATABASE_URL", None)
    env.pop("FLOWDECK_BLOB_URL", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"callback 'approve_order' from '{flow_file}' cannot be loaded"), done.stdout
    assert "keep the function at module level under the same name" in done.stdout


def test_a_worker_that_could_not_load_the_callback_passes_the_same_error_type_back() -> None:
    result = CallbackResult(
        token="t", outcome=None, error_type="CallbackLoadError",
        error="callback 'approve_order' from '/srv/flows/f.py' cannot be loaded", traceback=None,
    )  # fmt: skip
    event = callback_service.CallbackEvent.from_json({"kind": "click", "target": "Go"})
    with pytest.raises(CallbackLoadError, match=r"from '/srv/flows/f\.py' cannot be loaded"):
        callback_service._from_result(result, "run-1", event)
