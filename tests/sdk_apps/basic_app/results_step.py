"""The results step: the uploaded table, and a bar chart of its first two columns."""

import plotly.express as px

from virtualitics_sdk import Card, Page, PlotlyPlot, Section, Step, StepType, StoreInterface, Table

from .upload_step import upload_step


class ResultsStep(Step):
    """Show what was uploaded."""

    def run(self, flow_metadata):
        store_interface = StoreInterface(**flow_metadata)
        page = store_interface.get_page()
        store_interface.update_progress(20, "Reading the upload")
        frame = store_interface.get_element_value(upload_step.name, "Dataset")
        page.add_card_to_section(Card(title="Data Table", content=[Table(frame, title="Uploaded Data")]), "")
        store_interface.update_progress(60, "Drawing the chart")
        if frame.shape[1] >= 2:
            x, y = frame.columns[0], frame.columns[1]
            figure = px.bar(frame.head(10), x=x, y=y, title=f"{y} by {x}")
            page.add_card_to_section(
                Card(title="Visualization", content=[PlotlyPlot(fig=figure, title="Data Chart")]), ""
            )
        store_interface.update_page(page)


results_step = ResultsStep(
    title="Results",
    description="The table and a chart",
    parent="Results",
    type=StepType.RESULTS,
    page=Page("Results", [Section("", [])]),
)
