"""StoreInterface's SDK 1.62 forms, beside the reference page's, on every backend."""

from __future__ import annotations

import asyncio
import inspect

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import flowdeck
import sdk_store_flows
from flowdeck import StoreInterface
from flowdeck.assets import Asset, AssetPersistenceMethod, AssetType, Dataset
from flowdeck.elements import RichText
from flowdeck.errors import FlowdeckError, NotFoundError, StepStateError, ValidationError
from flowdeck.store.progress import events_after

SALES = pd.DataFrame({"region": ["north", "south"], "amount": [100, 250]})
CSV = SALES.to_csv(index=False).encode()


@pytest.fixture(autouse=True)
def _fresh_seen():
    sdk_store_flows.SEEN.clear()


def _uploaded_run():
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    run.upload("Sales", "sales.csv", CSV)
    run.set_value("Analyst", "Ada")
    return run


def test_static_and_async_update_progress_report_for_the_running_step(deployment):
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    assert sdk_store_flows.SEEN == {"static": True, "async static": True}
    events = [(e.step_name, e.completion, e.message) for e in events_after(run.flow_id)]
    assert events == [("Upload", 40.0, "static form"), ("Upload", 60.0, "async static form")]

    # The reference page's instance form still acts for the store's step.
    store = StoreInterface(run.flow_id, user="alice", step_name="Upload")
    assert store.update_progress(75, "instance form") is True
    status = store.get_flow_status().steps[0]
    assert (status.progress, status.message) == (75.0, "instance form")
    assert asyncio.run(store.aupdate_progress(80, "instance async")) is True
    assert events_after(run.flow_id)[-1].message == "instance async"
    with pytest.raises(ValidationError, match="progress must be from 0 to 100, got 101"):
        store.update_progress(101, "too far")

    run.upload("Sales", "sales.csv", CSV)
    run.set_value("Analyst", "Ada")
    run.next()
    last = events_after(run.flow_id)[-1]
    assert (last.step_name, last.completion, last.message) == ("Report", 90.0, "instance async form")


def test_static_update_progress_outside_a_step_is_refused(deployment):
    with pytest.raises(StepStateError, match="no step is running here, so there is no step to report progress for"):
        StoreInterface.update_progress(50, "nowhere")
    with pytest.raises(StepStateError, match="no step is running here"):
        asyncio.run(StoreInterface.aupdate_progress(50, "nowhere"))
    # A thread the step starts itself does not inherit the step.
    flowdeck.start(sdk_store_flows.leaky_flow, user="alice")
    error = sdk_store_flows.SEEN["thread error"]
    assert isinstance(error, StepStateError) and "no step is running here" in str(error)


def test_update_progress_has_the_sdk_and_the_reference_signatures():
    assert isinstance(inspect.getattr_static(StoreInterface, "update_progress"), staticmethod)
    assert str(inspect.signature(StoreInterface.update_progress)) == str(
        inspect.signature(StoreInterface.aupdate_progress)
    )
    assert list(inspect.signature(StoreInterface.update_progress).parameters) == [
        "completion",
        "message",
        "page_update",
    ]
    assert inspect.iscoroutinefunction(StoreInterface.aupdate_progress)


def test_lookups_by_reference_id_and_by_title(deployment):
    run = _uploaded_run()
    store = StoreInterface(run.flow_id, user="alice")

    # Before the action: the raw upload of the current step, by reference id and by title.
    assert store.get_current_step_user_input(data_source_reference_id="sales-ref").read() == CSV
    assert store.get_current_step_user_input("Sales").read() == CSV
    with pytest.raises(NotFoundError, match="no element with reference_id 'nope'"):
        store.get_current_step_user_input(data_source_reference_id="nope")

    run.next()
    assert sdk_store_flows.SEEN["analyst"] == "Ada"
    assert_frame_equal(sdk_store_flows.SEEN["sales"], SALES)
    store = StoreInterface(run.flow_id, user="alice")

    by_reference = store.get_element("Upload", elem_reference_id="analyst-ref")
    assert by_reference.title == "Analyst"
    assert store.get_element("Upload", "Analyst").id == by_reference.id  # the reference page's title
    assert store.get_element("Upload", "analyst-ref").id == by_reference.id  # the SDK's positional form
    assert store.get_element_value("Upload", elem_reference_id="analyst-ref") == "Ada"
    assert store.get_element_value("Upload", "Analyst") == "Ada"
    assert store.get_element_value(step_name="Upload", elem_title="Analyst", quiet=False) == "Ada"
    assert_frame_equal(store.get_element_value("Upload", elem_reference_id="sales-ref"), SALES)
    assert store.get_raw_data_source_data("Upload", elem_reference_id="sales-ref").read() == CSV
    assert store.get_raw_data_source_data("Upload", None, "Sales").read() == CSV
    assert store.get_raw_data_source_data("Upload", None, "sales-ref").read() == CSV  # SDK positional

    with pytest.raises(NotFoundError, match="step 'Upload' has no element with reference_id 'Analyst'"):
        store.get_element("Upload", elem_reference_id="Analyst")  # a title is not a reference id
    assert store.get_element("Upload", elem_reference_id="nope", quiet=True) is None
    assert store.get_element_value("Upload", elem_reference_id="nope", quiet=True) is None
    with pytest.raises(NotFoundError, match="has no element with title or reference_id 'nope'"):
        store.get_element("Upload", "nope")
    with pytest.raises(ValidationError, match="pass element's title or its reference_id, not both"):
        store.get_element("Upload", "Analyst", elem_reference_id="analyst-ref")
    with pytest.raises(ValidationError, match="name the element: pass its title, or reference_id="):
        store.get_element_value("Upload")
    with pytest.raises(ValidationError, match="pass elem_reference_id= alone, not with element_id= or element_title="):
        store.get_raw_data_source_data("Upload", element_title="Sales", elem_reference_id="sales-ref")
    assert store.get_raw_data_source_data("Upload").read() == CSV  # the step's only DataSource
    sales_id = store.get_element("Upload", "Sales").id
    with pytest.raises(ValidationError, match="element_title='Analyst' names another"):  # two elements named
        store.get_raw_data_source_data("Upload", sales_id, "Analyst")
    assert store.get_raw_data_source_data("Upload", sales_id, "Sales").read() == CSV  # both name Sales
    with pytest.raises(ValidationError, match="'Analyst' in step 'Upload' is a TextInput, not a DataSource"):
        store.get_raw_data_source_data("Upload", element_title="Analyst")


def test_get_page_takes_the_sdks_out_link(deployment):
    run = _uploaded_run()
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_page(_out_link={"ignored": 1}).to_json() == store.get_page().to_json()


def test_save_asset_serialization_method(deployment):
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    frame = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": pd.Categorical(["x", "y"])})
    for method in (AssetPersistenceMethod.CSV, "parquet", AssetPersistenceMethod.PICKLE, "excel"):
        asset_id = store.save_asset(Dataset(frame, label=f"frame-{method}"), serialization_method=method)
        assert_frame_equal(store.get_asset_by_id(asset_id).object, frame)  # stored exactly, dtypes kept
    store.save_asset(Asset(b"\x00raw", "blob", AssetType.OTHER), serialization_method="bytes")
    assert store.get_asset("blob", AssetType.OTHER).object == b"\x00raw"
    store.save_asset(Asset({"k": [1, 2]}, "doc", AssetType.OTHER), serialization_method=AssetPersistenceMethod.JSON)
    assert store.get_asset("doc", AssetType.OTHER).object == {"k": [1, 2]}

    with pytest.raises(ValidationError, match=r"unknown serialization_method 'yaml'; use one of \['pickle', 'csv'"):
        store.save_asset(Asset({"k": 1}, "yaml", AssetType.OTHER), serialization_method="yaml")
    with pytest.raises(ValidationError, match="holds dict; serialization_method 'bytes' needs bytes"):
        store.save_asset(Asset({"k": 1}, "wrong", AssetType.OTHER), serialization_method="bytes")
    with pytest.raises(ValidationError, match="serialization_method 'csv' needs a DataFrame or Series"):
        store.save_asset(Asset([1, 2], "wrong", AssetType.OTHER), serialization_method="csv")
    with pytest.raises(ValidationError, match="serialization_method 'json' needs a JSON-safe value"):
        store.save_asset(Asset({1, 2}, "wrong", AssetType.OTHER), serialization_method="json")
    assert store.get_asset("wrong", AssetType.OTHER) is None  # nothing refused was saved
    assert store.get_asset("yaml", AssetType.OTHER) is None


def test_boto3_client_takes_region_name_and_refuses_credential_keywords(deployment):
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    flowdeck.add_connection("keyed", "s3", owner="alice", username="AKIAEXAMPLE", password="s", region="eu-west-1")
    store = StoreInterface(run.flow_id, user="alice")
    assert store.get_boto3_s3_client_from_connection_store("keyed").meta.region_name == "eu-west-1"
    client = store.get_boto3_s3_client_from_connection_store("keyed", region_name="us-west-2")
    assert client.meta.region_name == "us-west-2"
    assert store.get_boto3_s3_client_from_connection_store("keyed", "alice").meta.region_name == "eu-west-1"
    # Keywords that would swap the stored credentials or endpoint are refused, not passed to boto3.
    for keyword in ("endpoint_url", "aws_access_key_id", "profile_name"):
        with pytest.raises(ValidationError, match=rf"does not take \['{keyword}'\]; it accepts \['region_name'\]"):
            store.get_boto3_s3_client_from_connection_store("keyed", **{keyword: "x"})


def test_current_user_details_and_custom_attributes(deployment):
    flowdeck.add_user("alice", groups=["sales", "emea"])
    run = flowdeck.start(sdk_store_flows.sdk_store_flow, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    role, groups = store.get_current_user_details()
    assert (role, sorted(groups)) == ("user", ["emea", "sales"])
    details = store.get_current_user_details()
    assert (details.name, details.role, sorted(details.groups)) == ("alice", "user", ["emea", "sales"])
    flowdeck.add_user("root", role="admin")
    flowdeck.share_run(run.flow_id, owner="alice", users=["root"])
    assert StoreInterface(run.flow_id, user="root").get_current_user_details() == ("admin", [])
    assert store.get_custom_attributes() == {}
    assert store.is_pyvip_connected() is False


def test_extract_context_from_page(deployment):
    run = _uploaded_run()
    page = StoreInterface(run.flow_id, user="alice").get_page()
    context = StoreInterface.extract_context_from_page(page)
    assert context == page.get_element_data_grouped_by_type()
    values = {item["title"]: item.get("value") for items in context.values() for item in items}
    assert values["Analyst"] == "Ada"
    assert set(values) == {"Sales", "Analyst"}


def test_inject_json_element(deployment):
    run = _uploaded_run()
    store = StoreInterface(run.flow_id, user="alice")
    page = store.get_page()
    card = page.get_card_by_title("Inputs")
    element_json = RichText("Injected **text**", title="Note").to_json()

    # After update_page: the stored page gets the element at once.
    injected = store.inject_json_element(card, element_json, element_id="note-1")
    assert injected.id == "note-1" and isinstance(injected, RichText)
    assert list(card.get_elements())[-1] is injected
    stored = store.get_page().get_element_by_id("note-1")
    assert (stored.title, stored.content) == ("Note", "Injected **text**")

    # Before update_page: the card holds it, and update_page stores it (once).
    from flowdeck import Card

    fresh = Card("Later", [])
    page = store.get_page()
    store.inject_json_element(fresh, RichText("Later text", title="Later note").to_json())
    assert store.get_page().get_card_by_title("Later", quiet=True) is None
    page.add_card_to_section(fresh, "")
    store.update_page(page)
    stored_page = store.get_page()
    assert [e.title for e in list(stored_page.get_card_by_title("Later").get_elements())] == ["Later note"]
    assert [e.id for e in stored_page.elements].count("note-1") == 1

    with pytest.raises(ValidationError, match="unknown element kind 'Nope'"):
        store.inject_json_element(card, {**element_json, "kind": "Nope"})
    with pytest.raises(ValidationError, match="element_json must be a dict"):
        store.inject_json_element(card, "not json")


def test_live_cards_are_not_hosted(deployment):
    run = _uploaded_run()
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(FlowdeckError, match="needs the vendor platform's live cards, which flowdeck does not host"):
        store.update_page_from_live_card("", "card-1", spark=None)
