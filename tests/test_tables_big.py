"""A 5 M-row Table output, built once for this module: one page in the page JSON, paging, sorting and
filtering answered from the mapped table, downloads streamed with flat memory, and Chromium paging it.

The timing bounds here are generous (this machine is shared); ``benchmarks/tables.py`` prints the
criterion's figures (< 300 ms a request) and whether they pass.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fixtures.server_support import add_people, element_id, login, serving, wait_idle
from fixtures.table_flows import big_frame
from flowdeck.config import configure
from flowdeck.server import create_app
from flowdeck.storage.deployment import reset_storage
from test_server_browser import browser, log_in, page, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

ROWS = 5_000_000
TABLE_FLOW = f"{Path(__file__).resolve().parent / 'fixtures' / 'table_flows.py'}:big_table"
# Far above the criterion's 300 ms, so that a busy machine does not fail the suite.
FIRST_BOUND_S = 15.0
REPEAT_BOUND_S = 3.0


class BigTable:
    """The module's server app, a logged-in client and the run showing the 5 M-row table."""

    def __init__(self, app: Any, run_id: str, table_id: str, page_bytes: int) -> None:
        self.app = app
        self.client = login(app, "alice")
        self.run_id = run_id
        self.table_id = table_id
        self.page_bytes = page_bytes
        self.base = f"/api/runs/{run_id}/steps/Show/tables/{table_id}"

    def rows(self, **params: Any) -> tuple[dict[str, Any], float]:
        """One rows request: its JSON and how long it took."""
        started = time.perf_counter()
        response = self.client.get(self.base + "/rows", params=params)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return response.json(), elapsed


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigTable]:
    """A deployment of its own with one run whose page shows a 5 M-row table (built once per module)."""
    home = tmp_path_factory.mktemp("big-table-home")
    configure(home=str(home), database_url=None, blob_url=None)
    previous = os.environ.get("FLOWDECK_TEST_TABLE_ROWS")
    os.environ["FLOWDECK_TEST_TABLE_ROWS"] = str(ROWS)
    add_people()
    app = create_app([TABLE_FLOW])
    try:
        client = login(app, "alice")
        run_id = start_run_slowly(client)
        page = client.get(f"/api/runs/{run_id}/steps/Show/page")
        assert page.status_code == 200, page.text
        yield BigTable(app, run_id, element_id(page.json(), "Everything"), len(page.content))
    finally:
        app.state.flowdeck.executor.shutdown(wait=True)
        if previous is None:
            os.environ.pop("FLOWDECK_TEST_TABLE_ROWS", None)
        else:
            os.environ["FLOWDECK_TEST_TABLE_ROWS"] = previous
        reset_storage()


def start_run_slowly(client: Any) -> str:
    """Start the big-table run and wait (long) for its step to store the table."""
    response = client.post("/api/runs", json={"flow": "Big table"})
    assert response.status_code == 201, response.text
    run_id = response.json()["flow_id"]
    wait_idle(client, run_id, timeout=240)
    return run_id


@pytest.fixture(scope="module")
def expected() -> pa.Table:
    """The table the flow shows, as Arrow, to check the served rows against."""
    return pa.Table.from_pandas(big_frame(ROWS), preserve_index=False)


def test_page_json_is_one_page_and_requests_page_sort_and_filter_5m_rows(big: BigTable, expected: pa.Table) -> None:
    assert big.page_bytes < 1_000_000

    body, took = big.rows(offset=4_000_000, limit=100)
    assert body["total_rows"] == ROWS and [r[0] for r in body["records"]] == list(range(4_000_000, 4_000_100))
    assert took < REPEAT_BOUND_S

    # The first sort of a column ranks the top rows only; the repeat and the next page reuse it.
    scores = expected.column("score")
    order = pc.sort_indices(expected.select(["score", "id"]), [("score", "descending"), ("id", "ascending")])
    body, first = big.rows(sort="score", desc="true", limit=100)
    assert [r[0] for r in body["records"]] == pc.take(expected.column("id"), order.slice(0, 100)).to_pylist()
    assert body["records"][0][1] == pc.max(scores).as_py()
    _, repeat = big.rows(sort="score", desc="true", limit=100)
    body, next_page = big.rows(sort="score", desc="true", offset=100, limit=100)
    assert [r[0] for r in body["records"]] == pc.take(expected.column("id"), order.slice(100, 100)).to_pylist()
    print(f"sort: first {first * 1e3:.0f} ms, repeat {repeat * 1e3:.0f} ms, next page {next_page * 1e3:.0f} ms")
    assert first < FIRST_BOUND_S and repeat < REPEAT_BOUND_S and next_page < REPEAT_BOUND_S

    # Timestamps ascending: the earliest first; text descending: the largest string first.
    body, _ = big.rows(sort="when", limit=3)
    assert [r[0] for r in body["records"]] == [0, 1, 2]
    body, _ = big.rows(sort="note", desc="true", limit=1)
    assert body["records"][0][3] == pc.max(expected.column("note")).as_py()

    # A filter searches the text columns (and the category labels), case-insensitively.
    body, first = big.rows(q="ROW 4999998", limit=10)
    assert body["total_rows"] == 1 and body["records"][0][0] == 4_999_998
    body, _ = big.rows(q="HYPERLINK", sort="id", desc="true", limit=5)
    assert body["total_rows"] == len(range(0, ROWS, 42)) and body["records"][0][0] == max(range(0, ROWS, 42))
    body, _ = big.rows(q="partner", limit=1)
    assert body["total_rows"] == pc.sum(pc.equal(expected.column("segment").cast(pa.string()), "partner")).as_py()
    assert first < FIRST_BOUND_S

    bad = big.client.get(big.base + "/rows", params={"sort": "nope"})
    assert bad.status_code == 422 and "cannot sort by 'nope'" in bad.text


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _stream(big: BigTable, fmt: str, stop_after: int | None = None) -> tuple[int, int]:
    """(bytes received, peak growth of this process's memory) streaming the download as ``fmt``."""
    baseline = _rss()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    size = 0
    try:
        with big.client.stream("GET", big.base + "/download", params={"format": fmt}) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                size += len(chunk)
                if stop_after is not None and size >= stop_after:
                    break
    finally:
        done.set()
        sampler.join()
    return size, peak[0] - baseline


def test_downloads_of_5m_rows_stream_with_flat_memory(big: BigTable) -> None:
    # The first 30 MB of each (a dozen batches) show whether memory follows the rows streamed;
    # benchmarks/tables.py streams the whole 5 M rows (hundreds of MB) and prints the growth.
    for fmt in ("parquet", "csv"):
        size, growth = _stream(big, fmt, stop_after=30_000_000)
        print(f"{fmt} first {size / 1e6:.0f} MB, memory growth {growth / 1e6:.0f} MB")
        assert size >= 30_000_000 and growth < 200_000_000


@pytest.fixture
def server(big: BigTable) -> Iterator[str]:
    """A uvicorn server on loopback serving the module's app; yields its URL."""
    with serving(big.app) as url:
        yield url


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("FLOWDECK_TEST_BROWSER") != "1", reason="set FLOWDECK_TEST_BROWSER=1")
def test_chromium_pages_sorts_and_filters_5m_rows(big: BigTable, page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    log_in(page)
    page.goto(f"/runs/{big.run_id}/steps/Show")
    table = page.locator("[data-paged=true]")
    expect(table.locator(".table-range")).to_have_text("Rows 1\u201325 of 5,000,000")
    expect(table.get_by_text("Page 1 of 200,000")).to_be_visible()
    for n in range(1, 4):
        table.get_by_role("button", name="Next \u203a").click()
        expect(table.locator(".table-range")).to_have_text(f"Rows {25 * n + 1}\u2013{25 * (n + 1)} of 5,000,000")
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("75")

    table.get_by_role("button", name="id").click()  # ascending, back to page 1
    expect(table.locator("th").first).to_have_attribute("aria-sort", "ascending", timeout=30_000)
    table.get_by_role("button", name="id").click()  # descending
    # A first sort ranks 5 M rows; give a busy machine time.
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("4999999", timeout=30_000)
    table.get_by_role("button", name="Next \u203a").click()
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("4999974", timeout=30_000)

    table.get_by_label("Filter").fill("row 4999998")
    table.get_by_label("Filter").press("Enter")
    expect(table.locator(".table-range")).to_have_text("Rows 1\u20131 of 1", timeout=30_000)
    shot(page, "big-table-5m")
    assert page.errors == []
