"""What the SDK 1.62 stubs' docstrings say, for Schema, Dataset, Asset, Page and Card, the progress bar
and PredictException (virtualitics-sdk 1.62, DESIGN.md §9)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowdeck
import flowdeck.store.store_interface  # loads storage before the fixtures configure it
from flowdeck.errors import FlowdeckError, PredictValidationError, ValidationError
from virtualitics_sdk import (
    App,
    Asset,
    AssetType,
    Card,
    Dataset,
    DateTimeRange,
    Dropdown,
    Page,
    PredictException,
    RichText,
    Schema,
    Section,
    Step,
    StepProgressTqdm,
    StepType,
    StoreInterface,
    TextInput,
)
from virtualitics_sdk.types.callbacks import page_update_callback

sys.path.insert(0, str(Path(__file__).parent))

# --------------------------------------------------------------------------- Schema


def test_schema_numeric_valid_inputs_are_an_inclusive_min_max_range() -> None:
    schema = Schema(
        pd.Series({"age": "int64", "score": "float64"}),
        valid_inputs={"age": [0, 100], "score": [0.0, 1.0]},
        label="s",
    )
    inside = pd.DataFrame({"age": [0, 35, 100], "score": [0.0, 0.5, 1.0]})  # both ends included
    assert schema.validate(inside) is True
    assert schema.validate_level_2(inside) is True
    outside = pd.DataFrame({"age": [-1, 20, 101], "score": [0.5, 1.5, np.nan]})
    with pytest.raises(ValidationError) as caught:
        schema.validate(outside)
    message = str(caught.value)
    assert "column 'age' holds [-1, 101], outside [0, 100]" in message
    assert "column 'score' holds [1.5], outside [0.0, 1.0]" in message  # NaN is not checked


def test_schema_other_columns_check_membership_compared_by_type() -> None:
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "flag": [True, False], "code": ["1", "2"]})
    schema = Schema(frame.dtypes, valid_inputs={"city": ["Lima", "Oslo"], "flag": [True, False], "code": ["1", "2"]})
    assert schema.validate(frame) is True
    by_value = Schema(frame.dtypes, valid_inputs={"code": [1, 2], "flag": [1, 0]}, label="typed")
    with pytest.raises(ValidationError) as caught:
        by_value.validate(frame)
    # the text "1" is not the number 1, and True is not 1
    assert "column 'code' holds ['1', '2'], not among [1, 2]" in str(caught.value)
    assert "column 'flag' holds [False, True], not among [1, 0]" in str(caught.value)
    categorical = pd.DataFrame({"city": pd.Categorical(["Oslo", "Lima"])})
    with pytest.raises(ValidationError, match=r"column 'city' holds \['Oslo'\], not among \['Lima'\]"):
        Schema(categorical.dtypes, valid_inputs={"city": ["Lima"]}, label="c").validate(categorical)


@pytest.mark.parametrize("bad", [[1, 2, 3], [5, 1], ["a", "b"], [0, float("nan")], [True, 5], [3]])
def test_schema_numeric_valid_inputs_must_be_min_max(bad: list[Any]) -> None:
    with pytest.raises(
        ValidationError, match=r"valid_inputs\['n'\] is .*: for a numeric column it must be \[min, max\]"
    ):
        Schema({"n": "int64"}, valid_inputs={"n": bad}, label="s")
    # a column the schema does not type is checked by the frame's dtype, when validating
    loose = Schema({}, valid_inputs={"n": bad}, label="loose")
    with pytest.raises(ValidationError, match="for a numeric column it must be"):
        loose.validate(pd.DataFrame({"n": [1, 2]}))
    with pytest.raises(ValidationError, match="must be a list"):
        Schema({"n": "int64"}, valid_inputs={"n": 5}, label="s")


def test_schema_exact_match_needs_valid_inputs_for_every_schema_column() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    partial = Schema(frame.dtypes, exact_match=True, valid_inputs={"a": [0, 10]}, label="partial")
    with pytest.raises(
        ValidationError,
        match=r"valid_inputs has no entry for the schema columns \['b'\] \(with exact_match=True it must have one",
    ):
        partial.validate(frame)
    assert partial.validate_level_1(frame) is True  # level 1 does not look at valid_inputs
    whole = Schema(frame.dtypes, exact_match=True, valid_inputs={"a": [0, 10], "b": ["x", "y"]}, label="whole")
    assert whole.validate(frame) is True
    # without exact_match, valid_inputs may name only some columns; without valid_inputs, no level 2
    assert Schema(frame.dtypes, valid_inputs={"a": [0, 10]}, label="some").validate(frame) is True
    assert Schema(frame.dtypes, exact_match=True, label="none").validate(frame) is True


@pytest.mark.parametrize("text_dtype", ["object", "str", "string"])
def test_schema_text_dtypes_are_one_family(text_dtype: str) -> None:
    plain = pd.DataFrame({"name": ["a", "b"]})  # pandas 3: dtype 'str'
    assert Schema(pd.Series({"name": text_dtype}), label="t").validate(plain) is True
    assert Schema(pd.Series({"name": text_dtype}), label="t").validate(plain.astype({"name": object})) is True
    assert Schema(pd.Series({"name": text_dtype}), label="t").validate(plain.astype({"name": "string"})) is True
    with pytest.raises(ValidationError, match=r"column 'name' has dtype int64, expected"):
        Schema(pd.Series({"name": text_dtype}), label="t").validate(pd.DataFrame({"name": [1]}))


numbers = st.integers(min_value=-1000, max_value=1000)


@given(
    ints=st.lists(numbers, min_size=1, max_size=20),
    floats=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=20),
    bounds=st.tuples(numbers, numbers).map(sorted),
    float_bounds=st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).map(sorted),
    words=st.lists(st.sampled_from(["red", "green", "blue", "1", "2"]), min_size=1, max_size=20),
    allowed=st.lists(st.sampled_from(["red", "green", "blue", "1", "2", 1, 2]), max_size=5),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_schema_level_2_over_generated_frames(
    ints: list[int],
    floats: list[float],
    bounds: list[int],
    float_bounds: list[float],
    words: list[str],
    allowed: list[Any],
) -> None:
    size = min(len(ints), len(floats), len(words))
    frame = pd.DataFrame({"i": ints[:size], "f": floats[:size], "w": words[:size]})
    schema = Schema(frame.dtypes, valid_inputs={"i": bounds, "f": float_bounds, "w": allowed}, label="gen")
    ok_i = all(bounds[0] <= v <= bounds[1] for v in ints[:size])
    ok_f = all(float_bounds[0] <= v <= float_bounds[1] for v in floats[:size])
    ok_w = all(any(type(a) is str and a == v for a in allowed) for v in words[:size])
    if ok_i and ok_f and ok_w:
        assert schema.validate(frame) is True
    else:
        with pytest.raises(ValidationError) as caught:
            schema.validate(frame)
        message = str(caught.value)
        assert ("column 'i'" in message) == (not ok_i)
        assert ("column 'f'" in message) == (not ok_f)
        assert ("column 'w'" in message) == (not ok_w)


# --------------------------------------------------------------------------- Dataset


def test_dataset_infers_cat_to_vals_when_not_given() -> None:
    frame = pd.DataFrame({"num": [1.0, 2.0, 3.0], "color": ["red", "blue", "red"]})
    data = Dataset(frame, "lbl", categorical_cols=["color"])
    assert data.cat_to_vals == {"color": ["blue", "red"]}
    one_hot = data.get_as_encoding("one_hot")
    assert list(one_hot.columns) == ["num", "color_blue", "color_red"]
    assert one_hot["color_red"].tolist() == [1, 0, 1]
    verbose = data.get_as_encoding("verbose")
    assert verbose["color"].tolist() == ["red", "blue", "red"]
    ordinal = data.convert_encoding(verbose, "verbose", "ordinal")
    assert ordinal["color"].tolist() == [1, 0, 1]
    assert data.convert_encoding(ordinal, "ordinal", "verbose")["color"].tolist() == ["red", "blue", "red"]
    assert json.loads(json.dumps(data.metadata)) == data.metadata  # kept in the catalogue as JSON


def test_dataset_inference_by_encoding_and_dtype() -> None:
    codes = Dataset(pd.DataFrame({"plan": [0, 2, 2]}), "codes", categorical_cols=["plan"])
    assert codes.cat_to_vals == {"plan": [0, 1, 2]}  # without names a code stands for itself
    assert list(codes.get_as_encoding("one_hot").columns) == ["plan_0", "plan_1", "plan_2"]
    assert codes.get_as_encoding("verbose")["plan"].tolist() == [0, 2, 2]

    verbose_ints = Dataset(pd.DataFrame({"size": [10, 30, 10]}), "v", encoding="verbose", categorical_cols=["size"])
    assert verbose_ints.cat_to_vals == {"size": [10, 30]}
    assert verbose_ints.get_as_encoding("ordinal")["size"].tolist() == [0, 1, 0]

    categories = pd.DataFrame({"city": pd.Categorical(["Oslo", "Lima"], categories=["Oslo", "Lima"])})
    assert Dataset(categories, "c", categorical_cols=["city"]).cat_to_vals == {"city": ["Oslo", "Lima"]}

    given_some = Dataset(
        pd.DataFrame({"a": ["x", "y"], "b": ["p", "q"]}),
        "g",
        encoding="verbose",
        cat_to_vals={"a": ["y", "x"]},
        categorical_cols=["a", "b"],
    )
    assert given_some.cat_to_vals == {"a": ["y", "x"], "b": ["p", "q"]}  # what was given is kept

    dummies = pd.get_dummies(pd.DataFrame({"n": [1, 2], "color": ["red", "blue"]}), dtype="int64")
    one_hot = Dataset(dummies, "oh", encoding="one_hot", categorical_cols=["color"])
    assert one_hot.one_hot_dict == {"color": ["color_blue", "color_red"]}
    assert one_hot.cat_to_vals == {"color": ["blue", "red"]}
    assert one_hot.get_as_encoding("verbose")["color"].tolist() == ["red", "blue"]

    dates = Dataset(pd.DataFrame({"day": pd.to_datetime(["2024-01-01"])}), "d", categorical_cols=["day"])
    assert dates.cat_to_vals == {}  # dates cannot be kept in the metadata: not inferred
    with pytest.raises(ValidationError, match="has no cat_to_vals for column 'day'"):
        dates.get_as_encoding("one_hot")


def test_a_dataset_read_back_without_cat_to_vals_infers_them_when_converting() -> None:
    frame = pd.DataFrame({"color": ["red", "blue"]})
    read = Asset.restore(
        "Dataset",
        id="x1",
        label="old",
        type=AssetType.DATASET,
        name=None,
        description=None,
        version=1,
        metadata={"encoding": "verbose", "categorical_columns": ["color"]},  # saved before inference
        extra=[],
        owner="alice",
        flow_id=None,
        step_name=None,
        time_created=None,
        time_updated=None,
        loader=lambda: frame,
    )
    assert isinstance(read, Dataset) and not read.is_loaded and read.cat_to_vals == {}
    assert read.get_as_encoding("ordinal")["color"].tolist() == [1, 0]
    assert read.cat_to_vals == {"color": ["blue", "red"]}


def test_dataset_given_cat_to_vals_still_converts_as_before() -> None:
    frame = pd.DataFrame({"plan": [0, 1, 1], "n": [1.0, 2.0, 3.0]})
    data = Dataset(frame, "plans", cat_to_vals={"plan": ["basic", "pro"]})
    assert data.get_as_encoding("verbose")["plan"].tolist() == ["basic", "pro", "pro"]
    with pytest.raises(
        ValidationError, match=r"holds codes from 2 to 2, but cat_to_vals\['plan'\] has 2 values \(codes 0 to 1\)"
    ):
        data.convert_encoding(pd.DataFrame({"plan": [2], "n": [1.0]}), "ordinal", "verbose")


# --------------------------------------------------------------------------- Asset equality and notes


def test_asset_equality_is_same_class_and_attributes() -> None:
    assert Asset([1], "l", AssetType.OTHER) == Asset([1], "l", AssetType.OTHER)
    assert Asset([1], "l", AssetType.OTHER, name="n") != Asset([1], "l", AssetType.OTHER)
    assert Asset([1], "l", AssetType.OTHER, metadata={"k": 1}) != Asset([1], "l", AssetType.OTHER)
    assert Asset([1], "l", AssetType.OTHER) != Asset([1], "l", AssetType.MODEL)
    assert Asset([1], "l", AssetType.OTHER) != "l"
    frame = pd.DataFrame({"x": [1, 2]})
    # a Dataset is not a plain Asset of type DATASET
    assert Dataset(frame, "d") != Asset(frame, "d", AssetType.DATASET)
    assert Dataset(frame, "d") == Dataset(frame.copy(), "d")
    # the stored objects are not compared deeply ("just checks for same type"): no DataFrame truth errors
    assert Dataset(frame, "d") == Dataset(pd.DataFrame({"x": [3]}), "d")
    assert Asset(frame, "d", AssetType.OTHER) != Asset([1, 2], "d", AssetType.OTHER)
    # frames and arrays inside the attributes are compared by value, safely
    meta = {"train": frame, "weights": np.array([0.5, np.nan])}
    same = {"train": frame.copy(), "weights": np.array([0.5, np.nan])}
    assert Asset(1, "m", AssetType.OTHER, metadata=meta) == Asset(1, "m", AssetType.OTHER, metadata=same)
    other = {"train": frame.assign(x=[1, 3]), "weights": np.array([0.5, np.nan])}
    assert Asset(1, "m", AssetType.OTHER, metadata=meta) != Asset(1, "m", AssetType.OTHER, metadata=other)
    saved = Asset([1], "l", AssetType.OTHER)
    saved.id = "abc"
    assert saved != Asset([1], "l", AssetType.OTHER)
    with pytest.raises(TypeError, match="unhashable"):
        hash(saved)


def test_keyed_notes_are_in_user_and_engineer_notes() -> None:
    asset = Asset([1], "l", AssetType.OTHER)
    asset.add_user_notes("purpose", "demo")
    asset.add_engineer_notes("source", "crm")
    assert asset.user_notes["purpose"] == "demo" and asset.engineer_notes["source"] == "crm"
    assert asset.user_notes == {"purpose": "demo"} and dict(asset.engineer_notes.items()) == {"source": "crm"}
    assert "purpose" in asset.user_notes and asset.user_notes.get("missing") is None
    assert list(asset.user_notes.keys()) == ["purpose"] and asset.keyed_notes("user") == {"purpose": "demo"}
    # a note without a key goes to the log: the notes as a list, oldest first
    asset.add_user_notes("use with care").add_user_notes(notes="second")
    assert list(asset.user_notes) == ["use with care", "second"] and asset.user_notes[0] == "use with care"
    assert asset.user_notes["purpose"] == "demo"
    assert asset.user_notes != ["use with care", "second"]  # a list cannot hold the keyed note
    plain = Asset([1], "p", AssetType.OTHER).add_user_notes("only text")
    assert plain.user_notes == ["only text"] and repr(plain.user_notes) == "['only text']"
    assert repr(asset.user_notes) == "AssetNotes(['use with care', 'second'], keyed={'purpose': 'demo'})"
    assert asset.metadata["user_notes_by_key"] == {"purpose": "demo"}  # stored with the metadata
    with pytest.raises(KeyError):
        asset.user_notes["missing"]


# --------------------------------------------------------------------------- Card filters


def test_card_filters_are_page_inputs() -> None:
    dropdown = Dropdown(["a", "b", "c"], multiselect=False, title="Single Selection Dropdown", selected=["a"])
    dates = DateTimeRange(datetime(2020, 6, 27, 12), datetime(2025, 1, 27, 12), title="Date Range Title")
    card = Card("Card Title", [RichText("x", title="rt")], filters=[dropdown, dates])
    page = Page("P", [Section("Ex Section", [card])])
    assert page.get_element_by_title("Single Selection Dropdown") is dropdown
    assert page.get_element_by_id(dates.id) is dates
    assert page.input_elements == [dropdown, dates]
    assert [e.title for e in page.elements] == ["rt", "Single Selection Dropdown", "Date Range Title"]
    assert list(card.get_elements()) == card.content and list(card.get_filters()) == [dropdown, dates]
    replacement = Dropdown(["a", "b"], title="Single Selection Dropdown", selected=["b"])
    replacement.id = dropdown.id
    page.replace_element(replacement)
    assert card.filters[0] is replacement
    page.validate()
    page.add_card_to_section(Card("Other", [TextInput("v", title="Date Range Title")]), "Ex Section")
    with pytest.raises(ValidationError, match="two input elements titled 'Date Range Title'"):
        page.validate()
    copied = page.copy()
    assert copied.get_element_by_title("Single Selection Dropdown").get_value() == "b"


@page_update_callback
def filters_changed(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """The Card stub's own filter_update example: read the filters by title."""
    dropdown = store_interface.get_element_value(store_interface.step_name, "Single Selection Dropdown")
    start, _end = store_interface.get_element_value(store_interface.step_name, "Date Range Title")
    page = store_interface.get_page()
    card = page.get_card_by_title("Card Title")
    card.content = [RichText(f"{dropdown} from {start:%Y}", title="rt")]
    store_interface.update_page(page)


class FilterStep(Step):
    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        dropdown = Dropdown(["a", "b", "c"], multiselect=False, title="Single Selection Dropdown", selected=["a"])
        dates = DateTimeRange(datetime(2020, 6, 27, 12), datetime(2025, 1, 27, 12), title="Date Range Title")
        card = Card("Card Title", [RichText("x", title="rt")], filters=[dropdown, dates], filter_update=filters_changed)
        page.add_card_to_section(card, "Ex Section")
        store.update_page(page)
        assert store.get_element_value(store.step_name, "Single Selection Dropdown") == "a"
        assert store.get_element(store.step_name, "Date Range Title").title == "Date Range Title"


class ReadFilters(Step):
    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        store = StoreInterface(**flow_metadata)
        store.save_output(store.get_element_value("Filters", "Single Selection Dropdown"), "chosen")


filter_flow = App(name="Filter flow", description="card filters as inputs").chain(
    [
        FilterStep("Filters", "", "", StepType.INPUT, Page("Filters", [Section("Ex Section", [])])),
        ReadFilters("Read", "", "", StepType.RESULTS, Page("Read", [Section("", [])])),
    ]
)


def test_card_filters_are_reachable_by_title_in_a_run(embedded: Path) -> None:
    run = flowdeck.start(filter_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Filters")
    assert store.get_element_value("Filters", "Single Selection Dropdown") == "a"
    assert store.get_element_value("Filters", "Date Range Title") == (
        datetime(2020, 6, 27, 12),
        datetime(2025, 1, 27, 12),
    )
    run.set_value("Single Selection Dropdown", "b")
    assert store.get_element_value("Filters", "Single Selection Dropdown") == "b"
    run.apply_filters("Card Title", {"Single Selection Dropdown": "c"})
    assert run.page().get_card_by_title("Card Title").content[0].content == "c from 2020"
    run.next()
    assert StoreInterface(run.flow_id, user="alice").get_input("chosen", step_name="Read") == "c"


# --------------------------------------------------------------------------- PredictException


def test_update_card_title_without_card_raises_predict_exception() -> None:
    page = Page("P", [Section("S", [Card("C", [])])])
    with pytest.raises(PredictException, match=r"update_card_title\('new'\) needs card_title or card_id") as caught:
        page.update_card_title("new")
    assert isinstance(caught.value, ValidationError) and isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PredictValidationError)
    page.update_card_title("new", card_title="C")
    assert page.get_card_by_title("new").title == "new"


def test_predict_exception_message_defaults_to_the_sdk_text() -> None:
    assert str(PredictException()) == "An exception has occurred"
    assert PredictException().message == "An exception has occurred"
    assert PredictException("").message == "An exception has occurred"
    custom = PredictException("You need a valid API key")
    assert (str(custom), custom.message) == ("You need a valid API key", "You need a valid API key")
    assert isinstance(custom, FlowdeckError) and not isinstance(custom, ValueError)
    import virtualitics_sdk.exceptions

    assert virtualitics_sdk.exceptions.PredictException is flowdeck.errors.PredictException


class _Noop(Step):
    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        pass


def test_a_step_title_with_a_slash_raises_predict_exception() -> None:
    with pytest.raises(PredictException, match=r"a step title may not contain '/', got 'a/b'") as caught:
        _Noop("a/b", "", "", StepType.INPUT, Page("p", [Section("", [])]))
    assert isinstance(caught.value, ValidationError)
    assert _Noop("a-b", "", "", StepType.INPUT, Page("p", [Section("", [])])).name == "a-b"


# --------------------------------------------------------------------------- StepProgressTqdm


class Counting(Step):
    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        bar = StepProgressTqdm(flow_metadata, total=4, starting_progress=20, target_progress=60)
        assert isinstance(bar.store, StoreInterface)
        assert (bar.store.flow_id, bar.store.step_name) == (flow_metadata["flow_id"], "Count")
        for _ in range(4):
            bar.update()


counting_flow = App("Counting bar", "counts").chain(
    [Counting("Count", "", "", StepType.RESULTS, Page("Count", [Section("", [])]))]
)


def test_step_progress_tqdm_has_its_store(embedded: Path) -> None:
    run = flowdeck.start(counting_flow, user="alice")
    assert run.status().steps[0].progress == 60
    seen: list[float] = []
    detached = StepProgressTqdm(None, total=2, callback=seen.append)
    assert detached.store is None
    detached.update()
    detached.update()
    assert seen == [50.0, 100.0] and detached.n == 2
