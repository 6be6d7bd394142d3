"""The command line answers like one: one-line usage errors, checked inputs, commands to go on with a run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_cli import DEMO, ROOT, flowdeck_cli

CHURN = str(ROOT / "examples/churn/flow.py")
CUSTOMERS = f"Customer data={ROOT / 'examples/churn/customers.csv'}"

FRAGILE = """
from pathlib import Path

from flowdeck import Card, Flow, Page, Section, Step, StepType, StoreInterface, TextInput

MARKER = Path(__file__).with_name("ready")


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Input", [TextInput(title="Word", required=True)]), "Main")
        store.update_page(page)


class Check(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        if not MARKER.exists():
            raise RuntimeError("the marker file is missing")
        store.save_output(store.get_element_value("Ask", "Word"), "word")


flow = Flow(name="Fragile", description="Fails until a marker file exists.")
flow.chain([
    Ask(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
    Check(title="Check", type=StepType.RESULTS, page=Page("Check", [Section("Main", [])])),
])
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", CHURN], "Missing option '--user'"),
        (["nosuchcmd"], "No such command 'nosuchcmd'"),
        (["serve", "--port", "abc"], "Invalid value for '--port'"),
        (["status"], "Missing argument"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(home: Path, args: list[str], expected: str) -> None:
    done = flowdeck_cli(home, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0] and "--help" in lines[0]


def test_a_mistyped_set_title_is_refused_with_the_close_match(home: Path) -> None:
    args = [*DEMO[:-1], "Segment bi=plan"]
    done = flowdeck_cli(home, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--set 'Segment bi'" in done.stderr and "did you mean 'Segment by'?" in done.stderr
    assert "step Analyse churn: complete" not in done.stdout  # refused before the analysis ran


def test_an_unknown_set_title_is_refused_with_the_titles_there_are(home: Path) -> None:
    done = flowdeck_cli(home, *DEMO, "--set", "Colour scheme=dark")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--set 'Colour scheme': no input of that title" in done.stderr
    for title in ("'Customer data'", "'Target column'", "'Segment by'"):
        assert title in done.stderr


def test_a_value_for_an_input_behind_the_current_step_is_refused_before_anything_moves(home: Path) -> None:
    flow_id = flowdeck_cli(home, *DEMO).stdout.split("started run ")[1].split()[0]
    for _ in range(2):
        assert flowdeck_cli(home, "back", flow_id, "--user", "demo").returncode == 0
    done = flowdeck_cli(home, "next", flow_id, "--user", "demo", "--set", "Segment by=region")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "--set 'Segment by': that input is on step 'Choose analysis', before the current step 'Analyse churn'; "
        f"go back to it first: flowdeck back {flow_id} --user demo" in done.stderr
    )
    status = flowdeck_cli(home, "status", flow_id, "--user", "demo", "--json").stdout
    assert '"current_step": "Analyse churn"' in status  # nothing moved


def test_an_upload_given_to_a_text_input_is_refused(home: Path) -> None:
    done = flowdeck_cli(
        home,
        "run",
        CHURN,
        "--user",
        "demo",
        "--upload",
        CUSTOMERS,
        "--upload",
        f"Segment by={ROOT / 'examples/churn/customers.csv'}",
    )
    assert done.returncode == 2
    assert "'Segment by' is a Dropdown, not a file upload: give it with --set 'Segment by=VALUE'" in done.stderr


def test_the_demo_ends_on_its_results_page(home: Path) -> None:
    done = flowdeck_cli(home, *DEMO)
    assert done.returncode == 0, done.stderr
    tail = done.stdout[done.stdout.index("(complete)") :]
    assert "Churn by segment table" in tail and "basic" in tail and "0.2027" in tail
    # Rich text is rendered, not printed as markdown source.
    assert "Overall churn is 15.8%" in tail and "**15.8%**" not in tail and "### Summary" not in tail


def test_commands_accept_user_once_a_deployment_has_several(home: Path) -> None:
    first = flowdeck_cli(home, *DEMO)
    flow_id = first.stdout.split("started run ")[1].split()[0]
    assert flowdeck_cli(home, "users", "add", "bob").returncode == 0
    for args in (["status", flow_id], ["runs"], ["page", flow_id]):
        anonymous = flowdeck_cli(home, *args)
        assert anonymous.returncode == 1
        assert "--user NAME" in anonymous.stderr and "user=..." in anonymous.stderr
        named = flowdeck_cli(home, *args, "--user", "demo")
        assert named.returncode == 0, named.stderr


def test_a_failure_names_the_line_and_the_command_to_go_on(home: Path, tmp_path: Path) -> None:
    flow_file = tmp_path / "fragile.py"
    flow_file.write_text(FRAGILE)
    failed = flowdeck_cli(home, "run", str(flow_file), "--user", "ann", "--set", "Word=hello")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "RuntimeError: the marker file is missing" in failed.stderr
    line = next(i for i, text in enumerate(FRAGILE.splitlines(), 1) if "raise RuntimeError" in text)
    assert f"{flow_file}:{line}" in failed.stderr
    match = re.search(r"flowdeck rerun (\w+) --user ann", failed.stderr)
    assert match, failed.stderr
    flow_id = match.group(1)
    assert "Traceback" not in failed.stderr

    (tmp_path / "ready").write_text("yes")
    rerun = flowdeck_cli(home, "rerun", flow_id, "--user", "ann")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"flowdeck next {flow_id} --user ann" in rerun.stdout
    finished = flowdeck_cli(home, "next", flow_id, "--user", "ann")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "(complete)" in finished.stdout

    back = flowdeck_cli(home, "back", flow_id, "--user", "ann")
    assert back.returncode == 0, back.stderr
    assert "reopened step Check" in back.stdout
    again = flowdeck_cli(home, "next", flow_id, "--user", "ann")
    assert again.returncode == 0 and "(complete)" in again.stdout


def test_next_with_missing_inputs_says_how_to_give_them(home: Path, tmp_path: Path) -> None:
    flow_file = tmp_path / "fragile.py"
    flow_file.write_text(FRAGILE)
    waiting = flowdeck_cli(home, "run", str(flow_file), "--user", "ann")
    assert waiting.returncode == 2
    flow_id = waiting.stdout.split("started run ")[1].split()[0]
    assert f"flowdeck next {flow_id} --user ann" in waiting.stderr
    (tmp_path / "ready").write_text("yes")
    done = flowdeck_cli(home, "next", flow_id, "--user", "ann", "--set", "Word=hi")
    assert done.returncode == 0, done.stdout + done.stderr
    stranger = flowdeck_cli(home, "next", flow_id, "--user", "eve")
    assert stranger.returncode == 1 and f"no run '{flow_id}'" in stranger.stderr
