"""The input step: one CSV upload."""

from virtualitics_sdk import Card, DataSource, Page, Section, Step, StepType, StoreInterface


class UploadStep(Step):
    """Offer a CSV upload."""

    def run(self, flow_metadata):
        store_interface = StoreInterface(**flow_metadata)
        store_interface.update_progress(5, "Setting up the upload")
        page = store_interface.get_page()
        source = DataSource(title="Dataset", options=["csv"], description="A CSV file with a header row")
        page.add_card_to_section(Card(title="Upload Data", content=[source]), "")
        store_interface.update_page(page)


upload_step = UploadStep(
    title="Upload Data",
    description="Choose the file to look at",
    parent="Inputs",
    type=StepType.INPUT,
    page=Page("Upload Data", [Section("", [])]),
)
