"""A flow whose page hangs every kind of callback (module level, so callbacks are stored by reference)."""

from __future__ import annotations

import asyncio
import time

import pandas as pd

from flowdeck import (
    Button,
    Card,
    Container,
    DataSource,
    Dropdown,
    Flow,
    InfographData,
    Infographic,
    Page,
    RichText,
    Section,
    Step,
    StepType,
    StoreInterface,
    Table,
)
from flowdeck.elements.callbacks import (
    AssetDownloadCallback,
    ContainerToggleCallback,
    DrilldownSize,
    DrilldownType,
    auto_refresh_callback,
    drilldown_callback,
    page_update_callback,
    row_action_callback,
    standard_event_callback,
)

#: Calls seen in this process: Step.run and hooks (the tests read it).
SEEN: dict[str, int] = {}


def count(name: str) -> None:
    """Count one call of ``name``."""
    SEEN[name] = SEEN.get(name, 0) + 1


def _set_text(store: StoreInterface, card_title: str, text: str) -> None:
    page = store.get_page()
    card = page.get_card_by_title(card_title)
    card.content = [RichText(text, title=f"{card_title} text")]  # type: ignore[attr-defined]
    store.update_page(page)


# --- callbacks -----------------------------------------------------------------------------------


@page_update_callback
async def region_changed(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Async page update: the Summary card shows the chosen region."""
    await asyncio.sleep(0)
    region = store_interface.get_element_value(store_interface.step_name, "Region")
    _set_text(store_interface, "Summary", f"Region: {region}")


@page_update_callback
def summary_update(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Sync page update of the Summary card's Update button: it shows who pressed it."""
    user = store_interface.get_current_user_details().name
    _set_text(store_interface, "Summary", f"Updated by {user}")


@page_update_callback
def approve(store_interface: StoreInterface, **step_clients) -> None:
    """Opens the gate: the Gate card no longer holds Next back."""
    page = store_interface.get_page()
    page.get_card_by_title("Gate").disable_next = False
    store_interface.update_page(page)


@standard_event_callback
async def notify(store_interface: StoreInterface, **step_clients) -> str:
    """Async standard event: a message for the user."""
    return f"sent to {store_interface.get_current_user_details().name}"


@standard_event_callback
def notify_sync(store_interface: StoreInterface, **step_clients) -> str:
    """Sync standard event."""
    return "clicked the text"


@drilldown_callback(DrilldownType.POPOVER, DrilldownSize.SMALL)
def details(card: Card, input_data: dict, store_interface) -> None:
    """Sync drilldown: fills the temporary card."""
    store_interface.add_element(elements=RichText(f"details of {input_data.get('what', 'nothing')}"))


@row_action_callback("Order details")
@drilldown_callback(DrilldownType.MODAL, DrilldownSize.LARGE)
async def order_details(card: Card, input_data: dict, store_interface) -> None:
    """Async row action: the order's row, read from the page's table."""
    page = store_interface.get_page()
    frame = page.get_element_by_title("Orders").content
    row = frame.iloc[int(input_data["row"])]
    card.add_content([RichText(f"order {row['order']} of {row['customer']}")])


@page_update_callback
def failing(store_interface: StoreInterface, **step_clients) -> None:
    """Changes the page, then raises: the change must not stay."""
    _set_text(store_interface, "Summary", "half-done")
    page = store_interface.get_page()
    page.get_card_by_title("Gate").disable_next = False
    store_interface.update_page(page)
    raise RuntimeError("the report server is down")


@page_update_callback
def slow(store_interface: StoreInterface, **step_clients) -> None:
    """Changes the page, then works until it is cancelled (each store call checks)."""
    _set_text(store_interface, "Summary", "slow work begun")
    count("slow.begun")
    for _ in range(500):
        store_interface.get_flow_status()
        time.sleep(0.01)


@page_update_callback
def rows_selected(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Shows the selected rows."""
    _set_text(store_interface, "Summary", f"selected {input_data['selected_rows']}")


@page_update_callback
async def cell_edited(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Shows the edit."""
    _set_text(store_interface, "Summary", f"{input_data['column']}[{input_data['row']}] = {input_data['value']}")


@page_update_callback
def uploaded(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Validates the uploaded table in place (the reference's dynamic page update)."""
    frame = store_interface.get_element_value(store_interface.step_name, "Data")
    if "amount" not in frame.columns:
        raise ValueError("the file needs an 'amount' column")
    _set_text(store_interface, "Summary", f"uploaded {len(frame)} rows")


@page_update_callback
def filtered(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Filter update: shows the filter's value."""
    minimum = input_data["filters"]["Minimum"]
    _set_text(store_interface, "Filtered", f"at least {minimum}")


@auto_refresh_callback(5)
async def refreshed(store_interface: StoreInterface, input_data=None, **step_clients) -> None:
    """Auto refresh: counts refreshes on the page."""
    page = store_interface.get_page()
    card = page.get_card_by_title("Clock")
    ticks = int(card.subtitle or 0) + 1
    card.subtitle = str(ticks)
    store_interface.update_page(page)


@page_update_callback
def closed(store_interface: StoreInterface, **step_clients) -> None:
    """Container on_close: notes it on the Summary card."""
    _set_text(store_interface, "Summary", "container closed")


# --- the flow ------------------------------------------------------------------------------------

ORDERS = pd.DataFrame({"order": [101, 102, 103], "customer": ["ann", "bob", "cy"], "qty": [1, 2, 3]})


class Ask(Step):
    """The page with every callback."""

    def run(self, flow_metadata):
        count("Ask.run")
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.on_auto_refresh = refreshed
        page.add_card_to_section(
            Card(
                "Controls",
                [Dropdown(options=["east", "west"], title="Region", required=False, page_update=region_changed)],
            ),
            "Main",
        )
        page.add_card_to_section(
            Card(
                "Summary",
                [RichText("Region: none", title="Summary text")],
                page_update=summary_update,
                updater_text="Refresh",
            ),
            "Main",
        )
        page.add_card_to_section(Card("Gate", [Button(title="Approve", on_click=approve)], disable_next=True), "Main")
        page.add_card_to_section(
            Card(
                "Actions",
                [
                    Button(title="Notify", on_click=notify),
                    Button(title="Details", on_click=details),
                    Button(title="Fail", on_click=failing),
                    Button(title="Slow", on_click=slow),
                    Button(title="Open more", on_click=ContainerToggleCallback(True, "more")),
                    Button(
                        title="Download",
                        on_click=AssetDownloadCallback(
                            {"asset_id": "a1", "label": "orders", "type": "dataset", "name": "orders", "version": 1},
                            extension="csv",
                            mime_type="text/csv",
                        ),
                    ),
                    RichText("Click [here]", title="Clickable", on_click=notify_sync),
                    Infographic(title="Figures", data=[InfographData("Revenue", "12", on_click=notify)]),
                ],
            ),
            "Main",
        )
        page.add_card_to_section(
            Card(
                "Orders card",
                [
                    Table(
                        ORDERS,
                        title="Orders",
                        row_actions=[order_details],
                        selectable=True,
                        on_row_select=rows_selected,
                        on_edit_update=cell_edited,
                        editable_columns=["qty"],
                    )
                ],
            ),
            "Main",
        )
        page.add_card_to_section(
            Card("Upload", [DataSource(title="Data", options=["csv"], required=False, on_upload_completion=uploaded)]),
            "Main",
        )
        page.add_card_to_section(
            Card(
                "Filtered",
                [RichText("all", title="Filtered text")],
                filters=[Dropdown(options=["1", "2"], title="Minimum", required=False)],
                filter_update=filtered,
            ),
            "Main",
        )
        page.add_card_to_section(Card("Clock", [RichText("tick", title="Clock text")], subtitle="0"), "Main")
        page.add_card_to_section(
            Container("More", [RichText("more", title="More text")], _id="more", on_close=closed), "Main"
        )
        store.update_page(page)


class Report(Step):
    """Shows that Next ran."""

    def run(self, flow_metadata):
        count("Report.run")
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Done", [RichText("done", title="Done text")]), "Report")
        store.update_page(page)


callbacks_flow = Flow(name="Callbacks", description="every callback kind").chain(
    [
        Ask(title="Ask", page=Page("Ask", [Section("Main", [])])),
        Report(title="Report", type=StepType.RESULTS, page=Page("Report", [Section("Report", [])])),
    ]
)


# --- hooks, sync and async -----------------------------------------------------------------------


class SyncHooks(Step):
    """Counts its hooks (plain methods); fails when SEEN['fail'] is set."""

    def run(self, flow_metadata):
        count("SyncHooks.run")
        if SEEN.get("fail"):
            raise RuntimeError("asked to fail")
        StoreInterface(**flow_metadata).update_page(
            Page("Sync", [Section("S", [Card("C", [RichText("x", title="x")])])])
        )

    def on_run_success(self, store_interface):
        count("SyncHooks.on_run_success")

    def on_action_success(self, store_interface):
        count("SyncHooks.on_action_success")

    def on_failure(self, store_interface):
        count("SyncHooks.on_failure")

    def on_cancel(self, store_interface):
        count("SyncHooks.on_cancel")


class AsyncHooks(Step):
    """Counts its hooks (``async`` methods); fails when SEEN['fail'] is set."""

    def run(self, flow_metadata):
        count("AsyncHooks.run")
        if SEEN.get("fail"):
            raise RuntimeError("asked to fail")
        StoreInterface(**flow_metadata).update_page(
            Page("Async", [Section("S", [Card("C", [RichText("x", title="x")])])])
        )

    async def on_run_success(self, store_interface):
        await asyncio.sleep(0)
        count("AsyncHooks.on_run_success")

    async def on_action_success(self, store_interface):
        await asyncio.sleep(0)
        count("AsyncHooks.on_action_success")

    async def on_failure(self, store_interface):
        await asyncio.sleep(0)
        count("AsyncHooks.on_failure")

    async def on_cancel(self, store_interface):
        await asyncio.sleep(0)
        count("AsyncHooks.on_cancel")


hooks_flow = Flow(name="Hooks", description="hooks, sync and async").chain(
    [
        SyncHooks(title="Sync hooks", page=Page("Sync", [Section("S", [])])),
        AsyncHooks(title="Async hooks", page=Page("Async", [Section("S", [])])),
    ]
)
