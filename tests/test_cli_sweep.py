"""The command line as a new user meets it: bad paths, empty standard input, prompts, piped output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from s3_server import free_port
from test_cli import DEMO, ROOT, flowdeck_cli, on_terminal

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
    code, text = on_terminal(
        home,
        ["run", str(ask_flow), "--user", "ann"],
        [(b"Letter ['a', 'b']:", b"c\n"), (b"Letter ['a', 'b']:", b"a\n"), (b"Word:", b"hello\n")],
    )
    assert code == 0, text
    assert "'c' is not among the options" in text and "try again" in text
    assert "(complete)" in text and "Traceback" not in text


def test_a_missing_file_at_the_upload_prompt_is_asked_again_and_ctrl_d_says_how_to_go_on(home: Path) -> None:
    code, text = on_terminal(
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


# --- share and unshare: one set of options for runs, assets and connections --------------------------------------


def _ok(home: Path, *args: str) -> str:
    done = flowdeck_cli(home, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_share_commands_take_one_set_of_options_and_keep_the_old_ones(home: Path, ask_flow: Path) -> None:
    for user in ("ann", "bob", "cy o'neil"):
        _ok(home, "users", "add", user)
    _ok(home, "users", "add", "dee", "--group", "analysts")
    _ok(home, "users", "add", "root", "--admin")
    ran = _ok(home, "run", str(ask_flow), "--user", "ann", "--set", "Letter=a", "--set", "Word=hi")
    run_id = ran.split("started run ")[1].split()[0]
    asset_id = _ok(home, "assets", "list", "--user", "ann", "--label", "words").split("│")[1].strip()

    # Runs and assets: --user/--group whom (--with-user/--with-group the same), --as who acts.
    for kind, command in (("run", []), ("asset", ["assets"])):
        ident = run_id if kind == "run" else asset_id
        shared = _ok(home, *command, "share", ident, "--user", "bob", "--group", "analysts", "--as", "ann")
        assert f"shared {kind} {ident} with user bob, group analysts" in shared
        shared = _ok(home, *command, "share", ident, "--with-user", "cy o'neil", "--with-group", "ops", "--as", "ann")
        assert f"shared {kind} {ident} with user cy o'neil, group ops" in shared
        revoked = _ok(home, *command, "unshare", ident, "--with-user", "bob", "-g", "ops", "--as", "ann")
        assert f"stopped sharing {kind} {ident} with user bob, group ops" in revoked
        nobody = flowdeck_cli(home, *command, "share", ident, "--as", "ann")
        assert nobody.returncode == 2 and "say whom to share with: --user NAME and/or --group NAME" in nobody.stderr
    assert run_id not in _ok(home, "runs", "--user", "bob") and run_id in _ok(home, "runs", "--user", "dee")

    _ok(home, "connections", "add", "wh", "--type", "sqlite", "--database", "wh.db", "--user", "ann", "--no-secret")
    # The older spelling: --user is who acts, --with-user/--with-group whom.
    old = _ok(home, "connections", "share", "wh", "--user", "ann", "--with-user", "bob", "--with-group", "ops")
    assert "is shared with group:ops, user:bob" in old
    # The common spelling, as for runs and assets: with --as, --user/--group are whom.
    new = _ok(home, "connections", "share", "wh", "--user", "cy o'neil", "--group", "analysts", "--as", "ann")
    assert "is shared with group:analysts, group:ops, user:bob, user:cy o'neil" in new
    assert "wh" in _ok(home, "connections", "list", "--user", "cy o'neil")
    new = _ok(home, "connections", "unshare", "wh", "-u", "bob", "--with-user", "cy o'neil", "--as", "ann")
    assert "is shared with group:analysts, group:ops" in new
    # An admin acts on someone else's connection with --owner, in share as in unshare.
    admin = _ok(home, "connections", "share", "wh", "--as", "root", "--owner", "ann", "--user", "bob")
    assert "is shared with group:analysts, group:ops, user:bob" in admin
    admin = _ok(home, "connections", "unshare", "wh", "-u", "root", "--owner", "ann", "--with-user", "bob", "-g", "ops")
    assert "is shared with group:analysts\n" in admin
    not_owner = flowdeck_cli(home, "connections", "share", "wh", "--as", "root", "--user", "bob")
    assert not_owner.returncode == 1 and "no connection 'wh' of user 'root'" in not_owner.stderr
    twice = flowdeck_cli(home, "connections", "share", "wh", "-u", "ann", "-u", "bob")
    assert twice.returncode == 2 and "--user names who acts here unless --as is given" in twice.stderr
    nobody = flowdeck_cli(home, "connections", "unshare", "wh", "--as", "ann")
    assert nobody.returncode == 2 and "say whom to stop sharing with: --with-user NAME" in nobody.stderr


def test_share_help_says_who_acts_and_with_whom(home: Path) -> None:
    for command in (["share"], ["unshare"], ["assets", "share"], ["assets", "unshare"]):
        text = _ok(home, *command, "--help")
        assert "Who acts: --as" in text and "--with-user" in text and "--with-group" in text, text
        assert "shared with: the users named by --user and the groups named by --group" in text.lower(), text
    for command in ("share", "unshare"):
        text = _ok(home, "connections", command, "--help")
        assert "Who acts: --as" in text and "--owner" in text and "--with-user" in text, text
        assert "--user keeps its older meaning here, who acts, unless --as is given" in text, text


# --- printed commands are quoted for the shell ----------------------------------------------------------------------

FAILS = """
from flowdeck import Flow, Page, Section, Step, StepType


class Boom(Step):
    def run(self, flow_metadata):
        raise RuntimeError("boom")


flow = Flow(name="Fails", description="Its only step fails.")
flow.chain([Boom(title="Boom", type=StepType.RESULTS, page=Page("Boom", [Section("Main", [])]))])
"""


def _printed_command(text: str, lead: str) -> list[str]:
    """The words of the command printed after ``lead``, as a POSIX shell reads them."""
    import shlex

    line = text.split(lead, 1)[1].splitlines()[0]
    return shlex.split(line)


def test_printed_commands_quote_user_names_for_the_shell(home: Path, tmp_path: Path) -> None:
    user = "ann o'neil; rm -rf x"
    assert flowdeck_cli(home, "flows", "add", str(ROOT / "examples/triggers/flow.py:score_customers")).returncode == 0
    waiting = _ok(home, "run", "--headless", "Score customers", "--user", user)
    words = _printed_command(waiting, "go on with: ")
    assert words[:2] == ["flowdeck", "next"] and words[3:5] == ["--user", user], words
    assert words[5:] == ["--upload", "TITLE=PATH", "--set", "TITLE=VALUE"]

    flow_file = tmp_path / "fails.py"
    flow_file.write_text(FAILS)
    failed = flowdeck_cli(home, "run", str(flow_file), "--user", user)
    assert failed.returncode == 1
    _no_traceback(failed)
    words = _printed_command(failed.stderr, "fix the cause, then: ")
    assert words[:2] == ["flowdeck", "rerun"] and words[3:] == ["--user", user], words
    rerun = flowdeck_cli(home, *words[1:])
    assert rerun.returncode == 1 and "fix the cause, then: " in rerun.stderr, rerun.stdout + rerun.stderr

    again = flowdeck_cli(home, "users", "add", user)
    assert again.returncode == 1
    assert _printed_command(again.stderr, "change it with: ") == [
        "flowdeck",
        "users",
        "update",
        user,
        "--group",
        "G",
        "--role",
        "R",
    ]


def test_a_step_that_holds_next_names_quoted_commands(home: Path) -> None:
    done = flowdeck_cli(home, "run", str(ROOT / "examples/interactive/flow.py"), "--user", "ann b")
    assert done.returncode == 1
    for lead, verb in (("see its page with: ", "page"), ("then go on with: ", "next")):
        words = _printed_command(done.stderr, lead)
        assert words[:2] == ["flowdeck", verb] and words[3:] == ["--user", "ann b"], words
    words = _printed_command(done.stderr, "press its buttons with: ")
    assert words[:2] == ["flowdeck", "click"] and words[3:] == ["TITLE", "--user", "ann b"], words


# --- help texts ------------------------------------------------------------------------------------------------------


def _all_commands() -> list[list[str]]:
    import typer.main

    from flowdeck.cli import app

    def walk(command: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
            found.extend(walk(sub, [*path, name]))
        return found

    return walk(typer.main.get_command(app), [])


def _description(help_text: str) -> list[list[str]]:
    """The paragraphs of a --help's description (between the usage line and the first panel), as lines."""
    lines = help_text.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    paragraphs: list[list[str]] = [[]]
    for line in lines[start:]:
        if line.lstrip().startswith("╭"):
            break
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def test_every_help_reads_cleanly(home: Path) -> None:
    from typer.testing import CliRunner

    from flowdeck.cli import app

    commands = _all_commands()
    assert ["worker"] in commands and ["smtp", "set"] in commands and ["connections", "rotate-key"] in commands
    for path in commands:
        wide = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "FLOWDECK_HOME": str(home)})
        assert wide.exit_code == 0, (path, wide.output)
        assert "``" not in wide.output and "\b" not in wide.output, (path, wide.output)
        for paragraph in _description(wide.output):
            # A paragraph breaks only where a 200-column terminal makes it.
            assert len(paragraph) == 1 or len(" ".join(paragraph)) > 180, (path, paragraph)
        narrow = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "60", "FLOWDECK_HOME": str(home)})
        assert all(len(line.rstrip()) <= 60 for line in narrow.output.splitlines()), (path, narrow.output)


def test_reported_help_texts_are_whole_paragraphs(home: Path) -> None:
    expected = {
        ("worker",): "Use the same FLOWDECK_* settings (database, blobs, secret key, broker) as the processes that "
        "submit actions; the flows must be importable here",
        ("click",): "The cards a page update changed are printed as 'flowdeck page' prints them; browsers open on "
        "the run show the change too.",
        ("smtp", "set"): "With --username it is read from standard input (--password-stdin, or whenever standard "
        "input is not a terminal), else prompted for (hidden).",
        ("connections", "rotate-key"): "Make a new deployment key the newest (the same as 'flowdeck keys rotate').",
    }
    for path, text in expected.items():
        shown = _ok(home, *path, "--help")
        assert text in shown, shown
        assert "``" not in shown


# --- flowdeck serve says what it serves -------------------------------------------------------------------------------


def _serve_banner(home: Path, *args: str, last: str = "create the first admin") -> list[str]:
    """The lines ``flowdeck serve`` prints before the server starts, up to the one holding ``last``
    (the server is then stopped)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(home, PYTHONUNBUFFERED="1"),
        cwd=ROOT,
    )
    lines: list[str] = []
    # A line that never comes must not hang the test: the server is stopped after 120 s whatever it
    # printed, and reading then ends.
    watchdog = threading.Timer(120, server.kill)
    watchdog.start()
    try:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line.rstrip("\n"))
            if last in line:
                break
    finally:
        watchdog.cancel()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return lines


def test_serve_says_which_flows_the_web_ui_starts_and_which_only_start_headless(home: Path) -> None:
    _ok(home, "flows", "add", str(ROOT / "examples/triggers/flow.py:score_customers"))
    bare = _serve_banner(home)
    assert bare[0].startswith("flowdeck serving on http://127.0.0.1:"), bare
    assert "with no flows to start in the web UI (name them with --flows or the flows setting)" in bare[0]
    assert "0 flow" not in "\n".join(bare)
    assert bare[1].startswith("1 flow registered with 'flowdeck flows add' is not in the web UI; it starts headless")
    assert bare[1].endswith(": Score customers"), bare

    served = _serve_banner(home, "--flows", CHURN)
    assert served[0].endswith("with 1 flow to start in the web UI: Customer churn"), served
    assert served[1].endswith(": Score customers"), served
    assert served[-1] == "create the first admin with: flowdeck users add NAME --admin --password"

    # Once there is an admin, the banner no longer asks for one.
    added = flowdeck_cli(home, "users", "add", "root", "--admin", "--password", stdin="a long enough password\n")
    assert added.returncode == 0, added.stdout + added.stderr
    # (Serving Customer churn above registered it too: now two flows start headless only.)
    with_admin = _serve_banner(home, last="registered with 'flowdeck flows add'")
    assert with_admin[1].startswith("2 flows registered with 'flowdeck flows add' are not in the web UI"), with_admin
    assert len(with_admin) == 2 and not any("first admin" in line for line in with_admin), with_admin
