"""``flowdeck flows`` and ``flowdeck run --headless``, run as real processes on the embedded default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_cli import flowdeck_cli

FLOWS = Path(__file__).resolve().parent / "headless_flows.py"


def test_flows_add_list_run_headless_and_remove(home, tmp_path):
    added = flowdeck_cli(home, "flows", "add", f"{FLOWS}:sales_totals", "--user", "ops")
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"registered flow Sales totals → {FLOWS}:sales_totals" in added.stdout

    listed = flowdeck_cli(home, "flows", "list")
    assert "Sales totals" in listed.stdout and "1 flow" in listed.stdout

    data = tmp_path / "sales.csv"
    data.write_text("region,product,amount\nnorth,a,1.5\nsouth,b,2.0\nnorth,b,3.0\n")
    params = tmp_path / "params.json"
    params.write_text(
        json.dumps({"steps": {"Load": {"Sales": {"value": str(data)}, "Group by": {"value": "product"}}}})
    )
    done = flowdeck_cli(home, "run", "--headless", "Sales totals", "--user", "alice", "--params", str(params))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(complete)" in done.stdout
    flow_id = done.stdout.split("run ")[1].split()[0]

    runs = flowdeck_cli(home, "runs", "--user", "alice")
    assert "cli:alice" in runs.stdout and flow_id in runs.stdout

    # a missing input: the run waits, the command says so and succeeds
    params.write_text(json.dumps({"steps": {"Load": {"Sales": {"value": str(data)}}}}))
    waiting = flowdeck_cli(home, "run", "--headless", "Sales totals", "--user", "alice", "--params", str(params))
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    assert "(awaiting_input)" in waiting.stdout

    removed = flowdeck_cli(home, "flows", "remove", "Sales totals")
    assert removed.returncode == 0 and "removed flow Sales totals" in removed.stdout
    gone = flowdeck_cli(home, "run", "--headless", "Sales totals", "--user", "alice")
    assert gone.returncode != 0
    assert "no registered flow 'Sales totals'" in gone.stdout + gone.stderr


def test_params_without_headless_is_refused(home, tmp_path):
    done = flowdeck_cli(home, "run", str(FLOWS), "--user", "alice", "--params", str(tmp_path / "p.json"))
    assert done.returncode == 2
    assert "--params goes with --headless" in done.stdout + done.stderr


def test_the_flowdeck_command_finds_a_flow_module_in_the_current_directory_without_shadowing(home, tmp_path):
    # The console script, not ``python -m``: only ``-m`` puts the current directory on the import path.
    command = Path(sys.executable).with_name("flowdeck")
    (tmp_path / "here_flows.py").write_text(
        "from flowdeck import Flow, Step, StepType\n\n"
        "class Only(Step):\n"
        "    def run(self, flow_metadata):\n"
        "        pass\n\n"
        "flow = Flow(name='Here', description='a flow next to the command')\n"
        "flow.chain([Only(title='Only', type=StepType.RESULTS)])\n"
    )
    # A file named like an installed module must not replace it.
    (tmp_path / "json.py").write_text("raise SystemExit('the json module of the current directory was imported')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_") or k.startswith("FLOWDECK_TEST")}
    env["FLOWDECK_HOME"] = str(home)
    env.pop("PYTHONPATH", None)
    added = subprocess.run(
        [str(command), "flows", "add", "here_flows:flow"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert "registered flow Here → here_flows:flow" in added.stdout
