"""Customer churn: upload customer data, choose what to analyse, see churn by segment.

Run it from the command line (the README's demo command)::

    flowdeck run examples/churn/flow.py --user demo \
        --upload "Customer data=examples/churn/customers.csv" \
        --set "Target column=churned" --set "Segment by=plan"

or open it in the browser with ``flowdeck serve --flows examples/churn/flow.py``.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from flowdeck import (
    Card,
    DataSource,
    Dropdown,
    Flow,
    InfographData,
    Infographic,
    NumericRange,
    Page,
    PlotlyPlot,
    RichText,
    Section,
    Step,
    StepType,
    StoreInterface,
    Table,
)

FLOW_NAME = "Customer churn"


class UploadCustomers(Step):
    """Ask for the customer table."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "About this flow",
                [
                    RichText(
                        "Upload one row per customer with a **0/1 churn column**. The next step lets you pick "
                        "the column to explain and how to segment customers.",
                        title="How it works",
                    )
                ],
            ),
            "Data",
        )
        page.add_card_to_section(
            Card("Customer data", [DataSource(title="Customer data", options=["csv", "xlsx", "parquet"])]),
            "Data",
        )
        store.update_page(page)


class ChooseAnalysis(Step):
    """Offer the columns of the uploaded table as targets and segments."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        customers = store.get_input("Customer data")
        binary = [c for c in customers.columns if set(customers[c].dropna().unique()) <= {0, 1}]
        if not binary:
            raise ValueError("the customer table has no 0/1 column to use as the churn target")
        segments = [c for c in customers.columns if c not in binary and customers[c].nunique() <= 20]
        numeric = [c for c in customers.columns if pd.api.types.is_numeric_dtype(customers[c]) and c not in binary]
        tenure = "tenure_months" if "tenure_months" in customers.columns else (numeric[0] if numeric else None)

        page = store.get_page()
        inputs = [
            Dropdown(
                binary,
                selected=binary[0],
                title="Target column",
                required=True,
                description="The 0/1 column that says whether a customer left.",
            ),
            Dropdown(
                segments,
                selected=segments[0] if segments else None,
                title="Segment by",
                required=True,
                description="Customers are grouped by this column.",
            ),
        ]
        if tenure is not None:
            low, high = float(customers[tenure].min()), float(customers[tenure].max())
            inputs.append(
                NumericRange(
                    low,
                    high,
                    title="Tenure range",
                    description=f"Keep customers whose {tenure} is in this range.",
                )
            )
            store.save_output(tenure, "tenure column")
        page.add_card_to_section(Card("What to analyse", inputs), "Analysis")
        page.add_card_to_section(Card("Preview", [Table(customers.head(20), title="First 20 customers")]), "Analysis")
        store.update_page(page)


class AnalyseChurn(Step):
    """Churn rate by segment, as a table, a plot and a headline figure."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        customers = store.get_input("Customer data")
        target = store.get_element_value("Choose analysis", "Target column")
        segment = store.get_element_value("Choose analysis", "Segment by")
        store.update_progress(10, "filtering customers")
        if store.has_input("tenure column"):
            column = store.get_input("tenure column")
            low, high = store.get_element_value("Choose analysis", "Tenure range")
            customers = customers[customers[column].between(low, high)]
        store.update_progress(40, f"grouping {len(customers):,} customers by {segment}")
        by_segment = (
            customers.groupby(segment, observed=True)[target]
            .agg(customers="count", churned="sum", churn_rate="mean")
            .reset_index()
            .sort_values("churn_rate", ascending=False, ignore_index=True)
        )
        by_segment["churn_rate"] = by_segment["churn_rate"].round(4)
        store.save_output(by_segment, "Churn by segment")
        store.update_progress(70, "drawing the chart")
        figure = go.Figure(
            go.Bar(x=by_segment[segment].astype(str), y=by_segment["churn_rate"], marker_color="#2563eb")
        )
        figure.update_layout(
            title=f"Churn rate by {segment}",
            yaxis_tickformat=".0%",
            xaxis_title=segment,
            yaxis_title="churn rate",
        )
        overall = float(customers[target].mean()) if len(customers) else 0.0
        store.save_output(overall, "Overall churn rate")
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Headline",
                [
                    Infographic(
                        "Overall churn",
                        data=[
                            InfographData(
                                "Overall churn",
                                str(round(overall * 100, 1)),
                                f"of {len(customers):,} customers",
                                unit="%",
                            )
                        ],
                    ),
                ],
            ),
            "Results",
        )
        page.add_card_to_section(
            Card(
                "Churn by segment",
                [
                    PlotlyPlot(figure, title="Churn rate chart"),
                    Table(by_segment, title="Churn by segment table", downloadable=True),
                ],
            ),
            "Results",
        )
        store.update_page(page)
        store.update_progress(100, "done")


class Summary(Step):
    """A short written summary with a link back to the chart."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        by_segment = store.get_input("Churn by segment")
        overall = store.get_input("Overall churn rate")
        segment = by_segment.columns[0]
        worst = by_segment.iloc[0]
        chart = store.get_element("Analyse churn", "Churn rate chart")
        link = store.create_element_link(chart, step_name="Analyse churn")
        text = (
            f"### Summary\n\nOverall churn is **{overall:.1%}**. The segment with the highest churn is "
            f"**{segment} = {worst[segment]}** at **{worst['churn_rate']:.1%}** "
            f"({int(worst['churned'])} of {int(worst['customers'])} customers).\n\n"
            f"[See the chart]({link})"
        )
        page = store.get_page()
        page.add_card_to_section(Card("Summary", [RichText(text, title="Findings")]), "Summary")
        store.update_page(page)


flow = Flow(name=FLOW_NAME, description="Find which customer segments churn most.")
flow.chain(
    [
        UploadCustomers(
            title="Upload customers",
            name="Upload customers",
            type=StepType.INPUT,
            page=Page("Upload customers", [Section("Data", [])]),
        ),
        ChooseAnalysis(
            title="Choose analysis",
            type=StepType.INPUT,
            page=Page("Choose analysis", [Section("Analysis", [])]),
        ),
        AnalyseChurn(
            title="Analyse churn", type=StepType.RESULTS, page=Page("Analyse churn", [Section("Results", [])])
        ),
        Summary(title="Summary", type=StepType.DASHBOARD, page=Page("Summary", [Section("Summary", [])])),
    ]
)
