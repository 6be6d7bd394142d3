from virtualitics_sdk import (
    Card,
    DataSource,
    Page,
    Section,
    Step,
    StepType,
    StoreInterface,
)


class UploadStep(Step):
    """Accepts a CSV file upload and displays it for review."""

    def run(self, flow_metadata):
        store_interface = StoreInterface(**flow_metadata)
        page = store_interface.get_page()

        store_interface.update_progress(10, "Preparing upload form...")

        upload_card = Card(
            title="Upload Data",
            content=[
                DataSource(
                    title="Dataset",
                    options=["csv"],
                    description="Upload a CSV file to get started",
                )
            ],
        )

        page.add_card_to_section(upload_card, "")
        store_interface.update_page(page)


# Step instance — imported by app.py and chained into the app
upload_section = Section("", [])
upload_page = Page("Upload Data", [upload_section])

upload_step = UploadStep(
    title="Upload Data",
    description="Upload a CSV file",
    parent="Inputs",
    type=StepType.INPUT,
    page=upload_page,
)
