"""Asset and flow behaviour the virtualitics-sdk 1.62 stubs document: Model's default version, App.chain
on a second call, Model timings, Dataset encodings and Schema level-2 validation."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from flowdeck import Asset, AssetType, Dataset, Explainer, Model, Schema, StoreInterface, ValidationError
from virtualitics_sdk import App, Page, Section, Step


@pytest.fixture
def store(deployment: str) -> StoreInterface:
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    return StoreInterface(run.flow_id, user="alice")


class _Estimator:
    """A small model: ``fit`` takes a moment, so its timing is above zero."""

    def fit(self, X: list[int]) -> _Estimator:
        time.sleep(0.01)
        self.size = len(X)
        return self


# --------------------------------------------------------------------------- asset versions


def test_a_model_made_without_a_version_has_version_0() -> None:
    # stub (Model): ":param version: Version of Asset ... Defaults to 0."
    assert Model(_Estimator(), "churn").version == 0
    assert Model(_Estimator(), "churn", version=None).version == 0
    assert Model(_Estimator(), "churn", version=4).version == 4


def test_other_assets_made_without_a_version_have_none() -> None:
    # The stubs of Asset, Dataset and Schema give no default for version.
    frame = pd.DataFrame({"a": [1, 2]})
    assert Asset([1], "thing", AssetType.OTHER).version is None
    assert Asset([1], "thing", AssetType.MODEL).version is None
    assert Dataset(frame, "data").version is None
    assert Schema(frame.dtypes, label="cols").version is None
    assert Explainer(object(), "why").version is None
    assert Dataset(frame, "data", version=2).version == 2


def test_an_unsaved_model_keeps_version_0_through_its_description() -> None:
    model = Model(_Estimator(), "churn")
    assert model.to_json()["version"] == 0
    assert Asset.from_json(model.to_json()).version == 0
    document = {**model.to_json(), "version": None}
    rebuilt = Asset.from_json(document)
    assert isinstance(rebuilt, Model) and rebuilt.version == 0


def test_the_catalogue_numbers_saved_models_from_1(store: StoreInterface) -> None:
    model = Model(_Estimator(), "churn")
    first = store.save_asset(model)
    assert (model.id, model.version) == (first, 1)
    read = store.get_model("churn")
    assert (read.id, read.version) == (first, 1)
    second = store.save_asset(Model(_Estimator(), "churn", version=7))
    assert [(a.id, a.version) for a in store.get_assets(label="churn")] == [(second, 2), (first, 1)]
    assert store.get_asset_by_id(first).version == 1


def test_overwriting_keeps_the_catalogue_version(store: StoreInterface) -> None:
    store.save_asset(Model(_Estimator(), "churn"))
    newest = store.save_asset(Model(_Estimator(), "churn"))
    replaced = Model(_Estimator(), "churn")
    assert store.save_asset(replaced, overwrite=True) == newest
    assert replaced.version == 2
    assert store.get_model("churn").version == 2


def test_a_version_must_be_an_int() -> None:
    with pytest.raises(ValidationError, match=r"an asset version must be an int or None, got '2'"):
        Model(_Estimator(), "churn", version="2")
    with pytest.raises(ValidationError, match=r"an asset version must be an int or None, got True"):
        Asset(1, "thing", AssetType.OTHER, version=True)


def test_a_description_must_be_text() -> None:
    with pytest.raises(ValidationError, match="a description must be a string, got int"):
        Asset(1, "thing", AssetType.OTHER, description=5)
    with pytest.raises(ValidationError, match="a description must be a string, got list"):
        Model(_Estimator(), "churn").set_description(["words"])


# --------------------------------------------------------------------------- Model timings


def test_model_get_time_is_seconds_as_a_float() -> None:
    # stub: ":return: The time taken in seconds as a float. If no time is found, returns None instead."
    model = Model(_Estimator(), "churn")
    assert model.get_time("fit") is None
    assert model.get_recent_time() is None
    model.fit([1, 2, 3])
    taken = model.get_time("fit")
    assert isinstance(taken, float) and taken > 0
    assert model.get_recent_time() == taken
    assert model.get_all_metainfo()["times"] == {"fit": taken}
    assert json.loads(json.dumps(model.get_all_metainfo()["times"])) == {"fit": taken}


# --------------------------------------------------------------------------- Dataset encodings


def test_convert_encoding_to_none_is_the_datasets_own_encoding() -> None:
    # stub: "to_: ... If None, it assumes the dataframe is in the same encoding as the original
    # provided dataframe."
    frame = pd.DataFrame({"plan": [0, 1, 1], "n": [1.0, 2.0, 3.0]})
    data = Dataset(frame, "plans", cat_to_vals={"plan": ["basic", "pro"]})
    one_hot = data.get_as_encoding("one_hot")
    assert_frame_equal(data.convert_encoding(one_hot, from_="one_hot"), frame)
    assert_frame_equal(data.convert_encoding(one_hot, "one_hot", None), frame)
    verbose = data.get_as_encoding("verbose")
    assert_frame_equal(data.convert_encoding(verbose, "verbose"), frame)
    assert data.convert_encoding(frame) is frame
    with pytest.raises(ValidationError, match="unknown encoding 'latin'"):
        data.convert_encoding(frame, to_="latin")


# --------------------------------------------------------------------------- Schema level 2


def test_schema_level_2_runs_whenever_valid_inputs_is_given() -> None:
    # stub: "If valid_inputs is None, this level 2 validation will not be performed."
    frame = pd.DataFrame({"age": [30, 40], "city": ["Oslo", "Lima"]})
    assert Schema(frame.dtypes, label="people").do_level_2 is False
    empty = Schema(frame.dtypes, exact_match=True, valid_inputs={}, label="people")
    assert empty.do_level_2 is True
    with pytest.raises(ValidationError, match=r"valid_inputs has no entry for the schema columns \['age', 'city'\]"):
        empty.validate(frame)
    assert Schema(frame.dtypes, valid_inputs={}, label="people").validate(frame) is True
    restored = Asset.from_json(json.loads(json.dumps(empty.to_json())))
    assert isinstance(restored, Schema) and restored.do_level_2 is True


# --------------------------------------------------------------------------- App.chain


class _Noop(Step):
    def run(self, flow_metadata: object) -> None:
        """Shows the initial page."""


def _step(title: str) -> _Noop:
    return _Noop(title, "", "", "input", Page(title, [Section("", [])]))


def test_chain_locks_the_app_and_a_second_chain_is_refused() -> None:
    # stub: "Add all steps to the App's workflow with one function. Locks Apps by default."
    app = App("Locked", "chained once")
    first, second = _step("First"), _step("Second")
    assert app.chain([first, second]) is app
    assert app.is_locked is True
    with pytest.raises(ValidationError, match=r"flow 'Locked' is locked: chain\(\) adds all of a flow's steps"):
        app.chain([_step("Third")])
    with pytest.raises(ValidationError, match=r"chain\(steps, lock=False\) to add more steps later"):
        app.add_step(_step("Third"))
    assert app.step_names == ["First", "Second"]
    assert [first.last_step, second.last_step] == [False, True]


def test_chain_with_lock_false_leaves_the_app_open_to_more_steps() -> None:
    app = App("Open", "chained twice")
    first, second, third = _step("First"), _step("Second"), _step("Third")
    app.chain([first], lock=False)
    assert app.is_locked is False and first.last_step is True
    app.chain([second, third])
    assert app.step_names == ["First", "Second", "Third"]
    assert [s.last_step for s in app.steps] == [False, False, True]
    assert app.is_locked is True


def test_add_step_appends_to_an_open_app() -> None:
    app = App("Built", "step by step")
    app.add_step(_step("First")).add_step(_step("Second"))
    assert app.step_names == ["First", "Second"] and app.is_locked is False
    assert [s.last_step for s in app.steps] == [False, True]
    app.chain([])
    assert app.is_locked is True


def test_a_refused_chain_adds_nothing() -> None:
    app = App("Checked", "every step checked first")
    with pytest.raises(ValidationError, match="flow 'Checked' has a step named 'A' already; give the step a unique"):
        app.chain([_step("A"), _step("B"), _step("A")])
    with pytest.raises(ValidationError, match="flow 'Checked' can only chain Step objects, got str"):
        app.chain([_step("A"), "B"])
    with pytest.raises(ValidationError, match=r"flow 'Checked': chain\(\) takes a list of Steps, got NoneType"):
        app.chain(None)  # type: ignore[arg-type]
    assert app.steps == [] and app.is_locked is False
    app.chain([_step("A")], lock=False)
    with pytest.raises(ValidationError, match="has a step named 'A' already"):
        app.chain([_step("B"), _step("A")])
    assert app.step_names == ["A"] and app.is_locked is False


def test_a_chained_app_runs_its_steps(embedded: object) -> None:
    app = App("Runs", "chained in two calls")
    app.chain([_step("First")], lock=False)
    app.chain([_step("Second")])
    run = flowdeck.start(app, user="alice")
    run.next()
    assert run.current_step == "Second"
    run.next()
    assert run.current_step is None and run.status().state == "complete"
