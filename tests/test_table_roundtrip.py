"""A Table read back from the store is the frame it was given: big tables whole, MultiIndex exact, Workbooks.

Flows run on the embedded default the way the other page tests run them (``flowdeck.start`` and
``run.next()``): a step saves a page with Tables, the same or a later step (or a callback, or the
caller) reads them back and ``get_df()`` / ``get_selected_data()`` must give the frame exactly.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

import flowdeck
from flowdeck import (
    Card,
    Element,
    Flow,
    Page,
    RichText,
    Row,
    Section,
    Step,
    StepType,
    StoreInterface,
    Table,
)
from flowdeck.auth.users import resolve_principal
from flowdeck.elements.callbacks import page_update_callback
from flowdeck.elements.outputs import TableSelectionType
from flowdeck.errors import AccessError, FlowdeckError, NotFoundError, UnsupportedTypeError, ValidationError
from flowdeck.store import runs as run_service
from flowdeck.store import tables as table_service

ROWS = 12_000

#: A big frame (more rows than a Table's default max_rows) with a named index and common dtypes.
BIG = pd.DataFrame(
    {
        "n": np.arange(ROWS, dtype=np.int64),
        "x": np.where(np.arange(ROWS) % 7 == 0, np.nan, np.arange(ROWS) / 4),
        "s": pd.Series([f"row {i}" for i in range(ROWS)], dtype="str"),
        "when": pd.date_range("2024-01-01", periods=ROWS, freq="min", tz="UTC"),
        "cat": pd.Categorical(np.array(["a", "b", "c"])[np.arange(ROWS) % 3]),
    },
    index=pd.Index(np.arange(100_000, 100_000 + ROWS, dtype=np.int64), name="order_id"),
)
SELECTED = [5, 500, ROWS - 1]

SALES = pd.DataFrame({"region": ["n", "n", "s"], "year": [2020, 2021, 2020], "amount": [1.0, 2.0, 3.0]})
#: A groupby result with a MultiIndex index, and one with MultiIndex columns.
BY2 = SALES.groupby(["region", "year"])[["amount"]].sum()
AGG = SALES.groupby("region").agg({"amount": ["sum", "mean"]})
#: A big table with both: 300 rows against max_rows=50.
BIG_MULTI = (
    pd.DataFrame(
        {
            "region": np.array(["n", "s", "e"])[np.arange(300) % 3],
            "year": 2000 + np.arange(300) // 3,
            "amount": np.arange(300) * 1.5,
            "units": np.arange(300, dtype=np.int64),
        }
    )
    .groupby(["region", "year"])
    .agg({"amount": ["sum", "mean"], "units": ["max"]})
)

#: What the steps and callbacks saw (the tests read it).
SEEN: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _fresh_seen() -> None:
    SEEN.clear()


# --- flows -------------------------------------------------------------------------------------


@page_update_callback
def big_rows_selected(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Keeps the selected rows of the big table, as the callback reads them."""
    table = store_interface.get_page().get_element_by_title("Big")
    SEEN["callback_selected"] = table.get_selected_data()


class SaveBig(Step):
    """Saves a page with the big table (also inside a Row), then reads it back in the same step."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        table = Table(BIG, title="Big", selectable=True, selected_rows=SELECTED, on_row_select=big_rows_selected)
        nested = Table(BIG, title="Nested big")
        page.add_card_to_section(Card("C", [table, Row([nested, RichText("beside", title="Beside")])]), "")
        store.update_page(page)
        again = store.get_page()
        SEEN["same_step_content_rows"] = len(again.get_element_by_title("Big").content)
        SEEN["same_step"] = again.get_element_by_title("Big").get_df()
        SEEN["same_step_nested"] = again.get_element_by_title("Nested big").get_df()


class ReadBig(Step):
    """Reads the big table of the first step, and puts it on its own page too."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        table = store.get_element("Save", "Big")
        SEEN["next_step"] = table.get_df()
        SEEN["next_step_selected"] = table.get_selected_data()
        page = store.get_page()
        page.add_card_to_section(Card("Moved", [table]), "")
        store.update_page(page)


big_flow = Flow(name="Big tables", description="a big Table read back")
big_flow.chain(
    [
        SaveBig("Save", "", "Big tables", StepType.RESULTS, Page("Save", [Section("", [])])),
        ReadBig("Read", "", "Big tables", StepType.RESULTS, Page("Read", [Section("", [])])),
    ]
)


class SaveGrouped(Step):
    """Saves groupby results: a MultiIndex index, MultiIndex columns, and a big table with both."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        tables = [Table(BY2, title="by2"), Table(AGG, title="agg"), Table(BIG_MULTI, title="big multi", max_rows=50)]
        page.add_card_to_section(Card("C", tables), "")
        store.update_page(page)


class ReadGrouped(Step):
    """Reads the grouped tables of the first step."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        store = StoreInterface(**flow_metadata)
        for title in ("by2", "agg", "big multi"):
            SEEN[title] = store.get_element("Group", title).get_df()


grouped_flow = Flow(name="Grouped tables", description="groupby results read back")
grouped_flow.chain(
    [
        SaveGrouped("Group", "", "Grouped tables", StepType.RESULTS, Page("Group", [Section("", [])])),
        ReadGrouped("Read", "", "Grouped tables", StepType.RESULTS, Page("Read", [Section("", [])])),
    ]
)


class Idle(Step):
    """Shows an empty page (the tests store pages on it)."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        StoreInterface(**flow_metadata)


idle_flow = Flow(name="Idle", description="a page to store tables on")
idle_flow.chain([Idle("Idle", "", "Idle", StepType.RESULTS, Page("Idle", [Section("", [])]))])


def _workbook(rows: list[list[Any]], *, title: str = "Sheet") -> openpyxl.Workbook:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    return workbook


# --- 1. big tables ----------------------------------------------------------------------------


def test_a_big_table_read_back_gives_its_whole_frame_in_the_same_and_a_later_step(embedded, monkeypatch) -> None:
    run = flowdeck.start(big_flow, user="alice")
    assert SEEN["same_step_content_rows"] == table_service.PAGE_ROWS  # the page JSON holds one page of rows
    assert_frame_equal(SEEN["same_step"], BIG)
    assert_frame_equal(SEEN["same_step_nested"], BIG)  # a big table inside a Row is stored whole too

    run.next()
    assert_frame_equal(SEEN["next_step"], BIG)
    assert_frame_equal(SEEN["next_step_selected"], BIG.iloc[SELECTED])

    # Read back by the caller: the frame is read from the store on the first get_df(), once.
    reads: list[str] = []
    real_get_output = table_service.output_service.get_output

    def counting(view: Any, name: str, **kwargs: Any) -> Any:
        reads.append(name)
        return real_get_output(view, name, **kwargs)

    monkeypatch.setattr(table_service.output_service, "get_output", counting)
    table = StoreInterface(run.flow_id, user="alice").get_element("Save", "Big")
    assert len(table.content) == table_service.PAGE_ROWS and table.total_rows == ROWS and reads == []
    assert_frame_equal(table.get_df(), BIG)
    assert_frame_equal(table.get_selected_data(), BIG.iloc[SELECTED])
    table.set_selected_rows([0, 1, 500], TableSelectionType.EXCLUDE)
    assert_frame_equal(table.get_selected_data(), BIG.drop(BIG.index[[0, 1, 500]]))
    assert reads == [table_service.TABLE_OUTPUT_PREFIX + table.id]
    with pytest.raises(ValidationError, match=f"row {ROWS} is out of range"):
        table.set_selected_rows([ROWS])


def test_a_big_table_put_on_a_later_steps_page_is_still_read_from_the_step_that_stored_it(embedded) -> None:
    run = flowdeck.start(big_flow, user="alice")
    run.next()
    store = StoreInterface(run.flow_id, user="alice")
    moved = store.get_element("Read", "Big")
    assert_frame_equal(moved.get_df(), BIG)
    # The server pages it from there too.
    view = run_service.load_run(run.flow_id, resolve_principal("alice"))
    body = table_service.table_rows(view, "Read", moved.id, offset=ROWS - 2, limit=10)
    assert body["total_rows"] == ROWS and [row[0] for row in body["records"]] == [ROWS - 2, ROWS - 1]


def test_selecting_rows_of_a_big_table_runs_a_callback_that_reads_them_whole(embedded) -> None:
    run = flowdeck.start(big_flow, user="alice")
    run.select_rows("Big", [3, 4_000, ROWS - 1])  # past the rows the page JSON holds
    assert_frame_equal(SEEN["callback_selected"], BIG.iloc[[3, 4_000, ROWS - 1]])
    assert run.page().get_element_by_title("Big").selected_rows == [3, 4_000, ROWS - 1]


def test_another_user_gets_no_data_of_a_big_table(embedded) -> None:
    run = flowdeck.start(big_flow, user="alice")
    alice_table = StoreInterface(run.flow_id, user="alice").get_element("Save", "Big")

    # Bob may not read the run: no store, no run, no element.
    with pytest.raises(NotFoundError):
        StoreInterface(run.flow_id, user="bob")
    with pytest.raises(NotFoundError):
        flowdeck.open_run(run.flow_id, user="bob")

    # The Table's JSON alone loads nothing: it is not read through a store.
    copied = Table.from_json(json.loads(json.dumps(alice_table.to_json())))
    assert len(copied.content) == table_service.PAGE_ROWS
    with pytest.raises(NotFoundError, match=r"StoreInterface\.get_element"):
        copied.get_df()

    # Put on a page of bob's own run, it reads from bob's run, which holds no such table.
    bobs = flowdeck.start(idle_flow, user="bob")
    bob_store = StoreInterface(bobs.flow_id, user="bob")
    page = bob_store.get_page()
    page.add_card_to_section(Card("Stolen", [Table.from_json(alice_table.to_json())]), "")
    bob_store.update_page(page)
    planted = bob_store.get_page().get_element_by_title("Big")
    with pytest.raises((NotFoundError, AccessError)):
        planted.get_df()
    with pytest.raises((NotFoundError, AccessError)):
        planted.get_selected_data()

    # Shared, bob reads it; unshared, he cannot read the run again.
    flowdeck.share_run(run.flow_id, owner="alice", users=["bob"])
    assert_frame_equal(StoreInterface(run.flow_id, user="bob").get_element("Save", "Big").get_df(), BIG)
    flowdeck.unshare_run(run.flow_id, owner="alice", users=["bob"])
    with pytest.raises(NotFoundError):
        StoreInterface(run.flow_id, user="bob").get_element("Save", "Big")


# --- 2. MultiIndex ----------------------------------------------------------------------------


def test_groupby_results_round_trip_through_the_page_and_the_big_table_path(embedded) -> None:
    run = flowdeck.start(grouped_flow, user="alice")
    run.next()
    assert_frame_equal(SEEN["by2"], BY2)
    assert_frame_equal(SEEN["agg"], AGG)
    assert_frame_equal(SEEN["agg"]["amount"], AGG["amount"])
    assert repr(SEEN["agg"]) == repr(AGG)
    assert_frame_equal(SEEN["big multi"], BIG_MULTI)
    shown = StoreInterface(run.flow_id, user="alice").get_element("Group", "big multi")
    assert len(shown.content) < len(BIG_MULTI)  # one page of rows in the page JSON, exact too
    assert_frame_equal(shown.content, BIG_MULTI.iloc[: len(shown.content)])


def test_a_page_json_written_before_levels_were_kept_reads_tuples_back_as_a_multiindex() -> None:
    document = Table(AGG, title="agg").to_json()
    del document["column_index"]
    legacy = Table(BY2, title="by2").to_json()
    del legacy["index"]["levels"]
    assert isinstance(Element.from_json(document).content.columns, pd.MultiIndex)
    assert list(Element.from_json(legacy).content.index) == list(BY2.index)


_LEVEL_VALUES = {
    "int64": st.integers(min_value=-(2**40), max_value=2**40),
    "float64": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "str": st.text(alphabet="abcxyz é", max_size=6),
    "bool": st.booleans(),
    "datetime64[ns]": st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1)),
}
_NAMES = st.none() | st.text(alphabet="abcdefgh", min_size=1, max_size=5)


@st.composite
def multi_indexes(draw: st.DrawFn, size: int) -> pd.Index:
    """A MultiIndex of ``size`` labels (duplicates allowed) with levels of common dtypes, or a flat index."""
    dtypes = draw(st.lists(st.sampled_from(sorted(_LEVEL_VALUES)), min_size=1, max_size=3))
    rows = draw(st.lists(st.tuples(*(_LEVEL_VALUES[d] for d in dtypes)), min_size=size, max_size=size))
    names = draw(st.lists(_NAMES, min_size=len(dtypes), max_size=len(dtypes)))
    arrays = [pd.Index([row[i] for row in rows], dtype=dtype) for i, dtype in enumerate(dtypes)]
    if len(dtypes) == 1:
        return arrays[0].rename(names[0])
    return pd.MultiIndex.from_arrays(arrays, names=names)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_COLUMN_VALUES = {
    "int64": st.integers(min_value=-(2**50), max_value=2**50),
    "float64": st.floats(allow_infinity=False, width=64),
    "str": _TEXT,
    "object": st.none() | _TEXT,
    "bool": st.booleans(),
    "datetime64[ns]": st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1)),
}


@st.composite
def multi_frames(draw: st.DrawFn, min_rows: int = 0) -> pd.DataFrame:
    """A bounded frame whose index and/or columns are a MultiIndex, with columns of common dtypes."""
    rows = draw(st.integers(min_value=min_rows, max_value=min_rows + 12))
    width = draw(st.integers(min_value=1, max_value=4))
    index = draw(multi_indexes(rows))
    columns = draw(multi_indexes(width))
    if not isinstance(index, pd.MultiIndex) and not isinstance(columns, pd.MultiIndex):
        index = pd.MultiIndex.from_arrays([index, pd.RangeIndex(rows)], names=[index.name, "n"])
    dtypes = draw(st.lists(st.sampled_from(sorted(_COLUMN_VALUES)), min_size=width, max_size=width))
    data = {
        i: pd.Series(draw(st.lists(_COLUMN_VALUES[d], min_size=rows, max_size=rows)), dtype=d)
        for i, d in enumerate(dtypes)
    }
    frame = pd.DataFrame(data)
    frame.index = index
    frame.columns = columns
    return frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=multi_frames())
def test_multiindex_frames_round_trip_through_the_table_json(frame: pd.DataFrame) -> None:
    loaded = Element.from_json(json.loads(json.dumps(Table(frame, title="t").to_json(), allow_nan=False)))
    assert isinstance(loaded, Table)
    assert_frame_equal(loaded.content, frame)
    assert_frame_equal(loaded.get_df(), frame)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(frame=multi_frames(min_rows=3))
def test_big_multiindex_frames_round_trip_through_the_store(embedded, frame: pd.DataFrame) -> None:
    run = SEEN.get("idle_run")
    if run is None:
        run = SEEN["idle_run"] = flowdeck.start(idle_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    page = Page("Idle", [Section("", [Card("C", [Table(frame, title="t", max_rows=2)])])])
    store.update_page(page)
    table = store.get_page().get_element_by_title("t")
    assert len(table.content) == 2
    assert_frame_equal(table.content, frame.iloc[:2])
    assert_frame_equal(table.get_df(), frame)


# --- 3. content types ---------------------------------------------------------------------------


def test_a_workbook_is_shown_as_its_active_sheet_read_like_read_excel(embedded) -> None:
    workbook = _workbook([["x", "y", "when"], [1, "a", dt.datetime(2024, 1, 2)], [3, None, dt.datetime(2024, 5, 6)]])
    other = workbook.create_sheet("Other")
    other.append(["z"])
    other.append([9])
    saved = io.BytesIO()
    workbook.save(saved)
    expected = pd.read_excel(io.BytesIO(saved.getvalue()), sheet_name="Sheet")
    assert_frame_equal(Table(workbook, title="wb").get_df(), expected)
    assert list(expected.columns) == ["x", "y", "when"] and expected["x"].tolist() == [1, 3]

    workbook.active = workbook.sheetnames.index("Other")
    assert_frame_equal(Table(workbook, title="wb").get_df(), pd.DataFrame({"z": [9]}))

    # Stored on a page and read back, as any frame.
    workbook.active = 0
    run = flowdeck.start(idle_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    page = store.get_page()
    page.add_card_to_section(Card("C", [Table(workbook, title="wb")]), "")
    store.update_page(page)
    assert_frame_equal(store.get_element("Idle", "wb").get_df(), expected)


@pytest.mark.parametrize("content", [[1, 2, 3], {"a": [1]}, "text", 3.5, np.arange(3)])
def test_content_of_another_type_is_a_not_implemented_flowdeck_error(content: Any) -> None:
    with pytest.raises(UnsupportedTypeError) as info:
        Table(content, title="bad")
    error = info.value
    assert isinstance(error, NotImplementedError) and isinstance(error, ValidationError)
    assert isinstance(error, FlowdeckError) and isinstance(error, ValueError)
    message = str(error)
    assert "Table 'bad'" in message and type(content).__name__ in message
    for accepted in ("DataFrame", "Series", "Dataset", "openpyxl Workbook"):
        assert accepted in message
