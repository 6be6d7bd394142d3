"""Big Table outputs: one page in the page JSON, server-side paging/sorting/filtering, streamed downloads."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from fixtures.server_support import add_people, element_id, login, start_run, wait_idle
from fixtures.table_flows import big_frame
from flowdeck.elements.base import to_jsonable
from flowdeck.server import create_app, routes_tables

TABLE_FLOW = f"{Path(__file__).resolve().parent / 'fixtures' / 'table_flows.py'}:big_table"


@pytest.fixture
def app(deployment: str) -> Iterator[Any]:
    add_people()
    server = create_app([TABLE_FLOW])
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


def _open(client: TestClient) -> tuple[str, dict[str, Any], str]:
    run_id = start_run(client, "Big table")
    wait_idle(client, run_id)
    page = client.get(f"/api/runs/{run_id}/steps/Show/page")
    assert page.status_code == 200, page.text
    body = page.json()
    return run_id, body, element_id(body, "Everything")


def _table_json(page: dict[str, Any]) -> dict[str, Any]:
    for section in page["page"]["sections"]:
        for card in section["content"]:
            for element in card["content"]:
                if element["title"] == "Everything":
                    return element
    raise AssertionError("no table")


def _frame_of(body: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(body["records"], columns=body["columns"])


def _records(frame: pd.DataFrame) -> list[list[Any]]:
    return [[to_jsonable(cell) for cell in row] for row in frame.itertuples(index=False, name=None)]


def test_page_json_carries_one_page_and_the_server_pages_sorts_filters(app):
    client = login(app, "alice")
    run_id, page, table_id = _open(client)
    table = _table_json(page)
    assert table["extra"]["paged"]["rows"] == 3_000 and table["total_rows"] == 3_000
    assert len(table["records"]) == 100
    frame = big_frame(3_000)
    base = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/rows"

    body = client.get(base, params={"offset": 2_950, "limit": 100}).json()
    assert body["total_rows"] == 3_000 and body["offset"] == 2_950
    assert body["columns"] == list(frame.columns) and body["records"] == _records(frame.iloc[2_950:])
    assert table["records"] == _records(frame.iloc[:100])

    body = client.get(base, params={"sort": "score", "desc": "true", "offset": 10, "limit": 20}).json()
    expected = frame.sort_values("score", ascending=False, kind="stable").iloc[10:30]
    assert _frame_of(body)["id"].tolist() == expected["id"].tolist()

    body = client.get(base, params={"q": "HYPERLINK", "sort": "id", "limit": 1_000}).json()
    hits = frame[frame["note"].str.contains("hyperlink", case=False, na=False)]
    assert body["total_rows"] == len(hits) and _frame_of(body)["id"].tolist() == hits["id"].tolist()

    bad = client.get(base, params={"sort": "nope"})
    assert bad.status_code == 422 and "cannot sort by 'nope'" in bad.text
    missing = client.get(f"/api/runs/{run_id}/steps/Show/tables/nope/rows")
    assert missing.status_code == 404 and "has no big table 'nope'" in missing.text
    stranger = login(app, "carol").get(base)
    assert stranger.status_code == 404


def test_csv_download_escapes_formulas_and_parquet_round_trips(app):
    client = login(app, "alice")
    run_id, _, table_id = _open(client)
    frame = big_frame(3_000)
    url = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/download"

    response = client.get(url, params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.text
    # The attack: a cell that a spreadsheet would evaluate. It arrives as inert text.
    assert '"\'=HYPERLINK(""http://evil"")"' in text and "\n0," in text
    assert "'+1+1" in text and "'-2+3" in text and "'@SUM(A1)" in text
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    escaped = frame["note"].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in "=+-@" else v)
    assert back["note"].where(back["note"].notna(), None).tolist() == escaped.where(escaped.notna(), None).tolist()
    assert back["id"].tolist() == frame["id"].tolist()

    response = client.get(url, params={"format": "parquet"})
    assert response.status_code == 200
    assert_frame_equal(pd.read_parquet(io.BytesIO(response.content)), frame)
    assert client.get(url, params={"format": "xlsx"}).status_code == 422


def test_a_table_drawn_again_with_few_rows_shows_them_and_the_big_one_is_not_served(app):
    from flowdeck.auth.users import resolve_principal
    from flowdeck.store import pages as page_service
    from flowdeck.store import runs as run_service

    client = login(app, "alice")
    run_id, _, table_id = _open(client)
    rows_url = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/rows"
    download_url = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/download"
    assert client.get(rows_url).json()["total_rows"] == 3_000

    # As a callback would: read the page back, give the same table ten rows, store the page.
    view = run_service.load_run(run_id, resolve_principal("alice"))
    page = page_service.get_page(view, "Show")
    table = page_service.find_element(page, table_id)
    assert table.extra.get("paged") and len(table.content) == 100  # one page of the big table
    few = big_frame(10)
    table.content = few
    page_service.update_page(view, "Show", page)

    shown = _table_json(client.get(f"/api/runs/{run_id}/steps/Show/page").json())
    assert "paged" not in shown["extra"] and shown["total_rows"] == 10
    assert shown["records"] == _records(few)
    for url in (rows_url, download_url):
        gone = client.get(url)
        assert gone.status_code == 404 and f"has no big table {table_id!r} on its page" in gone.json()["detail"]

    # Drawn big again, the new frame is served.
    again = run_service.load_run(run_id, resolve_principal("alice"))
    page = page_service.get_page(again, "Show")
    page_service.find_element(page, table_id).content = big_frame(700)
    page_service.update_page(again, "Show", page)
    assert client.get(rows_url).json()["total_rows"] == 700
    assert_frame_equal(
        pd.read_parquet(io.BytesIO(client.get(download_url, params={"format": "parquet"}).content)), big_frame(700)
    )


def test_a_page_far_down_a_sort_before_the_full_order_matches_a_stable_sort(app, monkeypatch):
    from flowdeck.store import tables

    # Pages past the top rows are cut around their bounds while the full order is computed.
    monkeypatch.setattr(tables, "TOP_K_ROWS", 200)
    monkeypatch.setattr(tables, "_sort_in_background", lambda *args: None)
    client = login(app, "alice")
    run_id, _, table_id = _open(client)
    frame = big_frame(3_000)
    base = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/rows"
    for column, descending, offset in [("segment", True, 1_500), ("score", False, 2_000), ("when", True, 2_950)]:
        tables.forget_cached(rankings_only=True)
        body = client.get(base, params={"sort": column, "desc": str(descending).lower(), "offset": offset}).json()
        ranked = frame.sort_values(column, ascending=not descending, kind="stable")
        if column == "segment":  # categories sort by their label, ties in row order
            ranked = frame.iloc[frame["segment"].astype(str).sort_values(ascending=False, kind="stable").index]
        assert _frame_of(body)["id"].tolist() == ranked["id"].iloc[offset : offset + 100].tolist(), column


@settings(max_examples=60, deadline=None)
@given(
    values=st.one_of(
        st.lists(st.integers(-3, 3), min_size=1, max_size=300).map(lambda v: pa.array(v, pa.int64())),
        st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50).map(lambda v: pa.array(v, pa.uint64())),
        st.lists(st.sampled_from([-0.0, 0.0, 1.5, -2.25, float("inf"), float("-inf")]), min_size=1, max_size=300).map(
            pa.array
        ),
        st.lists(st.booleans(), min_size=1, max_size=100).map(pa.array),
        st.lists(st.integers(0, 5), min_size=1, max_size=100).map(lambda v: pa.array(v, pa.timestamp("us"))),
    ),
    descending=st.booleans(),
    window=st.tuples(st.integers(0, 310), st.integers(1, 40)),
    chunks=st.integers(1, 4),
)
def test_a_window_cut_around_its_bounds_is_that_window_of_a_stable_sort(values, descending, window, chunks):
    from flowdeck.store.tables import _window_by_bounds

    size = len(values) // chunks + 1
    column = pa.chunked_array([values.slice(i, size) for i in range(0, len(values), size)], type=values.type)
    offset, limit = window
    got = _window_by_bounds(column, descending, offset, limit)
    order = pc.sort_indices(column, sort_keys=[("", "descending" if descending else "ascending")])
    assert got is not None and got.to_pylist() == order.slice(min(offset, len(order)), limit).to_pylist()


def test_columns_with_nulls_or_nans_take_the_full_sort():
    from flowdeck.store.tables import _window_by_bounds

    assert _window_by_bounds(pa.chunked_array([pa.array([1, None, 2])]), False, 0, 2) is None
    assert _window_by_bounds(pa.chunked_array([pa.array([1.0, float("nan")])]), True, 0, 2) is None
    assert _window_by_bounds(pa.chunked_array([pa.array(["a", "b"])]), False, 0, 2) is None


def test_a_user_flooding_table_requests_gets_429_and_others_are_served(app):
    client = login(app, "alice")
    run_id, _, table_id = _open(client)
    base = f"/api/runs/{run_id}/steps/Show/tables/{table_id}"
    # Alice's slots are all taken, as by requests still running: the next one is refused at once.
    for _ in range(routes_tables.QUERIES_PER_USER):
        assert routes_tables.QUERIES.acquire("alice", routes_tables.QUERIES_PER_USER)
    try:
        refused = client.get(base + "/rows", params={"q": "x", "sort": "score"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "user 'alice' has 4 table page requests running, the most at once" in refused.json()["detail"]
        assert routes_tables.QUERIES.in_flight("alice") == routes_tables.QUERIES_PER_USER  # nothing leaked
    finally:
        for _ in range(routes_tables.QUERIES_PER_USER):
            routes_tables.QUERIES.release("alice")
    assert client.get(base + "/rows", params={"q": "x"}).status_code == 200
    assert routes_tables.QUERIES.in_flight("alice") == 0

    for _ in range(routes_tables.DOWNLOADS_PER_USER):
        assert routes_tables.DOWNLOADS.acquire("alice", routes_tables.DOWNLOADS_PER_USER)
    try:
        refused = client.get(base + "/download", params={"format": "csv"})
        assert refused.status_code == 429 and "table downloads running" in refused.json()["detail"]
    finally:
        for _ in range(routes_tables.DOWNLOADS_PER_USER):
            routes_tables.DOWNLOADS.release("alice")
    assert client.get(base + "/download", params={"format": "parquet"}).status_code == 200
    assert client.get(base + "/download", params={"format": "nope"}).status_code == 422
    assert client.get(f"/api/runs/{run_id}/steps/Show/tables/missing/download").status_code == 404
    assert routes_tables.DOWNLOADS.in_flight("alice") == 0  # every download, served or failed, was counted out
