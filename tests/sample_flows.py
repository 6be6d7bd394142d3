"""Flows used by the tests, defined at module level so other processes can load them."""

from __future__ import annotations

import pandas as pd

from flowdeck import Flow, Step, StepType, StoreInterface

FAIL_MARKER: dict[str, bool] = {"fail": False}


class Produce(Step):
    """Saves a frame and a few small values."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        frame = pd.DataFrame({"id": [1, 2, 3], "score": [0.5, 0.25, 1.0]})
        store.save_output(frame, "frame")
        store.save_output({"rows": 3}, "summary")
        store.save_output("from produce", "note")
        store.update_progress(50, "half way")
        store.update_progress(100, "done")


class Transform(Step):
    """Reads what Produce saved and saves derived values; can be made to fail."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        if FAIL_MARKER["fail"]:
            raise RuntimeError("transform exploded")
        frame = store.get_input("frame")
        store.save_output(frame.assign(double=frame["score"] * 2), "frame")
        store.save_output("from transform", "note")
        store.save_output(store.get_previous_step_name(), "previous")


class Report(Step):
    """Reads the nearest outputs and records what it saw."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        seen = {
            "note": store.get_input("note"),
            "columns": list(store.get_input("frame").columns),
            "summary": store.get_input("summary"),
            "produce_note": store.get_input("note", step_name="Produce"),
        }
        store.save_output(seen, "seen")


def make_three_step_flow() -> Flow:
    """Produce → Transform → Report."""
    flow = Flow(name="Three steps", description="Outputs pass from step to step.")
    flow.chain(
        [
            Produce(title="Produce", type=StepType.INPUT),
            Transform(title="Transform", type=StepType.RESULTS),
            Report(title="Report", type=StepType.DASHBOARD),
        ]
    )
    return flow


three_steps = make_three_step_flow()
