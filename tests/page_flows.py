"""A four-step flow with every input kind, used by the page tests (module level: importable)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flowdeck import (
    Card,
    DataSource,
    DateTimeRange,
    Dropdown,
    Flow,
    NumericRange,
    Page,
    RichText,
    Section,
    Step,
    StepType,
    StoreInterface,
    Table,
    TextInput,
)

SEEN: dict[str, object] = {}


class Load(Step):
    """Asks for a table, an optional raw notes file and the analyst's name."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Inputs",
                [
                    DataSource(title="Sales data", options=["csv", "xlsx", "json", "parquet", "tsv"]),
                    DataSource(title="Notes file", options=["txt"], raw_upload=True, required=False),
                    TextInput(title="Analyst", required=True),
                ],
            ),
            "Inputs",
        )
        store.update_page(page)


class Configure(Step):
    """Offers the uploaded table's numeric columns and ranges."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        sales = store.get_input("Sales data")
        SEEN["configure_sales"] = sales
        SEEN["configure_runs"] = int(SEEN.get("configure_runs", 0)) + 1
        numeric = [c for c in sales.columns if pd.api.types.is_numeric_dtype(sales[c])]
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Choose",
                [
                    Dropdown(numeric, selected=numeric[0], title="Measure", required=True),
                    Dropdown(list(sales["region"].unique()), multiselect=True, title="Regions", required=False),
                    NumericRange(0, 1000, title="Amount range"),
                    DateTimeRange(dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 31), title="Period"),
                ],
            ),
            "Choose",
        )
        store.update_page(page)
        store.create_future_element(RichText("made by Configure", title="Note from configure"), "Report")


class Compute(Step):
    """Totals the chosen measure; its own action records that it ran."""

    overrides_action = True

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        sales = store.get_input("Sales data")
        measure = store.get_element_value("Configure", "Measure")
        low, high = store.get_element_value("Configure", "Amount range")
        regions = store.get_element_value("Configure", "Regions")
        if regions:
            sales = sales[sales["region"].isin(regions)]
        kept = sales[sales[measure].between(low, high)]
        total = float(kept[measure].sum())
        SEEN["compute_measure"] = measure
        store.save_output(total, "total")
        store.save_output(measure, "measure")
        page = store.get_page()
        page.add_card_to_section(Card("Result", [Table(kept, title="Kept rows")]), "Result")
        store.update_page(page)

    def action_override(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        SEEN["action_is_action"] = flow_metadata["is_action"]
        store.save_output("action ran", "action marker")


class Report(Step):
    """Reads everything earlier steps left."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        SEEN["report"] = {
            "total": store.get_input("total"),
            "measure": store.get_input("measure"),
            "marker": store.get_input("action marker"),
            "analyst": store.get_element_value("Load", "Analyst"),
            "notes": store.get_element_value("Load", "Notes file"),
            "period": store.get_element_value("Configure", "Period"),
            "page_has_future": store.get_page().get_element_by_title("Note from configure") is not None,
        }


def make_flow() -> Flow:
    """Load → Configure → Compute → Report."""
    return Flow(name="Sales report", description="Every input kind").chain(
        [
            Load(title="Load", page=Page("Load", [Section("Inputs", [])])),
            Configure(title="Configure", page=Page("Configure", [Section("Choose", [])])),
            Compute(title="Compute", type=StepType.RESULTS, page=Page("Compute", [Section("Result", [])])),
            Report(title="Report", type=StepType.DASHBOARD, page=Page("Report", [Section("Summary", [])])),
        ]
    )


sales_report = make_flow()
