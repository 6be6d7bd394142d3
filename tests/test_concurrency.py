"""Several processes on one deployment: no lost writes, and a killed writer leaves the run intact."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from conftest import DATABASES_ONLY
from flowdeck import StoreInterface
from flowdeck.config import get_settings

CTX = mp.get_context("fork")


def _settings_kwargs() -> dict:
    s = get_settings()
    return {
        "home": str(s.home),
        "database_url": s.database_url,
        "blob_url": s.blob_url,
        "s3_endpoint_url": s.s3_endpoint_url,
    }


def _saver(settings: dict, flow_id: str, prefix: str, count: int) -> None:
    flowdeck.configure(**settings)
    store = StoreInterface(flow_id, user="alice", step_name="Produce")
    for i in range(count):
        store.save_output({"writer": prefix, "i": i}, f"{prefix}-{i}")
        store.save_output(i, "shared-counter")


def test_two_processes_saving_at_once_lose_nothing(deployment):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    settings = _settings_kwargs()
    procs = [CTX.Process(target=_saver, args=(settings, run.flow_id, p, 40)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    flowdeck.configure(**settings)
    store = StoreInterface(run.flow_id, user="alice")
    for prefix in ("a", "b"):
        for i in range(40):
            assert store.get_input(f"{prefix}-{i}", step_name="Produce") == {"writer": prefix, "i": i}
    assert store.get_input("shared-counter", step_name="Produce") == 39


def _big_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "a": rng.integers(0, 1 << 40, rows),
            "b": rng.random(rows),
            "c": rng.random(rows),
            "d": rng.integers(0, 1 << 20, rows),
        }
    )


def _killed_saver(settings: dict, flow_id: str, ready_path: str) -> None:
    flowdeck.configure(**settings)
    store = StoreInterface(flow_id, user="alice", step_name="Produce")
    # Named like the frame the flow's later step reads, so the run goes on whichever save lands last.
    big = _big_frame(4_000_000).rename(columns={"b": "score"})
    with open(ready_path, "w") as fh:
        fh.write("saving")
    for _ in range(100):  # keep saving new versions until killed
        big.iloc[0, 0] += 1
        store.save_output(big, "frame")


def test_a_process_killed_mid_save_leaves_the_previous_value(deployment, tmp_path):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    settings = _settings_kwargs()
    store = StoreInterface(run.flow_id, user="alice")
    before = store.get_input("frame", step_name="Produce")
    ready = tmp_path / "ready"
    proc = CTX.Process(target=_killed_saver, args=(settings, run.flow_id, str(ready)))
    proc.start()
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.01)
    assert ready.exists()
    time.sleep(0.15)  # inside the first save of a 4-million-row frame
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    flowdeck.configure(**settings)
    store = StoreInterface(run.flow_id, user="alice")
    after = store.get_input("frame", step_name="Produce")
    if after.shape == before.shape:
        assert_frame_equal(after, before)
    else:  # a save that completed before the kill must be whole
        assert after.shape == (4_000_000, 4)
    # the run stays usable
    run = flowdeck.open_run(run.flow_id, user="alice")
    run.next()
    assert run.current_step == "Transform"


@DATABASES_ONLY
def test_open_run_in_a_new_process_loads_the_flow_by_reference(deployment):
    import subprocess
    import sys
    from pathlib import Path

    run = flowdeck.start(sample_flows.three_steps, user="alice")
    big = _big_frame(200_000)  # large enough to live in the blob store, not inline
    StoreInterface(run.flow_id, user="alice").save_output(big, "big")
    settings = _settings_kwargs()
    code = (
        "import flowdeck, sys\n"
        f"flowdeck.configure(**{settings!r})\n"
        f"run = flowdeck.open_run({run.flow_id!r}, user='alice')\n"
        "run.next()\n"
        "store = flowdeck.StoreInterface(run.flow_id, user='alice')\n"
        "print(run.current_step, int(store.get_input('big', step_name='Produce')['a'].sum()))\n"
    )
    # The tests' own modules, and the flowdeck under test (not whichever one is installed).
    paths = [str(Path(__file__).parent), str(Path(flowdeck.__file__).resolve().parents[1])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Transform", str(int(big["a"].sum()))]
    assert run.current_step == "Transform"
    assert StoreInterface(run.flow_id, user="alice").get_input("note", step_name="Transform") == "from transform"


@DATABASES_ONLY
def test_open_run_of_a_flow_defined_in_a_function_says_how_to_fix_it(deployment):
    import subprocess
    import sys

    flow = sample_flows.make_three_step_flow()  # not bound to any module attribute
    run = flowdeck.start(flow, user="alice")
    settings = _settings_kwargs()
    code = f"import flowdeck\nflowdeck.configure(**{settings!r})\nflowdeck.open_run({run.flow_id!r}, user='alice')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ValidationError" in done.stderr and "importable" in done.stderr
