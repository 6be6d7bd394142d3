"""Interactive orders: a page that reacts in place, with every kind of callback flowdeck runs.

Open it in the browser::

    flowdeck serve --flows examples/interactive/flow.py

or drive it from Python (the same actions the browser offers)::

    import flowdeck
    from examples.interactive.flow import flow

    run = flowdeck.start(flow, user="demo")
    run.set_value("Region", "west")            # the "Regional summary" card changes
    run.click("Notify team")                   # -> "Sent a note to the team about 8 orders"
    card = run.drilldown("Orders", {"row": 2})  # the row's details, never saved on the page
    run.click("Approve")                       # clears the gate on the "Review" card
    run.next()

Every callback below is a module-level function: pages keep callbacks by reference (module or
file, and name), so the server and workers load them the way they load the flow.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from flowdeck import (
    Button,
    Card,
    Column,
    Container,
    Dataset,
    Dropdown,
    Flow,
    InfographData,
    Infographic,
    Page,
    PlotlyPlot,
    RichText,
    RichTextClickable,
    Row,
    Section,
    Segment,
    SegmentedControl,
    Step,
    StepType,
    StoreInterface,
    Table,
)
from flowdeck.elements import ButtonStyle, DataSource
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
from flowdeck.page import default_container_on_close

FLOW_NAME = "Interactive orders"
EXPLORE = "Explore orders"
HELP_ID = "help-container"
REGIONS = ["all", "north", "south", "east", "west"]

ORDERS = pd.DataFrame(
    {
        "order_id": [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008],
        "region": ["north", "south", "east", "west", "north", "west", "south", "east"],
        "product": ["desk", "chair", "lamp", "desk", "shelf", "chair", "lamp", "desk"],
        "amount": [420.0, 95.5, 38.0, 455.0, 210.0, 99.0, 41.5, 430.0],
        "note": ["", "", "rush", "", "", "gift", "", ""],
    }
)

# Plotly's default template is a large part of a figure's JSON, and every callback reads the page
# (and so rebuilds its figures): a light layout keeps the page quick to change.
LIGHT = {
    "template": "none",
    "plot_bgcolor": "#ffffff",
    "yaxis": {"gridcolor": "#e5e9f0"},
    "font": {"family": "system-ui, sans-serif", "color": "#172033"},
}

# --- building blocks ------------------------------------------------------------------------------


def _orders(page: Page) -> pd.DataFrame:
    """The orders as the page shows them now (with the notes the user edited)."""
    return page.get_element_by_title("Orders").get_df()


def _summary(orders: pd.DataFrame, region: str) -> Infographic:
    chosen = orders if region in (None, "all") else orders[orders["region"] == region]
    return Infographic(
        "Regional summary",
        data=[
            InfographData(
                "Orders",
                str(len(chosen)),
                f"in {region or 'all'} regions" if region in (None, "all") else f"in the {region}",
                on_click=region_popover,
            ),
            InfographData(
                "Revenue", f"{chosen['amount'].sum():,.0f}", "click for the split", unit="$", on_click=region_popover
            ),
        ],
    )


def _trend(orders: pd.DataFrame, metric: str) -> PlotlyPlot:
    grouped = orders.groupby("product")["amount"]
    values = grouped.sum() if metric == "amount" else grouped.count()
    figure = go.Figure(go.Bar(x=list(values.index), y=list(values.values), marker_color="#2563eb"))
    figure.update_layout(title=f"{metric} by product", height=280, margin={"t": 40, "b": 30}, **LIGHT)
    return PlotlyPlot(figure)  # the figure's title becomes the element's title, as in the SDK


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S UTC")


# --- callbacks ------------------------------------------------------------------------------------


@page_update_callback
def region_changed(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Dropdown "Region": redraw only the "Regional summary" card."""
    page = store_interface.get_page()
    region = page.get_element_by_title("Region").get_value()
    page.replace_content_in_section([_summary(_orders(page), region)], "Overview", "Regional summary")
    store_interface.update_page(page)


@page_update_callback
def upload_done(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """DataSource "Extra orders" (on_upload_completion): check the file and preview it."""
    raw = store_interface.get_current_step_user_input("Extra orders")
    extra = pd.read_csv(io.BytesIO(raw.getvalue()))
    missing = sorted(set(ORDERS.columns) - set(extra.columns) - {"note"})
    text = f"**{len(extra)} rows** read." + (f" Missing columns: {', '.join(missing)}." if missing else " Looks good.")
    page = store_interface.get_page()
    card = page.get_card_by_title("Upload")
    card.content = [card.content[0], RichText(text, title="Upload check"), Table(extra.head(5), title="Uploaded rows")]
    store_interface.update_page(page)


@page_update_callback
def recalculate(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Card "Totals" (its "Recalculate" button, updater_text)."""
    page = store_interface.get_page()
    orders = _orders(page)
    noted = int((orders["note"].astype(str) != "").sum())
    page.replace_content_in_section(
        [
            RichText(
                f"**{orders['amount'].sum():,.2f} $** over {len(orders)} orders, {noted} with a note (at {_now()})."
            )
        ],
        "Overview",
        "Totals",
    )
    store_interface.update_page(page)


@page_update_callback
def approve(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Button "Approve": clears the gate the "Review" card puts on Next."""
    page = store_interface.get_page()
    review = page.get_card_by_title("Review")
    review.disable_next = False
    review.content = [RichText(f"Approved by **{store_interface.user}** at {_now()}. Next is open.")]
    store_interface.update_page(page)
    store_interface.save_output(True, "approved")


@standard_event_callback
def notify(store_interface: StoreInterface, **step_clients: Any) -> str:
    """Button "Notify team" (with a confirmation): a message back to the user."""
    orders = _orders(store_interface.get_page())
    return f"Sent a note to the team about {len(orders)} orders"


@standard_event_callback
def explain(store_interface: StoreInterface, **step_clients: Any) -> str:
    """RichText on_click: clicking the link answers with a message."""
    return "An order counts once it is paid; refunds are left out."


@drilldown_callback(DrilldownType.POPOVER, DrilldownSize.SMALL)
def region_popover(card: Card, input_data: dict[str, Any], store_interface: StoreInterface) -> None:
    """InfographData on_click: revenue by region, in a small popover."""
    by_region = _orders(store_interface.get_page()).groupby("region")["amount"].sum()
    card.title = "Revenue by region"
    card.add_content(RichText("\n".join(f"- **{region}**: {amount:,.0f} $" for region, amount in by_region.items())))


@drilldown_callback(DrilldownType.MODAL, DrilldownSize.LARGE)
def region_chart(card: Card, input_data: dict[str, Any], store_interface: StoreInterface) -> None:
    """Button "Region chart": a chart in a large modal."""
    by_region = _orders(store_interface.get_page()).groupby("region")["amount"].sum()
    figure = go.Figure(go.Pie(labels=list(by_region.index), values=list(by_region.values), hole=0.4))
    figure.update_layout(height=320, margin={"t": 20, "b": 20}, **LIGHT)
    card.title = "Revenue by region"
    card.add_content(PlotlyPlot(figure, title="Revenue share"))


def _row(store_interface: StoreInterface, input_data: dict[str, Any] | None) -> pd.Series:
    """The order a row action or a click is about: by ``order_id``, else by ``row`` position."""
    orders = _orders(store_interface.get_page())
    data = dict(input_data or {})
    values = data.get("values") if isinstance(data.get("values"), dict) else data
    if values.get("order_id") is not None:
        return orders[orders["order_id"] == int(values["order_id"])].iloc[0]
    return orders.iloc[int(data.get("row", 0))]


@row_action_callback("Details")
def order_details(card: Card, input_data: dict[str, Any], store_interface: StoreInterface) -> None:
    """Table row action "Details": the row's order in a modal (a temporary card, never saved)."""
    order = _row(store_interface, input_data)
    card.title = f"Order {int(order['order_id'])}"
    card.add_content(
        Infographic(
            data=[
                InfographData("Product", str(order["product"]), f"region {order['region']}"),
                InfographData("Amount", f"{order['amount']:,.2f}", order["note"] or "no note", unit="$"),
            ]
        )
    )


@page_update_callback
def rows_selected(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Table on_row_select: the "Selection" card sums the selected orders."""
    page = store_interface.get_page()
    chosen = page.get_element_by_title("Orders").get_selected_data()
    text = (
        f"**{len(chosen)} selected**, worth {chosen['amount'].sum():,.2f} $: "
        + ", ".join(str(order) for order in chosen["order_id"])
        if len(chosen)
        else "Tick rows of the orders table to sum them here."
    )
    page.replace_content_in_section([RichText(text)], "Orders", "Selection")
    store_interface.update_page(page)


@page_update_callback
def note_edited(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Table on_edit_update: the edited note is in the table already; log it on the "Edits" card."""
    data = dict(input_data or {})
    page = store_interface.get_page()
    log = page.get_card_by_title("Edits")
    line = f"row {data.get('row')} · {data.get('column')} → {data.get('value')!s} ({_now()})"
    log.content = [RichText(line), *log.content[:4]]
    store_interface.update_page(page)


@page_update_callback
def trend_filtered(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Card filter "Metric" (filter_update): redraw the trend chart."""
    page = store_interface.get_page()
    card = page.get_card_by_title("Trend")
    metric = next(f for f in card.filters if f.title == "Metric").get_value() or "amount"
    card.content = [_trend(_orders(page), metric)]
    store_interface.update_page(page)


@auto_refresh_callback(30)
def live_clock(store_interface: StoreInterface, input_data: Any = None, **step_clients: Any) -> None:
    """Page on_auto_refresh: every 30 s while the page is open, the "Live" card shows the time."""
    page = store_interface.get_page()
    page.replace_content_in_section([RichText(f"Last refreshed at {_now()}.")], "Overview", "Live")
    store_interface.update_page(page)


# --- steps ----------------------------------------------------------------------------------------


class ExploreOrders(Step):
    """A page of orders that reacts to the user without leaving the step."""

    def run(self, flow_metadata: Any) -> None:
        store = StoreInterface(**flow_metadata)
        asset_id = store.save_asset(Dataset(ORDERS, label="orders", name="Interactive orders"))
        page = store.get_page()
        page.add_card_to_section(
            Card("Region", [Dropdown(REGIONS, "all", title="Region", page_update=region_changed)]), "Overview"
        )
        page.add_card_to_section(Card("Regional summary", [_summary(ORDERS, "all")]), "Overview")
        page.add_card_to_section(
            Card(
                "Totals",
                [RichText("Press **Recalculate** after editing notes.")],
                page_update=recalculate,
                updater_text="Recalculate",
            ),
            "Overview",
        )
        page.add_card_to_section(Card("Live", [RichText("Refreshed every 30 s while the page is open.")]), "Overview")
        page.add_card_to_section(
            Card(
                "Orders",
                [
                    Table(
                        ORDERS,
                        title="Orders",
                        selectable=True,
                        on_row_select=rows_selected,
                        editable_columns=["note"],
                        on_edit_update=note_edited,
                        row_actions=[order_details],
                    )
                ],
                show_comments=True,
                description="Tick rows, edit a note, or open a row's details from its actions menu.",
            ),
            "Orders",
        )
        page.add_card_to_section(
            Card("Selection", [RichText("Tick rows of the orders table to sum them here.")]), "Orders"
        )
        page.add_card_to_section(Card("Edits", [RichText("No notes edited yet.")]), "Orders")
        page.add_card_to_section(
            Card(
                "Upload",
                [DataSource(title="Extra orders", options=["csv"], required=False, on_upload_completion=upload_done)],
            ),
            "Orders",
        )
        page.add_card_to_section(
            Card(
                "Trend",
                [_trend(ORDERS, "amount")],
                filters=[Dropdown(["amount", "count"], "amount", title="Metric")],
                filter_update=trend_filtered,
            ),
            "Insights",
        )
        tabs = SegmentedControl(
            title="Breakdown",
            segments=[
                Segment(
                    "By product",
                    "By product",
                    [Row([_trend(ORDERS, "count"), RichText("Desks bring most of the revenue.")], ratio=[2, 1])],
                ),
                Segment(
                    "By region",
                    "By region",
                    [
                        Column(
                            [
                                Table(ORDERS.groupby("region", as_index=False)["amount"].sum(), title="By region"),
                                RichText("North and east lead."),
                            ],
                            ratio=[3, 1],
                        )
                    ],
                ),
            ],
        )
        page.add_card_to_section(Card("Breakdown", [tabs]), "Insights")
        page.add_card_to_section(
            Card(
                "Actions",
                [
                    Row(
                        [
                            Button(
                                title="Notify team",
                                on_click=notify,
                                confirmation_text="Send a note about these orders to the team?",
                            ),
                            Button(title="Region chart", on_click=region_chart, style=ButtonStyle.SECONDARY),
                            Button(
                                title="Show help",
                                on_click=ContainerToggleCallback(True, HELP_ID),
                                style=ButtonStyle.SECONDARY,
                            ),
                            Button(
                                title="Download orders",
                                on_click=AssetDownloadCallback(
                                    {"asset_id": asset_id, "label": "orders", "type": "dataset"},
                                    "csv",
                                    "text/csv",
                                    "orders",
                                ),
                                style=ButtonStyle.TERTIARY,
                            ),
                        ]
                    ),
                    RichText(
                        "Not sure what is counted? "
                        + RichTextClickable.link("What counts as an order?", {"topic": "orders"}),
                        on_click=explain,
                    ),
                ],
            ),
            "Insights",
        )
        page.add_card_to_section(
            Card(
                "Review",
                [
                    RichText("Look the orders over, then approve them to go on."),
                    Button(title="Approve", on_click=approve),
                ],
                disable_next=True,
            ),
            "Insights",
        )
        page.add_card_to_section(
            Container(
                "Help",
                [RichText("Change the region, tick rows, edit notes; every change shows at once.")],
                _id=HELP_ID,
                on_close=default_container_on_close(HELP_ID),
            ),
            "Insights",
        )
        store.update_page(page)

    def on_run_success(self, store_interface: Any, *args: Any, **kwargs: Any) -> None:
        """After ``run``: note when the page was built."""
        store_interface.save_output(_now(), "explore built at")

    def on_action_success(self, store_interface: Any, *args: Any, **kwargs: Any) -> None:
        """After Next's action: keep the orders as the user left them for the report."""
        store_interface.save_output(_orders(store_interface.get_page()), "reviewed orders")

    async def on_failure(self, store_interface: Any) -> None:
        """When ``run`` or the action raises: nothing to undo here (the hook is shown for completeness)."""

    def on_cancel(self, store_interface: Any) -> None:
        """When the step is cancelled."""


class Report(Step):
    """What the user chose on the previous page."""

    def run(self, flow_metadata: Any) -> None:
        store = StoreInterface(**flow_metadata)
        orders = store.get_input("reviewed orders")
        region = store.get_element_value(EXPLORE, "Region")
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Report",
                [
                    RichText(
                        f"Region **{region}**; {len(orders)} orders worth {orders['amount'].sum():,.2f} $; "
                        f"page built at {store.get_input('explore built at')}."
                    ),
                    Table(orders, title="Reviewed orders", downloadable=True),
                ],
            ),
            "Report",
        )
        store.update_page(page)


flow = Flow(name=FLOW_NAME, description="A page of orders that reacts in place: every kind of callback.")
flow.chain(
    [
        ExploreOrders(
            title=EXPLORE,
            description="Filter, select, edit and drill into orders.",
            parent=FLOW_NAME,
            type=StepType.INPUT,
            page=Page(
                EXPLORE,
                [Section("Overview", []), Section("Orders", []), Section("Insights", [])],
                on_auto_refresh=live_clock,
            ),
        ),
        Report(
            title="Report",
            description="What was chosen.",
            parent=FLOW_NAME,
            type=StepType.RESULTS,
            page=Page("Report", [Section("Report", [])]),
        ),
    ]
)
