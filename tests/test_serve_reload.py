"""``flowdeck serve --reload``: fixing a flow file while the server runs, the fix is used at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]

FLOW_SOURCE = """
from flowdeck import Card, Flow, Page, RichText, Section, Step, StepType, StoreInterface


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Hello", [RichText("Press Next.", title="Intro")]), "Main")
        store.update_page(page)


class Answer(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        BODY


flow = Flow(name="Editable", description="Its second step is fixed while the server runs.")
flow.chain([
    Ask(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
    Answer(title="Answer", type=StepType.RESULTS, page=Page("Answer", [Section("Main", [])])),
])
"""
BROKEN = 'raise RuntimeError("version one is broken")'
FIXED = (
    "page = store.get_page()\n"
    '        page.add_card_to_section(Card("Fixed", [RichText("version two ran", title="Result")]), "Main")\n'
    "        store.update_page(page)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowdeck", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _settled(client: httpx.Client, run_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/api/runs/{run_id}").json()
        if not status.get("busy") and status["state"] not in ("running", "acting", "pending"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not settle: {status}")


@pytest.mark.slow
def test_an_edited_flow_file_is_used_for_reruns_and_new_runs(tmp_path: Path) -> None:
    flow_file = tmp_path / "editable.py"
    flow_file.write_text(FLOW_SOURCE.replace("BODY", BROKEN))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_") or k.startswith("FLOWDECK_TEST")}
    env["FLOWDECK_HOME"] = str(tmp_path / "home")
    _cli(env, "users", "add", "alice")
    token = _cli(env, "users", "token", "alice").splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "serve", "--flows", str(flow_file), "--port", str(port), "--reload"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/api/flows").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the server did not come up"
            time.sleep(0.2)

        run_id = client.post("/api/runs", json={"flow": "Editable"}).json()["flow_id"]
        _settled(client, run_id)
        assert client.post(f"/api/runs/{run_id}/next").status_code == 202
        failed = _settled(client, run_id)
        answer = next(s for s in failed["steps"] if s["name"] == "Answer")
        assert answer["state"] == "failed" and "version one is broken" in answer["error"]

        flow_file.write_text(FLOW_SOURCE.replace("BODY", FIXED))
        time.sleep(2.0)  # the watcher looks twice a second

        assert client.post(f"/api/runs/{run_id}/rerun").status_code == 202
        rerun = _settled(client, run_id)
        assert next(s for s in rerun["steps"] if s["name"] == "Answer")["state"] == "awaiting_input", rerun
        page = client.get(f"/api/runs/{run_id}/steps/Answer/page").text
        assert "version two ran" in page

        fresh = client.post("/api/runs", json={"flow": "Editable"}).json()["flow_id"]
        _settled(client, fresh)
        client.post(f"/api/runs/{fresh}/next")
        done = _settled(client, fresh)
        assert next(s for s in done["steps"] if s["name"] == "Answer")["state"] == "awaiting_input", done
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "reloaded flow file" in output, output
