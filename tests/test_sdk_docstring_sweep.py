"""Behaviour the SDK's docstrings describe, checked on the classes a flow writer uses."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowdeck.elements.base import Element
from virtualitics_sdk import AssetType, Button, Dataset, DateTimeRange, Model
from virtualitics_sdk.app.flow_metadata import FlowMetadata
from virtualitics_sdk.types.callbacks import AssetDownloadCallback


# --- DateTimeRange.reset_selection ---------------------------------------------------------------
def _period() -> DateTimeRange:
    return DateTimeRange(
        dt.datetime(2020, 1, 1),
        dt.datetime(2021, 1, 1),
        min_selection=dt.datetime(2020, 3, 1),
        max_selection=dt.datetime(2020, 9, 1),
        title="Period",
    )


def test_reset_selection_restores_the_selection_given_at_construction() -> None:
    # "Reset the selection values to the original min_selection and max_selection provided
    # during initialization."
    period = _period()
    period.update_selection(min_value=dt.datetime(2020, 5, 1), max_value=dt.datetime(2020, 6, 1))
    period.reset_selection()
    assert period.get_value() == {"min": "2020-03-01T00:00:00", "max": "2020-09-01T00:00:00"}


def test_reset_selection_survives_the_page_json() -> None:
    period = _period()
    period.update_selection(min_value=dt.datetime(2020, 5, 1), max_value=dt.datetime(2020, 6, 1))
    loaded = Element.from_json(period.to_json())
    assert loaded.get_value() == {"min": "2020-05-01T00:00:00", "max": "2020-06-01T00:00:00"}
    loaded.reset_selection()
    assert loaded.get_value() == {"min": "2020-03-01T00:00:00", "max": "2020-09-01T00:00:00"}


def test_reset_selection_without_an_initial_selection_selects_the_whole_range() -> None:
    period = DateTimeRange(dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1), title="Whole")
    period.update_selection(min_value=dt.datetime(2020, 5, 1))
    period.reset_selection()
    assert period.get_value() == {"min": "2020-01-01T00:00:00", "max": "2021-01-01T00:00:00"}
    old_json = period.to_json()
    del old_json["initial_selection"]  # a page saved before the initial selection was kept
    Element.from_json(old_json).reset_selection()


def test_reset_selection_outside_a_moved_range_selects_the_whole_range() -> None:
    period = _period()
    period.update_range(min_date=dt.datetime(2020, 10, 1))
    period.reset_selection()
    assert period.get_value() == {"min": "2020-10-01T00:00:00", "max": "2021-01-01T00:00:00"}


# --- AssetDownloadCallback ------------------------------------------------------------------------
def test_asset_download_label_defaults_to_the_asset_label() -> None:
    # ":param label: Optional override for the download label (defaults to ``asset.label``)."
    dataset = Dataset(pd.DataFrame({"a": [1]}), "Quarterly sales", name="q1")
    download = AssetDownloadCallback(dataset)
    assert download.label == "Quarterly sales"
    assert download.to_json()["label"] == "Quarterly sales"
    assert AssetDownloadCallback(dataset, label="Sales").label == "Sales"
    assert AssetDownloadCallback({"asset_id": "x", "label": "ref"}).label == "ref"
    assert Button(title="Download", on_click=download).to_json()["on_click"]["label"] == "Quarterly sales"


# --- Dataset filtering in the one-hot encoding -----------------------------------------------------
def _colours() -> Dataset:
    frame = pd.DataFrame({"num": [1.0, 2.0, 3.0], "color": ["red", "blue", "red"]})
    return Dataset(frame, "Colours", encoding="verbose", categorical_cols=["color"], predict_cols=["num", "color"])


def test_filter_data_of_a_one_hot_frame_keeps_the_indicator_columns() -> None:
    # filter_data(X, encoding): "The encoding of the provided dataframe."
    dataset = _colours()
    one_hot = dataset.get_as_encoding("one_hot").assign(extra=1)
    assert list(dataset.filter_data(one_hot, "one_hot").columns) == ["num", "color_blue", "color_red"]
    assert dataset.predict_cols_one_hot == ["num", "color_blue", "color_red"]


def test_convert_encoding_with_filter_to_one_hot() -> None:
    dataset = _colours()
    converted = dataset.convert_encoding(dataset.object.assign(extra=1), "verbose", "one_hot", filter=True)
    assert list(converted.columns) == ["num", "color_blue", "color_red"]
    assert list(dataset.get_as_encoding("one_hot", filter=True).columns) == ["num", "color_blue", "color_red"]


# --- Model attribute pass-through ----------------------------------------------------------------
class _Estimator:
    def __init__(self) -> None:
        self.C = 1.0

    def fit(self, X: object, y: object) -> _Estimator:
        self.fitted_with = self.C
        return self


def test_setting_an_estimator_attribute_through_the_model_sets_it_on_the_estimator() -> None:
    # "Accessing attributes and member functions of the model asset also passes through access to
    # the underlying machine learning model."
    model = Model(_Estimator(), label="churn")
    model.C = 0.5
    assert model.object.C == 0.5
    model.fit([[0]], [0])
    assert model.object.fitted_with == 0.5
    model.label = "renamed"
    model.notes_for_later = "kept on the asset"
    assert model.label == "renamed" and not hasattr(model.object, "label")
    assert model.__dict__["notes_for_later"] == "kept on the asset"
    assert model.type is AssetType.MODEL


class _NamedEstimator:
    """An estimator whose ``name`` and ``version`` cannot be set, as a Keras model's ``name``."""

    @property
    def name(self) -> str:
        return "sequential"

    @property
    def version(self) -> int:
        return 7


def test_the_assets_own_attributes_stay_on_the_asset_even_where_the_estimator_has_them() -> None:
    model = Model(_NamedEstimator(), label="net", name="first", version=None)
    assert model.name == "first" and model.object.name == "sequential"
    model.name = "second"
    model.description = "a network"
    assert model.name == "second" and model.description == "a network"
    assert model.object.name == "sequential" and model.object.version == 7


# --- FlowMetadata ---------------------------------------------------------------------------------
def test_flow_metadata_is_made_like_the_sdks_typed_dict() -> None:
    keys = {"flow_id": "f1", "step_name": "Upload", "user": "ana", "is_action": False}
    assert FlowMetadata(keys) == keys
    assert FlowMetadata(**keys) == keys
    assert FlowMetadata("f1", "Upload", "ana") == keys
    assert FlowMetadata({"flow_id": "f1", "step_name": "Upload", "user": "ana"}).is_action is False
    assert set(FlowMetadata.__annotations__) == set(keys)
    with pytest.raises(TypeError, match="unknown: 'flow'"):
        FlowMetadata({"flow": "f1", "step_name": "Upload", "user": "ana"})
    with pytest.raises(TypeError):
        FlowMetadata("f1")
