"""StoreInterface as the reference page writes it: calls with every documented default work."""

from __future__ import annotations

import pandas as pd
import pytest

import flowdeck
import page_flows
import sdk_store_flows
from flowdeck import StoreInterface
from flowdeck.errors import ValidationError

SALES = pd.DataFrame({"region": ["north", "south"], "amount": [100, 250]})
CSV = SALES.to_csv(index=False).encode()


def test_get_raw_data_source_data_with_its_defaults_reads_the_steps_only_data_source(deployment):
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    run.upload("Sales", "sales.csv", CSV)
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_raw_data_source_data().read() == CSV  # this step, its one DataSource
    assert store.get_raw_data_source_data(step_name="Upload").read() == CSV


def test_get_raw_data_source_data_with_several_data_sources_asks_which(deployment):
    run = flowdeck.start(page_flows.sales_report, user="alice")
    run.upload("Sales data", "sales.csv", CSV)
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(ValidationError, match=r"2 DataSources \['Sales data', 'Notes file'\]; name one"):
        store.get_raw_data_source_data()
    assert store.get_raw_data_source_data(element_title="Sales data").read() == CSV


def test_get_current_step_user_input_naming_no_data_source_reads_the_only_one(deployment):
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    run.upload("Sales", "sales.csv", CSV)
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_current_step_user_input().read() == CSV
    assert store.get_current_step_user_input("Sales").read() == CSV
