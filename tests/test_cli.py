"""The ``flowdeck`` command line, run as a real process on the embedded default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from flowdeck.cli import app

ROOT = Path(__file__).resolve().parents[1]
DEMO = [
    "run",
    str(ROOT / "examples/churn/flow.py"),
    "--user",
    "demo",
    "--upload",
    f"Customer data={ROOT / 'examples/churn/customers.csv'}",
    "--set",
    "Target column=churned",
    "--set",
    "Segment by=plan",
]


def _cli_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its flowdeck settings (test variables kept), for ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_") or k.startswith("FLOWDECK_TEST")}
    env["FLOWDECK_HOME"] = str(home)
    env.update(extra)
    return env


def flowdeck_cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = _cli_env(home, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "flowdeck", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )


def on_terminal(home: Path, args: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    """Run the command on a pseudo-terminal; each (prompt, answer) is sent once the prompt shows."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_cli_env(home, COLUMNS="200", TERM="dumb"),
        cwd=ROOT,
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    pending = list(answers)
    search_from = 0
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                if pending and pending[0][0] in seen[search_from:]:
                    _prompt, answer = pending.pop(0)
                    search_from = len(seen)
                    os.write(leader, answer)
            elif proc.poll() is not None:
                break
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return code, seen.decode(errors="replace")


def test_the_demo_runs_to_completion_and_can_be_inspected(home):
    done = flowdeck_cli(home, *DEMO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "Summary: complete" in done.stdout.replace("step ", "").replace("Summary", "Summary", 1)
        or "step Summary: complete" in done.stdout
    )
    assert "(complete)" in done.stdout
    flow_id = done.stdout.split("started run ")[1].split()[0]

    status = flowdeck_cli(home, "status", flow_id, "--user", "demo", "--json")
    data = json.loads(status.stdout)
    assert data["state"] == "complete" and [s["state"] for s in data["steps"]] == ["complete"] * 4
    assert data["steps"][2]["message"] == "done" and data["steps"][2]["progress"] == 100.0

    runs = flowdeck_cli(home, "runs", "--user", "demo")
    assert flow_id in runs.stdout and "Customer churn" in runs.stdout

    page = flowdeck_cli(home, "page", flow_id, "Analyse churn", "--user", "demo")
    assert page.returncode == 0, page.stderr
    assert "Churn by segment table" in page.stdout and "basic" in page.stdout and "15.8 %" in page.stdout

    stranger = flowdeck_cli(home, "status", flow_id, "--user", "eve")
    assert stranger.returncode == 1 and f"no run '{flow_id}'" in stranger.stderr


def test_missing_inputs_without_a_terminal_exit_with_what_is_missing(home):
    done = flowdeck_cli(home, "run", str(ROOT / "examples/churn/flow.py"), "--user", "demo")
    assert done.returncode == 2
    assert "'Customer data'" in done.stderr and "--upload" in done.stderr


def test_a_flow_file_that_does_not_import_is_a_clear_error(home, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import flowdeck\nraise RuntimeError('no such table: customers')\n")
    done = flowdeck_cli(home, "run", str(broken), "--user", "demo")
    assert done.returncode == 1
    assert "failed to import" in done.stderr and "no such table: customers" in done.stderr
    assert "Traceback" not in done.stderr
    missing = flowdeck_cli(home, "run", str(tmp_path / "nope.py"), "--user", "demo")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_users_gc_and_keys(home):
    added = flowdeck_cli(home, "users", "add", "bob", "--group", "analysts", "--admin")
    assert added.returncode == 0, added.stderr
    again = flowdeck_cli(home, "users", "add", "bob")
    assert again.returncode == 1 and "exists already" in again.stderr
    listed = flowdeck_cli(home, "users", "list")
    assert "bob" in listed.stdout and "admin" in listed.stdout and "analysts" in listed.stdout
    gc = flowdeck_cli(home, "gc", "--grace", "0")
    assert gc.returncode == 0 and "examined 0 blobs, removed 0" in gc.stdout
    key = flowdeck_cli(home, "keys", "new").stdout.strip()
    Fernet(key.encode())


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["status"],
        ["runs"],
        ["page"],
        ["users"],
        ["users", "add"],
        ["gc"],
        ["keys"],
        ["connections"],
        ["connections", "add"],
        ["assets"],
        ["serve"],
    ],
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_missing_inputs_are_prompted_for_on_a_terminal(home):
    upload = str(ROOT / "examples/churn/customers.csv").encode() + b"\n"
    code, text = on_terminal(
        home,
        ["run", str(ROOT / "examples/churn/flow.py"), "--user", "demo"],
        [(b"Customer data (file to upload", upload)],
    )
    assert code == 0, text
    assert upload.strip().decode() in text, text  # the prompt was answered
    assert "(complete)" in text
