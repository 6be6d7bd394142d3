"""StoreInterface as the reference page writes it: calls with every documented default work."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import page_flows
import sdk_store_flows
from flowdeck import AssetType, Dataset, Model, Schema, StoreInterface
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


def test_assets_take_their_object_as_object_and_schema_its_label_second(deployment):
    # DESIGN: Dataset, Model, Explainer, Schema take (object, label, metadata=None, ...).
    dataset = Dataset(object=SALES, label="sales")
    assert dataset.label == "sales" and dataset.type == AssetType.DATASET
    assert_frame_equal(dataset.object, SALES)
    model = Model(object={"weights": [1, 2]}, label="churn", name="v")
    assert model.object == {"weights": [1, 2]} and model.name == "v"
    schema = Schema(SALES.dtypes, "sales columns")
    assert schema.label == "sales columns" and schema.metadata["exact_match"] is False
    assert Schema(object=SALES.dtypes, label="by keyword").validate(SALES) is True
    # The SDK's names and order still work.
    assert Dataset(dataset=SALES, label="sales").label == "sales"
    assert Schema(SALES.dtypes, True, label="exact").metadata["exact_match"] is True
    with pytest.raises(TypeError, match=r"got both object= and dataset=; pass one of them"):
        Dataset(object=SALES, dataset=SALES, label="sales")
    with pytest.raises(ValidationError, match="exact_match must be True or False, got 'x'"):
        Schema(SALES.dtypes, "x", label="named")

    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    store.save_asset(schema)
    stored = store.get_schema(label="sales columns")
    assert stored is not None and stored.validate(SALES) is True
