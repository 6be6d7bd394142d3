"""``flowdeck run``/``next`` set a step's values all or none, read ``--set`` VALUE as JSON or text, say
what to run next as ``flowdeck`` commands; ``assets export`` writes the format the path names."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
from flowdeck import Dataset, Model, StoreInterface
from test_cli import flowdeck_cli

PROBE = """
from datetime import datetime

from flowdeck import (Card, DataSource, DateTimeRange, Dropdown, Flow, NumericRange, Page, Section, Step,
                      StepType, StoreInterface, TextInput)


class Inputs(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Data", [DataSource(title="Data", options=["csv"])]), "Main")
        page.add_card_to_section(Card("Options", [
            Dropdown(["a", "b", "c"], title="Letter"),
            Dropdown(["x", "y", "z"], multiselect=True, title="Multi", required=False),
            TextInput(title="Name"),
            NumericRange(0, 100, title="Range"),
            DateTimeRange(datetime(2020, 1, 1), datetime(2021, 1, 1), title="When"),
        ]), "Main")
        store.update_page(page)


class Show(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        store.save_output(len(store.get_input("Data")), "rows")


flow = Flow(name="Probe", description="Inputs of every kind, then a results step.")
flow.chain([
    Inputs(title="Inputs", type=StepType.INPUT, page=Page("Inputs", [Section("Main", [])])),
    Show(title="Show", type=StepType.RESULTS, page=Page("Show", [Section("Main", [])])),
])
"""

FAILING_ACTION = """
from flowdeck import Card, Flow, Page, Section, Step, StepType, StoreInterface, TextInput


class Ask(Step):
    overrides_action = True
    override_skips_default = True

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("C", [TextInput(title="Mode", required=True)]), "Main")
        store.update_page(page)

    def action_override(self, flow_metadata):
        if StoreInterface(**flow_metadata).get_element_value("Ask", "Mode") == "fail":
            raise ValueError("action boom")


class Done(Step):
    def run(self, flow_metadata):
        pass


flow = Flow(name="Failing action", description="Its first step's action fails on Mode=fail.")
flow.chain([
    Ask(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
    Done(title="Done", type=StepType.RESULTS),
])
"""

RUN_ID = re.compile(r"started run ([0-9a-f]{32})")


@pytest.fixture
def probe(tmp_path: Path) -> dict[str, str]:
    """The probe flow file and the files to upload."""
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "bad.csv").write_text('a,b\n1,2,3,4\n"unterminated\n')
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "data.txt").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)) * 8)
    names = ("probe.py", "data.csv", "bad.csv", "empty.csv", "data.txt", "bin.csv")
    return {name: str(tmp_path / name) for name in names}


def _run_id(done: subprocess.CompletedProcess[str]) -> str:
    found = RUN_ID.search(done.stdout)
    assert found, done.stdout + done.stderr
    return found.group(1)


def _inputs(flow_id: str) -> dict[str, object]:
    """What is stored on the run's Inputs page: each input's value, and the upload."""
    page = flowdeck.open_run(flow_id, user="ann").page("Inputs")
    return {e.title: e.value for e in page.input_elements}


# --- 1. a step's values are set all or none --------------------------------------------------------


def test_a_refused_value_on_run_sets_none_and_names_the_run_and_the_command_to_go_on(embedded, probe) -> None:
    done = flowdeck_cli(
        embedded, "run", probe["probe.py"], "--user", "ann", "--upload", f"Data={probe['data.csv']}",
        "--set", "Name=first", "--set", "Letter=q", "--no-interactive",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    flow_id = _run_id(done)
    assert "--set 'Letter': Dropdown 'Letter': 'q' is not among the options" in done.stderr
    go_on = f"flowdeck next {flow_id} --user ann --upload Data={probe['data.csv']} --set Name=first --set Letter=VALUE"
    assert f"run {flow_id} waits at step 'Inputs' with none of these values set; go on with: {go_on}" in done.stderr
    run = flowdeck.open_run(flow_id, user="ann")
    assert run.current_step == "Inputs" and run.state == "awaiting_input"
    stored = _inputs(flow_id)
    assert stored["Name"] == "" and stored["Data"] is None and stored["Letter"] is None

    # The printed command, with the refused value given, goes on.
    fixed = go_on.replace("Letter=VALUE", "Letter=b").split()[1:]
    ran = flowdeck_cli(embedded, *fixed, "--no-interactive")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert flowdeck.open_run(flow_id, user="ann").state == "complete"
    assert StoreInterface(flow_id, user="ann").get_element_value("Inputs", "Name") == "first"


@pytest.mark.parametrize(
    ("upload", "refusal"),
    [
        (None, "'q' is not among the options"),
        ("bad.csv", "'bad.csv' is not a valid CSV file"),
        ("empty.csv", "file 'empty.csv' is empty"),
        ("data.txt", "'data.txt' has extension .txt"),
        ("bin.csv", "'bin.csv' looks like binary"),
    ],
)
def test_a_refused_value_or_file_on_next_changes_nothing(embedded, probe, upload, refusal) -> None:
    started = flowdeck_cli(
        embedded, "run", probe["probe.py"], "--user", "ann", "--upload", f"Data={probe['data.csv']}",
        "--set", "Name=first", "--no-interactive",
    )  # fmt: skip
    assert started.returncode == 2 and "needs input" in started.stderr, started.stderr  # Letter is missing
    flow_id = _run_id(started)
    before = _inputs(flow_id)
    assert before["Name"] == "first" and before["Data"]["filename"] == "data.csv"

    given = ["--upload", f"Data={probe[upload]}", "--set", "Letter=b"] if upload else ["--set", "Letter=q"]
    done = flowdeck_cli(embedded, "next", flow_id, "--user", "ann", "--set", "Name=second", *given)
    assert done.returncode == 1, done.stdout + done.stderr
    assert refusal in done.stderr
    assert f"nothing was set: run {flow_id} waits at step 'Inputs' as it did" in done.stderr
    assert _inputs(flow_id) == before
    assert flowdeck.open_run(flow_id, user="ann").current_step == "Inputs"


# --- 2. --set VALUE: JSON when it parses as JSON, else text -----------------------------------------


@pytest.mark.parametrize(
    ("given", "title", "expected"),
    [
        ('Multi=["x","z"]', "Multi", ["x", "z"]),
        ('Multi=["x"]', "Multi", ["x"]),
        ("Multi=x,z", "Multi", ["x", "z"]),
        ("Range=[10, 20]", "Range", (10, 20)),
        ("Range=10,20", "Range", (10, 20)),
        ('Name="quoted"', "Name", "quoted"),
        ("Name=2024", "Name", "2024"),  # a JSON number a text box refuses is its text
        ("When=2020-02-01,2020-03-01", "When", (pd.Timestamp("2020-02-01"), pd.Timestamp("2020-03-01"))),
    ],
)
def test_set_reads_json_values_and_keeps_text_forms(embedded, probe, given, title, expected) -> None:
    done = flowdeck_cli(
        embedded, "run", probe["probe.py"], "--user", "ann", "--upload", f"Data={probe['data.csv']}",
        "--set", 'Letter="b"', "--set", "Name=n", "--set", given, "--no-interactive",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    store = StoreInterface(_run_id(done), user="ann")
    assert store.get_element_value("Inputs", "Letter") == "b"
    value = store.get_element_value("Inputs", title)
    if title == "When":
        value = tuple(pd.Timestamp(end).tz_localize(None) for end in value)
    assert value == expected


def test_the_set_help_says_how_values_are_read(embedded) -> None:
    for command in ("run", "next"):
        shown = " ".join(flowdeck_cli(embedded, command, "--help").stdout.split())
        assert "VALUE is JSON when it parses as JSON" in shown and "else text" in shown, shown


# --- 3. assets export writes the format the suffix names --------------------------------------------


@pytest.fixture
def assets(embedded) -> dict[str, object]:
    import sample_flows

    run = flowdeck.start(sample_flows.three_steps, user="ann")
    store = StoreInterface(run.flow_id, user="ann")
    frame = pd.DataFrame({"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"], "score": [0.5, 0.25, 1.0]})
    return {
        "frame": frame,
        "dataset": store.save_asset(Dataset(frame, "customers")),
        "model": store.save_asset(Model({"w": 1}, "weights")),
    }


def test_export_writes_xlsx_and_json_for_a_dataframe(embedded, assets, tmp_path) -> None:
    for name, kind in (("out.xlsx", "xlsx"), ("out.json", "json")):
        done = flowdeck_cli(embedded, "assets", "export", assets["dataset"], str(tmp_path / name), "--user", "ann")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"({kind})" in done.stdout
    assert_frame_equal(pd.read_excel(tmp_path / "out.xlsx"), assets["frame"])
    assert json.loads((tmp_path / "out.json").read_text()) == assets["frame"].to_dict(orient="records")


def test_export_refuses_a_suffix_it_cannot_write_and_writes_nothing(embedded, assets, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for asset, name, expected in (
        ("dataset", "out.bin", "names: .parquet, .pq, .csv, .json, .xlsx, .arrow, .feather or .ipc"),
        ("dataset", "out", "a path without a suffix is none of them"),
        ("model", "model.csv", "so it cannot be written as .csv; export its stored bytes to a path ending in .json"),
    ):
        done = flowdeck_cli(embedded, "assets", "export", assets[asset], str(out / name), "--user", "ann")
        assert done.returncode == 1, done.stdout + done.stderr
        assert expected in done.stderr
    assert list(out.iterdir()) == []


# --- 4. hints are flowdeck commands -------------------------------------------------------------------


def test_next_on_a_failed_step_says_to_rerun_it_with_the_command(embedded, tmp_path) -> None:
    flow_file = tmp_path / "failing.py"
    flow_file.write_text(FAILING_ACTION)
    failed = flowdeck_cli(embedded, "run", str(flow_file), "--user", "ann", "--set", "Mode=fail", "--no-interactive")
    assert failed.returncode == 1
    flow_id = _run_id(failed)

    done = flowdeck_cli(embedded, "next", flow_id, "--user", "ann", "--set", "Mode=ok")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "run.rerun()" not in done.stderr
    assert "step 'Ask' failed (ValueError: action boom); nothing was set" in done.stderr
    assert f"run the step again: flowdeck rerun {flow_id} --user ann" in done.stderr
    assert f"then go on with: flowdeck next {flow_id} --user ann --set Mode=ok" in done.stderr
    assert StoreInterface(flow_id, user="ann").get_element_value("Ask", "Mode") == "fail"

    # back and rerun take no values (README: "flowdeck back|rerun FLOW_ID --user U").
    assert flowdeck_cli(embedded, "rerun", flow_id, "--user", "ann", "--set", "Mode=ok").returncode == 2
    assert "flowdeck back|rerun FLOW_ID --user U" in (Path(__file__).parents[1] / "README.md").read_text()
    assert flowdeck_cli(embedded, "rerun", flow_id, "--user", "ann").returncode == 0
    ran = flowdeck_cli(embedded, "next", flow_id, "--user", "ann", "--set", "Mode=ok")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert flowdeck.open_run(flow_id, user="ann").state == "complete"


def test_click_on_a_complete_run_says_how_to_reopen_it(embedded, probe) -> None:
    done = flowdeck_cli(
        embedded, "run", probe["probe.py"], "--user", "ann", "--upload", f"Data={probe['data.csv']}",
        "--set", "Letter=a", "--set", "Name=n", "--no-interactive",
    )  # fmt: skip
    flow_id = _run_id(done)
    clicked = flowdeck_cli(embedded, "click", flow_id, "Anything", "--user", "ann")
    assert clicked.returncode == 1
    assert f"run '{flow_id}' is complete" in clicked.stderr
    assert f"reopen its last step with: flowdeck back {flow_id} --user ann" in clicked.stderr
    assert flowdeck.open_run(flow_id, user="ann").state == "complete"


def test_python_hints_of_library_errors_are_told_as_commands() -> None:
    from flowdeck.cli.common import acting_on, cli_text

    acting_on("f" * 32, "ann b")
    run = "f" * 32
    cases = {
        "step 'A' is failed; set_value() needs it awaiting input; call run.rerun() first": (
            f"step 'A' is failed; its inputs change only while it awaits input; run it again first: "
            f"flowdeck rerun {run} --user 'ann b'"
        ),
        "step 'A' failed (E: x); fix the cause and call run.rerun() before next()": (
            f"step 'A' failed (E: x); fix the cause, then run the step again: flowdeck rerun {run} --user 'ann b'"
        ),
        "'Data' is a DataSource: give it a file with run.upload('Data', filename, data)": (
            "'Data' is a DataSource: give it a file with --upload Data=PATH"
        ),
        "element 'Letter' is not a DataSource; set it with run.set_value()": (
            "element 'Letter' is not a DataSource; give it a value with --set TITLE=VALUE"
        ),
        "step 'Inputs' needs input before next(): 'Letter'": "step 'Inputs' needs input before the run can go on: "
        "'Letter'",
    }
    for message, expected in cases.items():
        assert cli_text(message) == expected
    behind = cli_text(
        "'X' is an input of step 'A' (complete): run.back() reopens that step, with its values, to change it"
    )
    assert f"flowdeck back {run} --user 'ann b'" in behind and "run.back()" not in behind


# --- 5. messages that say what to do ------------------------------------------------------------------


def test_an_option_that_does_not_fit_its_input_says_which_one_does(embedded, probe) -> None:
    done = flowdeck_cli(
        embedded, "run", probe["probe.py"], "--user", "ann", "--upload", f"Letter={probe['data.csv']}",
        "--no-interactive",
    )  # fmt: skip
    assert done.returncode == 2
    assert "'Letter' is a Dropdown, not a file upload: give it with --set Letter=VALUE" in done.stderr
    assert "no input of that title" not in done.stderr
    flow_id = _run_id(done)
    assert _inputs(flow_id)["Letter"] is None
    as_text = flowdeck_cli(embedded, "next", flow_id, "--user", "ann", "--set", "Data=data.csv")
    assert as_text.returncode == 2
    assert "'Data' is a DataSource, a file upload: give it a file with --upload Data=PATH" in as_text.stderr


def test_an_unknown_title_is_reported_when_a_required_input_is_missing_too(embedded, probe) -> None:
    done = flowdeck_cli(
        embedded, "run", probe["probe.py"], "--user", "ann", "--upload", f"Data={probe['data.csv']}",
        "--set", "Nope=b", "--no-interactive",
    )  # fmt: skip
    assert done.returncode == 2
    error = done.stderr.split("error: ", 1)[1].splitlines()[0]
    assert "needs input" in error and "'Letter'" in error
    assert "--set 'Nope' names no input of the run's pages so far" in error


def test_a_file_without_a_flow_says_how_a_flow_is_defined(embedded, tmp_path) -> None:
    (tmp_path / "no_flow.py").write_text("x = 1\n")
    done = flowdeck_cli(embedded, "run", str(tmp_path / "no_flow.py"), "--user", "ann")
    assert done.returncode == 1
    assert "no_flow.py defines no Flow: a flow file makes its flow a module attribute of type Flow" in done.stderr
    assert "defines 0 flows" not in done.stderr
