"""Attacks over HTTP by a logged-in user: formula text in downloaded CSV, deeply nested callback bodies.

A flow's table may hold text a user typed (or a file they uploaded) in any dtype pandas or Arrow
offers, in its cells, its column labels and its index; the CSV download must keep all of it inert
when a spreadsheet opens it. A callback body is parsed by the route itself, so nesting too deep for
the parser must be a 400, not a server error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from fixtures.risky_table_flows import RISKY, risky_frame
from fixtures.server_support import PASSWORDS, add_people, element_id, login, start_run
from flowdeck.formats import FORMULA_PREFIXES
from flowdeck.server import create_app
from flowdeck.server.downloads import csv_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RISKY_FLOW = f"{FIXTURES / 'risky_table_flows.py'}:risky_table"


@pytest.fixture
def app(deployment: str) -> Iterator[Any]:
    add_people()
    server = create_app([RISKY_FLOW])
    yield server
    server.state.flowdeck.executor.shutdown(wait=True)


def _open(client: TestClient) -> tuple[str, str]:
    run_id = start_run(client, "Risky table")
    page = client.get(f"/api/runs/{run_id}/steps/Show/page")
    assert page.status_code == 200, page.text
    return run_id, element_id(page.json(), "Risky")


def _formula_cells(text: str) -> list[str]:
    """Every field of a CSV text that a spreadsheet would run as a formula."""
    return [field for row in csv.reader(io.StringIO(text)) for field in row if field.startswith(FORMULA_PREFIXES)]


def test_big_table_csv_escapes_labels_index_and_arrow_text(app: Any) -> None:
    client = login(app, "alice")
    run_id, table_id = _open(client)
    response = client.get(f"/api/runs/{run_id}/steps/Show/tables/{table_id}/download", params={"format": "csv"})
    assert response.status_code == 200, response.text
    text = response.text
    # The attack: formula text in column labels, the index (its name and labels), Arrow string,
    # large-string and dictionary cells. Nothing arrives as a formula.
    assert _formula_cells(text) == []
    header = next(csv.reader(io.StringIO(text)))
    assert header == ["'+who", "'=cmd|' /C calc'!A0", "arrow", "labels", "large"]
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    expected = ["'" + v if v.startswith(FORMULA_PREFIXES) else v for v in risky_frame()["arrow"]]
    for column in ("arrow", "labels", "large"):
        assert back[column].tolist() == expected
    assert back["'+who"].tolist() == [f"'@{i}" for i in range(len(back))]
    assert back["'=cmd|' /C calc'!A0"].tolist() == list(range(len(back)))  # numbers as they are
    # Parquet is data, not a spreadsheet: it keeps the values exactly.
    parquet = client.get(f"/api/runs/{run_id}/steps/Show/tables/{table_id}/download", params={"format": "parquet"})
    assert parquet.status_code == 200
    stored = pq.read_table(io.BytesIO(parquet.content))
    assert stored.column("arrow").to_pylist() == risky_frame()["arrow"].tolist()


def test_asset_csv_escapes_arrow_text_and_categories() -> None:
    frame = risky_frame(len(RISKY) * 2).reset_index(drop=True)
    frame["category"] = pd.Categorical(frame["arrow"].astype(object))
    text = csv_text(frame)
    assert _formula_cells(text) == []
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert back["category"].tolist() == back["arrow"].tolist() == back["labels"].tolist()
    assert frame["arrow"].iloc[0] == RISKY[0]  # the frame itself is not changed


@pytest.mark.parametrize("depth", [900, 5_000, 200_000])
def test_a_deeply_nested_callback_body_is_a_400(app: Any, depth: int) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    logged_in = client.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]})
    client.headers["X-CSRF-Token"] = logged_in.json()["csrf_token"]
    run_id, _ = _open(client)
    nested = "[" * depth + "]" * depth
    for body in (nested, '{"kind": "refresh", "input_data": {"a": ' + nested + "}}"):
        response = client.post(
            f"/api/runs/{run_id}/callbacks", content=body.encode(), headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (depth, response.status_code, response.text[:200])
    assert client.get(f"/api/runs/{run_id}").status_code == 200


def test_pages_of_a_table_of_numpy_and_arrow_columns_are_served_sorted_and_filtered(app: Any) -> None:
    """Arrow dictionary and string columns beside NumPy ones page, sort and filter like any other."""
    client = login(app, "alice")
    run_id, table_id = _open(client)
    url = f"/api/runs/{run_id}/steps/Show/tables/{table_id}/rows"
    frame = risky_frame()
    page = client.get(url, params={"offset": 10, "limit": 5})
    assert page.status_code == 200, page.text
    assert page.json()["records"] == [
        [int(row[0]), *row[1:]] for row in frame.iloc[10:15].itertuples(index=False, name=None)
    ]
    assert page.json()["index"]["values"] == list(frame.index[10:15])
    by_labels = client.get(url, params={"sort": "labels", "limit": 3})
    assert by_labels.status_code == 200, by_labels.text
    assert [r[2] for r in by_labels.json()["records"]] == sorted(frame["labels"].astype(str))[:3]
    found = client.get(url, params={"q": "row 1"})
    assert found.status_code == 200, found.text
    assert {r[1] for r in found.json()["records"]} == {v for v in frame["arrow"] if "row 1" in v}
