import plotly.express as px

from virtualitics_sdk import (
    Card,
    Page,
    PlotlyPlot,
    Section,
    Step,
    StepType,
    StoreInterface,
    Table,
)

from .upload_step import upload_step


class ResultsStep(Step):
    """Displays the uploaded data as a table and chart."""

    def run(self, flow_metadata):
        store_interface = StoreInterface(**flow_metadata)
        page = store_interface.get_page()

        store_interface.update_progress(10, "Loading data...")

        # Retrieve the CSV data uploaded in the previous step
        data = store_interface.get_element_value(upload_step.name, "Dataset")

        store_interface.update_progress(50, "Building visualizations...")

        data_table = Table(data, title="Uploaded Data")
        table_card = Card(title="Data Table", content=[data_table])
        page.add_card_to_section(table_card, "")

        # Show a bar chart of the first two columns if available
        if len(data.columns) >= 2:
            fig = px.bar(
                data.head(10),
                x=data.columns[0],
                y=data.columns[1],
                title="Sample Chart",
            )
            plot = PlotlyPlot(fig=fig, title="Data Chart")
            chart_card = Card(title="Visualization", content=[plot])
            page.add_card_to_section(chart_card, "")

        store_interface.update_page(page)


# Step instance — imported by app.py and chained into the app
results_section = Section("", [])
results_page = Page("Results", [results_section])

results_step = ResultsStep(
    title="Results",
    description="View uploaded data and visualizations",
    parent="Results",
    type=StepType.RESULTS,
    page=results_page,
)
