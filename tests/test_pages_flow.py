"""Driving a four-step flow through start/upload/set_value/next/back, on every backend."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import page_flows
from flowdeck import StoreInterface
from flowdeck.errors import MissingInputError, NotFoundError, StepStateError, ValidationError  # noqa: F401

SALES = pd.DataFrame(
    {
        "region": ["north", "south", "north", "east"],
        "amount": [100, 250, 40, 900],
        "units": [1, 5, 2, 9],
    }
)
CSV = SALES.to_csv(index=False).encode()


@pytest.fixture(autouse=True)
def _fresh_seen():
    page_flows.SEEN.clear()


def _start(user: str = "alice"):
    return flowdeck.start(page_flows.sales_report, user=user)


def test_a_four_step_flow_driven_from_python(deployment):
    run = _start()
    page = run.page()
    assert [e.title for e in page.elements] == ["Sales data", "Notes file", "Analyst"]
    with pytest.raises(MissingInputError, match="'Sales data', 'Analyst'") as info:
        run.next()
    assert info.value.missing == ["Sales data", "Analyst"]
    assert run.current_step == "Load"

    run.upload("Sales data", "sales.csv", CSV)
    run.upload("Notes file", "notes.txt", b"raw notes \x00 bytes")
    run.set_value("Analyst", "Ada")
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_current_step_user_input("Sales data").read() == CSV
    value = run.page().get_element_by_title("Sales data").value
    assert value["filename"] == "sales.csv" and value["size"] == len(CSV) and len(value["sha256"]) == 64
    run.next()

    assert run.current_step == "Configure"
    assert_frame_equal(page_flows.SEEN["configure_sales"], SALES, check_dtype=False)
    store = StoreInterface(run.flow_id, user="alice")
    assert_frame_equal(store.get_input("Sales data"), SALES, check_dtype=False)
    assert store.get_element_value("Load", "Notes file") == b"raw notes \x00 bytes"
    assert store.get_raw_data_source_data(step_name="Load", element_title="Sales data").read() == CSV
    with pytest.raises(NotFoundError, match="no element 'Analyst'"):
        run.set_value("Analyst", "someone else")  # Load is complete: its values are frozen
    assert store.get_element("Report", "Note from configure").title == "Note from configure"
    assert store.get_element("Report", "nothing here", quiet=True) is None

    run.set_value("Measure", "units")
    run.set_value("Regions", ["north", "east"])
    run.set_value("Amount range", (0, 500))
    run.set_value("Period", ("2024-02-01", "2024-03-01"))
    run.next()
    assert run.current_step == "Compute"
    run.next()
    report = page_flows.SEEN["report"]
    assert report["total"] == 12.0  # units of the north and east rows
    assert report["measure"] == "units"
    assert report["marker"] == "action ran" and page_flows.SEEN["action_is_action"] is True
    assert report["analyst"] == "Ada"
    assert report["notes"] == b"raw notes \x00 bytes"
    assert report["period"] == (dt.datetime(2024, 2, 1), dt.datetime(2024, 3, 1))
    assert report["page_has_future"] is True
    run.next()
    assert run.status().state == "complete"


def test_back_then_change_reruns_later_steps_with_the_new_value(deployment):
    run = _start()
    run.upload("Sales data", "sales.csv", CSV)
    run.set_value("Analyst", "Ada")
    run.next()
    run.set_value("Measure", "amount")
    run.next()
    run.next()
    assert page_flows.SEEN["report"]["total"] == 1290.0
    run.back()  # Compute
    run.back()  # Configure, with its values as they were
    assert run.current_step == "Configure"
    assert run.page().get_element_by_title("Measure").value == "amount"
    status = run.status()
    assert status.step("Compute").state == "stale" and status.step("Report").state == "stale"
    reader = StoreInterface(run.flow_id, user="alice", step_name="Report")
    with pytest.raises(NotFoundError):
        reader.get_input("total")  # Compute is stale: its outputs left the in-link
    assert reader.get_input("total", step_name="Compute") == 1290.0  # but stay readable by name
    run.set_value("Measure", "units")
    run.next()
    run.next()
    assert page_flows.SEEN["report"]["total"] == 17.0
    assert page_flows.SEEN["configure_runs"] == 1  # back() reopened Configure without re-running it
    assert run.status().step("Compute").attempt == 2


def test_element_links_and_pages_by_id(deployment):
    run = _start()
    store = StoreInterface(run.flow_id, user="alice")
    element = store.get_element("Load", "Analyst")
    assert store.get_element_by_id("Load", element.id).title == "Analyst"
    link = store.create_element_link(element)
    assert isinstance(link, str) and run.flow_id in link and element.id in link
    assert store.create_element_link(element) == link  # stable
    with pytest.raises(NotFoundError):
        store.create_element_link("no-such-id")


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    SALES.to_excel(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("sales.csv", b"", "empty"),
        ("sales.csv", b"region,amount,units\nnorth,1,2\nsouth,1,2,3,4\n", "line 3"),
        ("sales.xlsx", b"PK\x03\x04 this is not a workbook", "xlsx|workbook|zip"),
        ("sales.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "sales.csv"),
    ],
)
def test_bad_uploads_are_refused_and_the_run_is_unchanged(deployment, filename, data, message):
    run = _start()
    before = run.page()
    with pytest.raises(ValidationError, match=message):
        run.upload("Sales data", filename, data)
    assert run.page() == before
    run.upload("Sales data", "good.xlsx", _xlsx())
    run.set_value("Analyst", "Ada")
    run.next()
    assert run.current_step == "Configure"
    assert_frame_equal(StoreInterface(run.flow_id, user="alice").get_input("Sales data"), SALES, check_dtype=False)


def test_upload_over_the_size_limit(deployment):
    flowdeck.configure(**{**_current(), "max_upload_bytes": 100})
    run = _start()
    with pytest.raises(ValidationError, match="over the upload limit"):
        run.upload("Sales data", "big.csv", b"a,b\n" + b"1,2\n" * 100)
    assert run.page().get_element_by_title("Sales data").value is None


def _current() -> dict:
    from flowdeck.config import get_settings

    s = get_settings()
    return {
        "home": str(s.home),
        "database_url": s.database_url,
        "blob_url": s.blob_url,
        "s3_endpoint_url": s.s3_endpoint_url,
    }


def test_dropdown_and_range_validation_through_the_run(deployment):
    run = _start()
    run.upload("Sales data", "sales.csv", CSV)
    run.set_value("Analyst", "Ada")
    run.next()
    with pytest.raises(ValidationError, match="Measure"):
        run.set_value("Measure", "not a column")
    with pytest.raises(ValidationError, match="Amount range"):
        run.set_value("Amount range", (-5, 10))
    assert run.page().get_element_by_title("Measure").value == "amount"


def test_update_page_refuses_duplicate_input_titles(deployment):
    from flowdeck import Card, TextInput

    run = _start()
    store = StoreInterface(run.flow_id, user="alice")
    page = store.get_page()
    page.add_card_to_section(Card("Again", [TextInput(title="Analyst")]), "Inputs")
    with pytest.raises(ValueError, match="Analyst"):
        store.update_page(page)


def test_rerun_starts_again_from_the_initial_page(deployment):
    run = _start()
    run.rerun()
    assert [e.title for e in run.page().elements] == ["Sales data", "Notes file", "Analyst"]
