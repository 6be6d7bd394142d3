"""``flowdeck flows`` and ``flowdeck run --headless``, run as real processes on the embedded default."""

from __future__ import annotations

import json
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
