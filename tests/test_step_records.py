"""What a run records about each step for the flow writer: the flow file version it ran, and warnings."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import flowdeck
from flowdeck.flow.loader import load_flow_file, reload_flow_file
from flowdeck.store.lifecycle import NO_PAGE_WARNING
from test_cli import flowdeck_cli

UI_FLOWS = Path(__file__).resolve().parent / "fixtures" / "ui_flows.py"

SOURCE = """
from flowdeck import Card, Flow, Page, Section, Step, StepType, StoreInterface, TextInput


class Ask(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Input", [TextInput(title="Word", required=False)]), "Main")
        store.update_page(page)


class Echo(Step):
    def run(self, flow_metadata):
        StoreInterface(**flow_metadata).save_output("VERSION", "version")


flow = Flow(name="Versioned", description="Saves which version of its file ran.")
flow.chain([
    Ask(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
    Echo(title="Echo", type=StepType.RESULTS, page=Page("Echo", [Section("Main", [])])),
])
"""


def _load(name: str) -> flowdeck.Flow:
    spec = importlib.util.spec_from_file_location("ui_flows_for_records", UI_FLOWS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_an_input_step_that_stores_no_page_is_flagged(embedded: Path) -> None:
    run = flowdeck.start(_load("forgetful"), user="ann")
    ask = run.status().step("Ask")
    assert ask.state == "awaiting_input" and ask.warning == NO_PAGE_WARNING
    assert "store.update_page(page)" in ask.to_dict()["warning"]
    run.next()
    assert run.status().step("Done").warning is None  # a results step is not flagged

    careful = flowdeck.start(_load("wide"), user="ann")
    assert careful.status().step("Wide").warning is None


def test_flowdeck_status_prints_the_warning(home: Path) -> None:
    done = flowdeck_cli(home, "run", f"{UI_FLOWS}:forgetful", "--user", "ann")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: step Ask: this input step's run() stored no page" in " ".join(done.stdout.split())


def test_each_step_records_the_version_of_the_flow_file_it_ran(embedded: Path, tmp_path: Path) -> None:
    flow_file = tmp_path / "versioned.py"
    flow_file.write_text(SOURCE.replace("VERSION", "one"))
    flow, _ = load_flow_file(str(flow_file))
    run = flowdeck.start(flow, user="ann")
    first = hashlib.sha256(flow_file.read_bytes()).hexdigest()[:12]
    assert run.status().step("Ask").code_version == first

    flow_file.write_text(SOURCE.replace("VERSION", "two"))
    reload_flow_file(flow_file)
    second = hashlib.sha256(flow_file.read_bytes()).hexdigest()[:12]
    run = flowdeck.open_run(run.flow_id, user="ann")  # loads the flow again, by reference
    run.next()
    status = run.status()
    assert status.step("Ask").code_version == first  # ran before the edit
    assert status.step("Echo").code_version == second
    assert flowdeck.StoreInterface(run.flow_id, user="ann").get_input("version", step_name="Echo") == "two"
