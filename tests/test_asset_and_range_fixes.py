"""Two fixes, on the embedded default (SQLite and local files).

A ``save_asset`` that links an unsaved asset is all or nothing: refused or failing, it leaves neither
asset stored (no row; bytes it had written are left to gc), and a retry stores version 1 of both.

A ``DateTimeRange(is_range=False)`` takes one moment (a datetime, a date, ISO text, or a pair whose two
ends are that moment), from Python, headless input parameters, the CLI and the web API; a period is
refused with a ``ValidationError`` saying it takes one moment.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from fixtures.cli_support import ONE_INPUT_FLOWS, run_cli
from flowdeck import (
    Card,
    Dataset,
    DateTimeRange,
    Flow,
    Model,
    NotFoundError,
    Page,
    QuotaExceededError,
    Section,
    Step,
    StoreInterface,
    ValidationError,
)
from flowdeck.config import reconfigure
from flowdeck.elements.base import Element
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import assets as asset_records
from flowdeck.store.maintenance import collect_garbage

# Over the inline threshold (64 KiB): stored as a blob of its own.
BIG = pd.DataFrame({"x": np.arange(20_000), "y": np.arange(20_000) * 0.5})


def _blobs() -> set[str]:
    return {key for key, _ in get_storage().blobs.iter_keys()}


@pytest.fixture
def store(embedded: Path) -> StoreInterface:
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    return StoreInterface(run.flow_id, user="alice", step_name="Produce")


def _nothing_stored(store: StoreInterface, *labels: str) -> None:
    for label in labels:
        assert store.get_assets(label=label) == []
        assert store.get_asset(label=label, type="dataset") is None
        assert store.get_asset(label=label, type="model") is None


# --------------------------------------------------------------------------- Fix 1: linked assets


def test_bad_metadata_on_the_linking_model_stores_neither_asset(store: StoreInterface) -> None:
    blobs_before = _blobs()
    data = Dataset(BIG, "train-data")
    model = Model({"c": 1}, "mdl", metadata={"bad": object()})
    model.link_asset("training", data)
    with pytest.raises(ValidationError, match="metadata 'bad' cannot be stored as JSON"):
        store.save_asset(model)
    _nothing_stored(store, "train-data", "mdl")
    assert data.id is None and model.id is None and model.linked_assets == {}
    assert _blobs() == blobs_before
    # A retry with the metadata fixed stores version 1 of both, linked.
    model.metadata = {"fixed": True}
    model_id = store.save_asset(model)
    assert [(a.label, a.version) for a in store.get_assets(label="train-data")] == [("train-data", 1)]
    assert data.version == 1 and model.version == 1
    saved = store.get_asset_by_id(model_id)
    assert saved.linked_assets == {"training": data.id} and saved.metadata["fixed"] is True
    assert_frame_equal(store.get_asset_by_id(data.id).object, BIG)


def test_a_retry_with_new_objects_stores_version_1_of_both(store: StoreInterface) -> None:
    model = Model({"c": 1}, "mdl", metadata={"bad": object()})
    model.link_asset("training", Dataset(pd.DataFrame({"a": [1]}), "train-data"))
    with pytest.raises(ValidationError):
        store.save_asset(model)
    assert store.get_assets() == []
    data = Dataset(pd.DataFrame({"a": [1]}), "train-data")
    retry = Model({"c": 1}, "mdl").link_asset("training", data)
    store.save_asset(retry)
    assert sorted((a.label, a.version) for a in store.get_assets()) == [("mdl", 1), ("train-data", 1)]


def test_an_unpicklable_linking_model_stores_neither_asset(store: StoreInterface) -> None:
    blobs_before = _blobs()
    data = Dataset(BIG, "train-data2")
    model = Model(threading.Lock(), "mdl2")
    model.link_asset("training", data)
    with pytest.raises(ValidationError, match="cannot save the asset's object"):
        store.save_asset(model)
    _nothing_stored(store, "train-data2", "mdl2")
    assert data.id is None and model.id is None and _blobs() == blobs_before
    model.object = {"c": 2}
    store.save_asset(model)
    assert data.version == 1 and model.version == 1
    assert store.get_asset_by_id(model.id).linked_assets == {"training": data.id}


def test_a_failure_after_the_linked_asset_is_written_leaves_the_store_as_before(
    store: StoreInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = Dataset(BIG.head(10_000), "kept")
    store.save_asset(kept)
    blobs_before = _blobs()
    real_insert = asset_records.insert_version
    calls: list[str] = []

    def failing_insert(conn: Any, asset_id: str, *args: Any, **kwargs: Any) -> None:
        calls.append(asset_id)
        if len(calls) == 2:  # the model's row, after the dataset's
            raise RuntimeError("the database went away")
        real_insert(conn, asset_id, *args, **kwargs)

    monkeypatch.setattr(asset_records, "insert_version", failing_insert)
    data = Dataset(BIG, "train-data")
    # A linked object whose bytes another asset stores already: that blob must stay.
    same_as_kept = Dataset(BIG.head(10_000), "copy")
    model = Model({"c": 1}, "mdl").link_asset("training", data).link_asset("copy", same_as_kept)
    with pytest.raises(RuntimeError, match="went away"):
        store.save_asset(model)
    assert len(calls) == 2
    _nothing_stored(store, "train-data", "copy", "mdl")
    assert data.id is None and same_as_kept.id is None and model.id is None
    # The new dataset's bytes are stored and referenced by no row: gc removes them, the shared blob stays.
    assert len(_blobs() - blobs_before) == 1
    assert collect_garbage(grace_seconds=0).removed == 1
    assert _blobs() == blobs_before
    assert_frame_equal(store.get_asset_by_id(kept.id).object, BIG.head(10_000))
    monkeypatch.setattr(asset_records, "insert_version", real_insert)
    store.save_asset(model)
    assert (data.version, same_as_kept.version, model.version) == (1, 1, 1)
    assert_frame_equal(store.get_asset_by_id(data.id).object, BIG)


def test_a_quota_too_small_for_the_linked_assets_refuses_before_writing(store: StoreInterface) -> None:
    store.save_asset(Dataset(pd.DataFrame({"a": [1]}), "existing"))
    reconfigure(max_asset_versions_per_user=2)  # room for one more version, the save needs two
    blobs_before = _blobs()
    data = Dataset(BIG, "train-data")
    model = Model({"c": 1}, "mdl").link_asset("training", data)
    with pytest.raises(QuotaExceededError, match="max_asset_versions_per_user") as excinfo:
        store.save_asset(model)
    assert "1 unsaved asset(s) it links to" in str(excinfo.value)
    _nothing_stored(store, "train-data", "mdl")
    assert data.id is None and _blobs() == blobs_before


def test_overwriting_an_unknown_id_stores_no_linked_asset(store: StoreInterface) -> None:
    data = Dataset(BIG, "train-data")
    model = Model({"c": 1}, "mdl").link_asset("training", data)
    with pytest.raises(NotFoundError, match="no asset 'nope'"):
        store.save_asset(model, asset_id="nope")
    _nothing_stored(store, "train-data", "mdl")
    assert data.id is None


def test_chained_unsaved_links_are_saved_once_in_order(store: StoreInterface) -> None:
    raw = Dataset(pd.DataFrame({"a": [1]}), "raw")
    clean = Dataset(pd.DataFrame({"a": [2]}), "clean").link_asset("from", raw)
    model = Model({"c": 1}, "mdl").link_asset("training", clean).link_asset("raw", raw)
    store.save_asset(model)
    assert [a.version for a in store.get_assets(label="raw")] == [1]
    assert store.get_asset_by_id(clean.id).linked_assets == {"from": raw.id}
    assert store.get_asset_by_id(model.id).linked_assets == {"training": clean.id, "raw": raw.id}


# --------------------------------------------------------------------------- Fix 2: one moment

LOW, HIGH = dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)
MAY5 = dt.datetime(2020, 5, 5)


def _day(**kwargs: Any) -> DateTimeRange:
    return DateTimeRange(LOW, HIGH, is_range=False, title="Day", **kwargs)


@pytest.mark.parametrize(
    "given",
    [
        MAY5,
        dt.date(2020, 5, 5),
        "2020-05-05",
        "2020-05-05T00:00:00",
        pd.Timestamp("2020-05-05"),
        np.datetime64("2020-05-05"),
        (MAY5, MAY5),
        ["2020-05-05", "2020-05-05T00:00"],
        (None, MAY5),
        (MAY5, None),
    ],
)
def test_one_moment_is_accepted_in_every_form(given: Any) -> None:
    element = _day()
    element.set_value(given)
    assert element.typed_value() == MAY5 and element.value == (MAY5, MAY5)
    assert element.get_value() == "2020-05-05T00:00:00"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ((MAY5, dt.datetime(2020, 6, 5)), "takes one moment .*got a period from 2020-05-05T00:00:00 to 2020-06-05"),
        (["2020-05-05", "2020-06-05"], "takes one moment"),
        ([MAY5], "takes one moment .*got \\[datetime"),
        ((MAY5, MAY5, MAY5), "takes one moment"),
        (5, "takes one moment .*got int 5"),
        ({"min": MAY5}, "takes one moment"),
        ("May 5th", "not an ISO date"),
        (dt.datetime(2022, 5, 5), "outside the range"),
    ],
)
def test_a_period_or_no_moment_is_refused(given: Any, message: str) -> None:
    element = _day(min_selection=dt.datetime(2020, 3, 3))
    with pytest.raises(ValidationError, match=message):
        element.set_value(given)
    assert element.typed_value() == dt.datetime(2020, 3, 3)  # unchanged


def test_a_range_element_still_takes_a_pair() -> None:
    element = DateTimeRange(LOW, HIGH, title="Period")
    with pytest.raises(ValidationError, match="takes a pair"):
        element.set_value(MAY5)
    element.set_value((MAY5, dt.datetime(2020, 6, 5)))
    assert element.typed_value() == (MAY5, dt.datetime(2020, 6, 5))


def test_text_as_the_cli_gives_it() -> None:
    element = _day()
    element.set_value(element.value_from_text("2020-05-05"))
    assert element.typed_value() == MAY5
    element.set_value(element.value_from_text(" 2020-05-06T10:30 "))
    assert element.typed_value() == dt.datetime(2020, 5, 6, 10, 30)
    element.set_value(element.value_from_text("2020-05-07,2020-05-07"))
    assert element.typed_value() == dt.datetime(2020, 5, 7)
    with pytest.raises(ValidationError, match="takes one moment"):
        element.set_value(element.value_from_text("2020-05-05,2020-06-05"))
    period = DateTimeRange(LOW, HIGH, title="Period")
    with pytest.raises(ValidationError, match="write a range as 'low,high'"):
        period.value_from_text("2020-05-05")


def test_a_date_without_zone_is_read_in_the_elements_zone() -> None:
    utc = dt.UTC
    element = DateTimeRange(
        dt.datetime(2020, 1, 1, tzinfo=utc), dt.datetime(2021, 1, 1, tzinfo=utc), is_range=False, timezone="UTC"
    )
    element.set_value("2020-05-05")
    assert element.typed_value() == dt.datetime(2020, 5, 5, tzinfo=utc)


def test_the_constructor_picks_one_moment() -> None:
    assert _day().typed_value() == LOW  # nothing chosen: the start of the range
    assert _day(max_selection=MAY5).typed_value() == MAY5
    assert _day(min_selection=MAY5, max_selection=dt.datetime(2020, 9, 9)).typed_value() == MAY5


def test_a_page_saved_with_a_period_still_loads_with_its_start() -> None:
    document = _day().to_json()
    document["value"] = ["2020-05-05T00:00:00", "2020-06-05T00:00:00"]  # stored before one moment was enforced
    loaded = Element.from_json(document)
    assert isinstance(loaded, DateTimeRange) and loaded.typed_value() == MAY5
    assert Element.from_json(loaded.to_json()).typed_value() == MAY5


class _AddDay(Step):
    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("C", [_day()]), "")
        store.update_page(page)


class _Ask(Step):
    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("C", [flowdeck.TextInput(title="Note")]), "")
        store.update_page(page)


day_flow = Flow(name="One day", description="a DateTimeRange with is_range=False")
day_flow.chain(
    [_AddDay(title="S1", page=Page("S1", [Section("", [])])), _Ask(title="S2", page=Page("S2", [Section("", [])]))]
)


@pytest.mark.parametrize("given", [MAY5, dt.date(2020, 5, 5), "2020-05-05", (MAY5, MAY5)])
def test_a_run_sets_one_moment_and_a_later_step_reads_one_datetime(embedded: Path, given: Any) -> None:
    run = flowdeck.start(day_flow, user="alice")
    run.set_value("Day", given)
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_element_value("S1", "Day") == MAY5
    run.next()
    assert StoreInterface(run.flow_id, user="alice").get_element_value("S1", "Day") == MAY5


def test_a_run_refuses_a_period(embedded: Path) -> None:
    run = flowdeck.start(day_flow, user="alice")
    with pytest.raises(ValidationError, match="takes one moment"):
        run.set_value("Day", (MAY5, dt.datetime(2020, 6, 5)))
    assert StoreInterface(run.flow_id, user="alice").get_element_value("S1", "Day") == LOW


def test_headless_input_parameters_take_one_moment(embedded: Path) -> None:
    flowdeck.register_flow(day_flow)
    flow_id = flowdeck.run_headless("One day", "alice", {"steps": {"S1": {"Day": {"value": "2020-05-05"}}}})
    assert StoreInterface(flow_id, user="alice").get_element_value("S1", "Day") == MAY5
    with pytest.raises(ValidationError, match="takes one moment"):
        flowdeck.run_headless("One day", "alice", {"steps": {"S1": {"Day": ["2020-05-05", "2020-06-05"]}}})


def test_the_cli_sets_one_moment(home: Path) -> None:
    done = run_cli(home, "run", f"{ONE_INPUT_FLOWS}:day", "--user", "alice", "--set", "Day=2020-05-05")
    assert done.returncode == 0, done.stderr
    assert "S2 sees Day = datetime.datetime(2020, 5, 5, 0, 0)" in done.stdout
    refused = run_cli(home, "run", f"{ONE_INPUT_FLOWS}:day", "--user", "alice", "--set", "Day=2020-05-05,2020-06-05")
    assert refused.returncode != 0
    assert "takes one moment (is_range=False)" in refused.stderr


def test_the_web_api_takes_one_moment(embedded: Path) -> None:
    from fixtures.server_support import add_people, element_id, login, start_run
    from flowdeck.server import create_app

    add_people()
    alice = login(create_app([f"{ONE_INPUT_FLOWS}:day"]), "alice")
    run_id = start_run(alice, "Day file")
    page = alice.get(f"/api/runs/{run_id}/steps/S1/page").json()
    url = f"/api/runs/{run_id}/steps/S1/elements/{element_id(page, 'Day')}/value"
    for value in ("2020-05-05T00:00", ["2020-05-05T00:00", "2020-05-05T00:00"], ["2020-05-05T00:00", None]):
        answer = alice.put(url, json={"value": value})
        assert answer.status_code == 200, answer.text
        assert answer.json()["element"]["value"] == ["2020-05-05T00:00:00", "2020-05-05T00:00:00"]
    # What the browser sends today when only the "From" input of such an element is changed.
    refused = alice.put(url, json={"value": ["2020-05-06T00:00", "2021-01-01T00:00"]})
    assert refused.status_code == 422 and "takes one moment" in refused.text
    assert StoreInterface(run_id, user="alice").get_element_value("S1", "Day") == MAY5
