"""examples/triggers: the README's commands, run as written through the real CLI on the embedded default."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd

import flowdeck
from flowdeck import StoreInterface
from flowdeck.flow.registry import get_registered_flow, origins_of
from flowdeck.store.assets import list_assets
from flowdeck.triggers import get_trigger
from test_cli import ROOT, flowdeck_cli

README = ROOT / "examples/triggers/README.md"
APP = "Scores report"
TRIGGER = "new customer scores"
FLOW_FILE = "examples/triggers/flow.py"

#: The README's commands, in its order (``RUN_ID``: the run the second check started).
COMMANDS = [
    shlex.split(line)
    for line in [
        f"flowdeck flows add {FLOW_FILE}:score_customers {FLOW_FILE}:scores_report --user alice",
        "flowdeck triggers list --user alice",
        "flowdeck triggers check",
        'flowdeck run --headless "Score customers" --user alice --params examples/triggers/params.json',
        "flowdeck triggers check",
        f'flowdeck triggers show "{TRIGGER}"',
        "flowdeck runs --user alice",
        "flowdeck page RUN_ID --user alice",
    ]
]


def readme_commands() -> list[list[str]]:
    """Each command line of the README's ```bash blocks, split as a shell would."""
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), flags=re.MULTILINE | re.DOTALL)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [words for words in (shlex.split(line, comments=True) for line in lines) if words]


def scores_report_runs() -> list[flowdeck.FlowStatus]:
    return [s for s in flowdeck.list_runs(user="alice") if s.flow_name == APP]


def test_the_readme_shows_exactly_the_commands_the_test_runs() -> None:
    assert readme_commands() == COMMANDS


def test_the_readme_commands_register_fire_and_report(embedded: Path) -> None:
    def cli(index: int, run_id: str = "") -> str:
        words = [run_id if word == "RUN_ID" else word for word in COMMANDS[index]]
        assert words[0] == "flowdeck"
        done = flowdeck_cli(embedded, *words[1:])
        assert done.returncode == 0, f"{shlex.join(words)}\n{done.stdout}{done.stderr}"
        return done.stdout

    added = cli(0)
    assert "registered flow Score customers" in added and f"registered flow {APP}" in added
    assert get_registered_flow(APP).registered_by == "alice"
    stored, ticks = get_trigger(TRIGGER, "alice")
    assert (stored.kind, stored.flow_name, stored.owner, stored.active) == ("asset", APP, "alice", True)
    assert stored.spec["label"] == "customer scores" and ticks == []
    [row] = [line for line in cli(1).splitlines() if TRIGGER in line]
    assert APP in row and "alice" in row and "active" in row

    first = cli(2)  # the first look only records the assets there are (none)
    assert "0 runs started or tried" in first and "fired" not in first
    assert scores_report_runs() == []

    scored = cli(3)
    assert "(complete)" in scored
    score_run = scored.split("run ", 1)[1].split()[0]
    [asset] = list_assets(user="alice", label="customer scores")
    assert (asset.type, asset.name, asset.version, asset.flow_id) == ("dataset", "scores", 1, score_run)

    second = cli(4)
    assert "1 run started or tried" in second
    [fired] = re.findall(r"^asset:(\w+): fired (\w+)", second, flags=re.MULTILINE)
    assert fired[0] == asset.id
    run_id = fired[1]
    [report] = scores_report_runs()
    assert (report.flow_id, report.state) == (run_id, "complete")
    assert origins_of([run_id]) == {run_id: f"trigger:{TRIGGER}"}
    _, ticks = get_trigger(TRIGGER, "alice")
    assert [(t.outcome, t.run_id) for t in ticks] == [("fired", run_id)]

    shown = cli(5)
    assert "fired" in shown and run_id in shown and "new asset 'customer scores' version 1" in shown
    [listed] = [line for line in cli(6).splitlines() if run_id in line]
    assert APP in listed and f"trigger:{TRIGGER}" in listed and "complete" in listed
    page = cli(7, run_id)
    assert "Scores summary" in page and "Customers scored: 10" in page and "Average score: 39.0" in page

    # the same, read through the Python API in this process
    summary = flowdeck.open_run(run_id, user="alice").page("Summary")
    assert [c.title for c in summary.cards] == ["Scores summary"]
    headline = summary.get_element_by_title("Headline")
    assert [(d.label, d.main_text) for d in headline.data] == [
        ("Customers scored", "10"),
        ("Average score", "39.0"),
        ("Top customer", "C004"),
    ]
    by_band = StoreInterface(run_id, user="alice").get_input("scores by band", step_name="Summary")
    assert summary.get_element_by_title("Scores by band").content.equals(by_band)
    assert by_band.to_dict("list") == {
        "band": ["high", "medium", "low"],
        "customers": [3, 1, 6],
        "average_score": [86.4, 51.3, 13.3],
    }
    customers = pd.read_csv(ROOT / "examples/triggers/customers.csv")
    assert by_band["customers"].sum() == len(customers) == len(asset.object)
