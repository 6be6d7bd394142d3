"""``link_asset`` as the SDK's docstring uses it: ``model.link_asset("training dataset", data)``,
typically before either asset is saved. Saving the model saves the linked dataset first (for the
same user) and records the link by its id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from flowdeck import Asset, Dataset, Model, StoreInterface, ValidationError

FRAME = pd.DataFrame({"x": np.arange(5), "y": np.arange(5) * 2.0})


@pytest.fixture
def store(deployment: str) -> StoreInterface:
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    return StoreInterface(run.flow_id, user="alice", step_name="Produce")


def test_linking_an_unsaved_dataset_saves_it_with_the_model(store: StoreInterface) -> None:
    data = Dataset(FRAME, "training data")
    model = Model({"coef": [1.0, 2.0]}, "churn model")
    model.link_asset("training dataset", data)
    assert model.linked_assets == {} and data.id is None  # nothing saved yet
    model_id = store.save_asset(model)
    assert data.id is not None and data.owner == "alice" and data.step_name == "Produce"
    assert model.linked_assets == {"training dataset": data.id}
    loaded = store.get_asset_by_id(model_id)
    assert loaded.linked_assets == {"training dataset": data.id}
    assert_frame_equal(store.get_asset_by_id(loaded.linked_assets["training dataset"]).object, FRAME)
    assert sorted(a.label for a in store.get_assets()) == ["churn model", "training data"]


def test_a_linked_asset_saved_in_between_is_linked_and_not_saved_again(store: StoreInterface) -> None:
    data = Dataset(FRAME, "training data")
    model = Model({"coef": [1.0]}, "churn model").link_asset("training dataset", data)
    data_id = store.save_asset(data)
    store.save_asset(model)
    assert model.linked_assets == {"training dataset": data_id}
    assert [a.version for a in store.get_assets(label="training data")] == [1]
    # Linking the same label again replaces the link, saved or not.
    newer = Dataset(FRAME.head(2), "training data")
    model.link_asset("training dataset", newer)
    assert model.linked_assets == {}
    store.save_asset(model, overwrite=True)
    assert model.linked_assets == {"training dataset": newer.id} and newer.version == 2


def test_assets_linking_each_other_unsaved_are_refused_and_nothing_is_saved(store: StoreInterface) -> None:
    first, second = Asset(1, "first", "other"), Asset(2, "second", "other")
    first.link_asset("next", second)
    second.link_asset("back", first)
    with pytest.raises(ValidationError, match="link to each other and neither is saved"):
        store.save_asset(first)
    assert store.get_assets() == [] and first.id is None and second.id is None
    with pytest.raises(ValidationError, match="cannot link 'self' to itself"):
        first.link_asset("self", first)


def test_a_linked_asset_that_cannot_be_saved_leaves_the_other_unsaved(store: StoreInterface) -> None:
    broken = Asset(lambda: None, "unpicklable", "other")  # a lambda cannot be pickled
    model = Model({"coef": [1.0]}, "churn model").link_asset("helper", broken)
    with pytest.raises(ValueError):
        store.save_asset(model)
    assert store.get_assets() == [] and model.id is None
