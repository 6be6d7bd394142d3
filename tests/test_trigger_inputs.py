"""A trigger's input parameters reach the runs it starts as given, uploads' bytes included."""

from __future__ import annotations

import pandas as pd

import flowdeck
import headless_flows
from flowdeck import Asset, StoreInterface
from flowdeck.triggers import AssetTrigger, check_triggers

CSV = b"region,amount\nwest,1\neast,2\nwest,3\n"


def test_an_upload_given_as_bytes_reaches_the_run_a_trigger_starts(embedded) -> None:
    flowdeck.register_flow(headless_flows.sales_totals)
    params = {"steps": {"Load": {"Sales": {"value": CSV, "filename": "s.csv"}, "Group by": {"value": "region"}}}}
    AssetTrigger("scores arrived", label="scores").configure(
        "Sales totals", user_id="alice", input_parameters=params
    ).start()
    assert check_triggers() == []
    store = StoreInterface(flowdeck.run_headless("Sales totals", "alice"), user="alice")
    store.save_asset(Asset({"x": 1}, label="scores", type="dataset"))
    (tick,) = check_triggers()
    assert (tick.outcome, tick.error) == ("fired", None)
    run = flowdeck.open_run(tick.run_id, user="alice")
    assert run.status().state == "complete"
    totals = StoreInterface(tick.run_id, user="alice").get_input("totals", step_name="Totals")
    pd.testing.assert_series_equal(totals, pd.Series({"east": 2, "west": 4}, name="amount").rename_axis("region"))
