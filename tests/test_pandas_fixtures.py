"""pandas' own test objects (``indices_dict``, ``_series``, ``_narrow_series`` in pandas/conftest.py)
round-trip exactly through ``save_output`` / ``get_input``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import flowdeck
import flowdeck.store.store_interface  # loads storage before the fixtures configure it

pandas_conftest = pytest.importorskip("pandas.conftest")
OBJECTS: dict[str, Any] = {
    **pandas_conftest.indices_dict,
    **pandas_conftest._series,
    **pandas_conftest._narrow_series,
}


def _flow() -> flowdeck.Flow:
    flow = flowdeck.Flow("Fixtures", "pandas' test objects")
    return flow.chain([flowdeck.Step("Save"), flowdeck.Step("Read")])


def _assert_same(loaded: Any, original: Any) -> None:
    assert type(loaded) is type(original)
    if isinstance(original, pd.Index):
        pd.testing.assert_index_equal(loaded, original, exact=True, check_exact=True)
    else:
        pd.testing.assert_series_equal(loaded, original, check_exact=True, check_index_type=True)
        pd.testing.assert_index_equal(loaded.index, original.index, exact=True)


def test_every_pandas_fixture_object_round_trips_exactly(embedded: Path) -> None:
    run = flowdeck.start(_flow(), user="alice")
    store = flowdeck.StoreInterface(run.flow_id, user="alice", step_name="Save")
    for position, value in enumerate(OBJECTS.values()):
        store.save_output(value, f"object-{position}")
    run.next()
    reader = flowdeck.StoreInterface(run.flow_id, user="alice", step_name="Read")
    failures = {}
    for position, (key, value) in enumerate(OBJECTS.items()):
        try:
            _assert_same(reader.get_input(f"object-{position}"), value)
        except AssertionError as exc:
            failures[key] = str(exc).splitlines()[:3]
    assert failures == {}
    assert len(OBJECTS) >= 70


def test_a_string_pyarrow_index_keeps_its_missing_value_marker(embedded: Path) -> None:
    index = pd.Index(["a", None, "c"], dtype=pd.StringDtype("pyarrow", na_value=pd.NA))
    frame = pd.DataFrame({"v": [1, 2, 3]}, index=index)
    run = flowdeck.start(_flow(), user="alice")
    store = flowdeck.StoreInterface(run.flow_id, user="alice", step_name="Save")
    store.save_output(frame, "frame")
    store.save_output(frame["v"], "series")
    loaded = store.get_input("frame", step_name="Save")
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert loaded.index.dtype == pd.StringDtype("pyarrow", na_value=pd.NA) and loaded.index[1] is pd.NA
    pd.testing.assert_series_equal(store.get_input("series", step_name="Save"), frame["v"], check_exact=True)
