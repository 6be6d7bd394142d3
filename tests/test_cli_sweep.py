"""The command line as a new user meets it: bad paths, empty standard input, prompts, piped output."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli import DEMO, ROOT, flowdeck_cli

CHURN = str(ROOT / "examples/churn/flow.py")
CUSTOMERS = str(ROOT / "examples/churn/customers.csv")

ASK = """
from flowdeck import Card, Dataset, Dropdown, Flow, Page, Section, Step, StepType, StoreInterface, TextInput


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Inputs",
                [Dropdown(["a", "b"], title="Letter", required=True), TextInput(title="Word", required=True)],
            ),
            "Main",
        )
        store.update_page(page)


class Keep(Step):
    def run(self, flow_metadata):
        import pandas as pd

        store = StoreInterface(**flow_metadata)
        word = store.get_element_value("Ask", "Word")
        store.save_asset(Dataset(pd.DataFrame({"word": [word]}), "words"))


flow = Flow(name="Ask", description="Asks for a letter and a word, keeps the word as an asset.")
flow.chain([
    Ask(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
    Keep(title="Keep", type=StepType.RESULTS, page=Page("Keep", [Section("Main", [])])),
])
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_") or k.startswith("FLOWDECK_TEST")}
    env.pop("COLUMNS", None)
    env["FLOWDECK_HOME"] = str(home)
    env.update(extra)
    return env


def _piped(home: Path, *args: str, stdin: str | None = "") -> subprocess.CompletedProcess:
    """The command with stdout a pipe and no ``COLUMNS`` (as in ``flowdeck runs | grep``)."""
    return subprocess.run(
        [sys.executable, "-m", "flowdeck", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=300,
        cwd=ROOT,
    )


def _on_terminal(home: Path, args: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    """Run the command on a pseudo-terminal; each (prompt, answer) is sent once the prompt shows."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(home, COLUMNS="200", TERM="dumb"),
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


@pytest.fixture
def ask_flow(tmp_path: Path) -> Path:
    path = tmp_path / "ask.py"
    path.write_text(ASK)
    return path


def _no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_directory_as_flow_file_is_a_clear_error(home: Path) -> None:
    done = flowdeck_cli(home, "run", str(ROOT / "examples/churn"), "--user", "demo")
    assert done.returncode == 1
    _no_traceback(done)
    assert "is a directory; give the .py file that defines the flow" in done.stderr


def test_a_missing_upload_file_is_refused_before_a_run_starts(home: Path) -> None:
    for path in ("/no/such/file.csv", str(ROOT / "examples")):
        done = flowdeck_cli(home, "run", CHURN, "--user", "demo", "--upload", f"Customer data={path}")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "give the path of a file to upload" in done.stderr
        assert "started run" not in done.stdout
    assert "Customer churn" not in flowdeck_cli(home, "runs", "--user", "demo").stdout


def test_a_refused_answer_at_a_prompt_is_asked_again(home: Path, ask_flow: Path) -> None:
    code, text = _on_terminal(
        home,
        ["run", str(ask_flow), "--user", "ann"],
        [(b"Letter ['a', 'b']:", b"c\n"), (b"Letter ['a', 'b']:", b"a\n"), (b"Word:", b"hello\n")],
    )
    assert code == 0, text
    assert "'c' is not among the options" in text and "try again" in text
    assert "(complete)" in text and "Traceback" not in text


def test_a_missing_file_at_the_upload_prompt_is_asked_again_and_ctrl_d_says_how_to_go_on(home: Path) -> None:
    code, text = _on_terminal(
        home,
        ["run", CHURN, "--user", "demo"],
        [(b"Customer data (file to upload", b"/no/such.csv\n"), (b"Customer data (file to upload", b"\x04")],
    )
    assert code == 130, text
    assert "Traceback" not in text
    assert "'/no/such.csv': no such file; give the path of a file" in text
    assert "flowdeck next" in text and "--user demo" in text


def test_assets_export_to_a_bad_path_names_the_problem(home: Path, ask_flow: Path) -> None:
    ran = flowdeck_cli(home, "run", str(ask_flow), "--user", "ann", "--set", "Letter=a", "--set", "Word=hi")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    listed = flowdeck_cli(home, "assets", "list", "--user", "ann", "--label", "words")
    asset_id = listed.stdout.split("│")[1].strip()
    missing = flowdeck_cli(home, "assets", "export", asset_id, "/no/such/dir/out.csv", "--user", "ann")
    assert missing.returncode == 1
    _no_traceback(missing)
    assert "the directory '/no/such/dir' does not exist" in missing.stderr
    folder = flowdeck_cli(home, "assets", "export", asset_id, str(home), "--user", "ann")
    assert folder.returncode == 1
    _no_traceback(folder)
    assert "is a directory; give a file path" in folder.stderr


def test_connection_secrets_come_from_piped_stdin_and_an_empty_one_is_refused(home: Path) -> None:
    base = ["connections", "add", "wh", "--type", "postgresql", "--user", "ann", "--host", "127.0.0.1"]
    empty = flowdeck_cli(home, *base, "--secret-stdin")
    assert empty.returncode == 2 and "no secret on standard input" in empty.stderr
    both = flowdeck_cli(home, *base, "--secret-stdin", "--no-secret")
    assert both.returncode == 2
    piped = flowdeck_cli(home, *base, "--port", "1", stdin="pw-not-shown-1\n")
    assert piped.returncode == 0, piped.stderr
    assert "GetPassWarning" not in piped.stderr and "pw-not-shown-1" not in piped.stdout + piped.stderr
    assert "stored" in flowdeck_cli(home, "connections", "list", "--user", "ann").stdout

    tested = flowdeck_cli(home, "connections", "test", "wh", "--user", "ann")
    assert tested.returncode == 1
    _no_traceback(tested)
    assert tested.stderr.startswith("error: connection 'wh' does not work: ")
    assert "pw-not-shown-1" not in tested.stderr

    nobody = flowdeck_cli(home, "connections", "share", "wh", "--user", "ann")
    assert nobody.returncode == 2 and "--with-user NAME" in nobody.stderr


def test_users_commands_give_cli_hints_and_read_a_piped_password(home: Path) -> None:
    assert flowdeck_cli(home, "users", "add", "ann").returncode == 0
    again = flowdeck_cli(home, "users", "add", "ann")
    assert again.returncode == 1 and "flowdeck users update ann" in again.stderr
    assert "flowdeck.update_user" not in again.stderr
    unknown = flowdeck_cli(home, "users", "update", "bob", "--role", "admin")
    assert unknown.returncode == 1 and "flowdeck users add bob" in unknown.stderr
    nothing = flowdeck_cli(home, "users", "update", "ann")
    assert nothing.returncode == 2 and "say what to change" in nothing.stderr
    no_password = flowdeck_cli(home, "users", "add", "cy", "--password")
    assert no_password.returncode == 2 and "no password on standard input" in no_password.stderr
    assert "GetPassWarning" not in no_password.stderr
    piped = flowdeck_cli(home, "users", "add", "cy", "--password", stdin="long-enough-pw\n")
    assert piped.returncode == 0, piped.stderr
    assert "long-enough-pw" not in piped.stdout + piped.stderr


def test_a_bare_command_group_prints_its_help_without_an_empty_error(home: Path) -> None:
    for args in ([], ["assets"], ["keys"]):
        done = flowdeck_cli(home, *args)
        assert "Usage" in done.stdout
        assert "error:" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--port", "99999"], "Invalid value for '--port'"),
        (["serve", "--step-workers", "0"], "Invalid value for '--step-workers'"),
        (["scheduler", "--poll", "0"], "Invalid value for '--poll'"),
        (["gc", "--grace", "-1"], "Invalid value for '--grace'"),
        (["run", "--headless", "Some flow", "--user", "ann", "--set", "A=1"], "--set goes with a flow file"),
    ],
)
def test_out_of_range_and_misplaced_options_are_usage_errors(home: Path, args: list[str], expected: str) -> None:
    done = flowdeck_cli(home, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    _no_traceback(done)
    assert expected in done.stderr


def test_keys_rotate_refuses_an_empty_or_bad_key_on_stdin(home: Path) -> None:
    assert flowdeck_cli(home, "users", "add", "ann").returncode == 0
    before = (home / "secret.key").read_text()
    for stdin, expected in (("", "no key on standard input"), ("not-a-key\n", "is not a Fernet key")):
        done = flowdeck_cli(home, "keys", "rotate", "--key-stdin", stdin=stdin)
        assert done.returncode == 2 and expected in done.stderr, done.stdout + done.stderr
    assert (home / "secret.key").read_text() == before


def test_smtp_set_without_a_terminal_reads_the_password_from_stdin(home: Path) -> None:
    assert flowdeck_cli(home, "users", "add", "root", "--admin").returncode == 0
    args = ["smtp", "set", "mail.example.com", "--username", "mailer", "--user", "root"]
    empty = flowdeck_cli(home, *args)
    assert empty.returncode == 2 and "no SMTP password on standard input" in empty.stderr
    assert "GetPassWarning" not in empty.stderr
    piped = flowdeck_cli(home, *args, stdin="mail-secret\n")
    assert piped.returncode == 0, piped.stderr
    assert "with a stored password" in piped.stdout and "mail-secret" not in piped.stdout + piped.stderr


def test_a_headless_run_waiting_for_input_says_how_to_go_on(home: Path) -> None:
    assert flowdeck_cli(home, "flows", "add", str(ROOT / "examples/triggers/flow.py:score_customers")).returncode == 0
    done = flowdeck_cli(home, "run", "--headless", "Score customers", "--user", "ann")
    assert done.returncode == 0, done.stderr
    assert "waits for input at step 'Load customers'" in done.stdout
    assert "flowdeck next " in done.stdout and "--user ann" in done.stdout


def test_a_page_that_holds_next_says_to_click(home: Path) -> None:
    done = flowdeck_cli(home, "run", str(ROOT / "examples/interactive/flow.py"), "--user", "ann")
    assert done.returncode == 1
    _no_traceback(done)
    assert "disable_next=True" in done.stderr
    assert "flowdeck click " in done.stderr and "flowdeck next " in done.stderr


def test_the_scheduler_logs_only_its_own_lines(home: Path) -> None:
    done = flowdeck_cli(home, "scheduler", "--duration", "0.5", "--poll", "0.1")
    assert done.returncode == 0, done.stderr
    assert "alembic" not in done.stdout + done.stderr
    assert "scheduler polling every 0.1 s" in done.stderr


def test_piped_tables_keep_whole_names(home: Path) -> None:
    ran = _piped(home, *DEMO)
    assert ran.returncode == 0, ran.stderr
    flow_id = ran.stdout.split("started run ")[1].split()[0]
    runs = _piped(home, "runs", "--user", "demo")
    line = next(line for line in runs.stdout.splitlines() if flow_id in line)
    assert "Customer churn" in line and "complete" in line and "…" not in line
    status = json.loads(_piped(home, "status", flow_id, "--user", "demo", "--json").stdout)
    assert status["state"] == "complete"
