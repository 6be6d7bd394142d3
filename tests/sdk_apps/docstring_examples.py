"""The SDK's docstring examples (App, Card, Dropdown, DateTimeRange, Page) assembled into a flow.

Written only against ``virtualitics_sdk``, as a flow writer following the SDK's documentation would.
"""

from datetime import datetime

import plotly.express as px

from virtualitics_sdk import (
    App,
    Card,
    DataSource,
    DateTimeRange,
    Dropdown,
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
from virtualitics_sdk.types.callbacks import page_update_callback


@page_update_callback
def updater(store_interface: StoreInterface):
    page = store_interface.get_page()
    min_range = datetime(2020, 6, 27, 12)
    max_range = datetime(2025, 1, 27, 12)
    date_range = DateTimeRange(
        min_range=min_range, max_range=max_range, title="Date Range Title", description="date-description"
    )
    page.replace_content_in_section([date_range], "Ex Section", "Card Title")
    store_interface.update_page(page)


class UploadStep(Step):
    def run(self, flow_metadata):
        store_interface = StoreInterface(**flow_metadata)
        page = store_interface.get_page()
        page.add_card_to_section(Card("Data", [DataSource("Sales", ["csv"], "", "The sales to chart")]), "")
        dropdown_options = ["a", "b", "c"]
        single_selection_dropdown = Dropdown(
            options=dropdown_options, multiselect=False, title="Single Selection Dropdown", selected=["a"]
        )
        multiple_selection_dropdown = Dropdown(
            options=dropdown_options, multiselect=True, title="Multiple Selection Dropdown", selected=["a", "b"]
        )
        card = Card(
            title="Card Title",
            content=[single_selection_dropdown, multiple_selection_dropdown],
            filter_update=updater,
        )
        page.add_card_to_section(card, "Ex Section")
        new_drop = Dropdown(options={"Rows": "rows", "Columns": "columns"}, selected=["Rows"], title="Orientation")
        num_range = NumericRange(0, 100, 10, 90, title="Percent range")
        page.add_card_to_section(Card("Card Two", [new_drop, num_range], description="Description"), "Ex Section")
        store_interface.update_page(page)


class ResultsStep(Step):
    def run(self, flow_metadata):
        store_interface = StoreInterface(**flow_metadata)
        df_table = store_interface.get_element_value("Upload", "Sales")
        orientation = store_interface.get_element_value("Upload", "Orientation")
        current_page = store_interface.get_page()
        table = Table(df_table, title="Uploaded Data")
        current_page.add_content_to_section(table, section_title="Section Title")
        fig = px.bar(df_table, x=df_table.columns[0], y=df_table.columns[1], title="Sales chart")
        current_page.add_content_to_section(
            [PlotlyPlot(fig=fig, title="Sales plot"), RichText(content=f"Oriented by **{orientation}**.")],
            section_title="Section Title",
            card_title="Chart",
        )
        store_interface.update_page(current_page)


tile_image_link = "https://example-image.jpeg"
example_flow = App(name="Example App", description="Simple example for using App class", image_path=tile_image_link)
example_flow.chain(
    [
        UploadStep("Upload", "Upload and choose", "Inputs", StepType.INPUT, Page("Upload", [Section("", [])])),
        ResultsStep(
            "Results",
            "Table and chart",
            "Results",
            StepType.RESULTS,
            Page("Results", [Section("Section Title", [])]),
        ),
    ]
)
