"""A two-step flow that uses StoreInterface's SDK 1.62 forms from inside its steps (module level: importable)."""

from __future__ import annotations

import asyncio

from flowdeck import Card, DataSource, Flow, Page, Section, Step, StepType, StoreInterface, TextInput
from flowdeck.errors import StepStateError

SEEN: dict[str, object] = {}


class Upload(Step):
    """Asks for a table and a name, both with a reference id, and reports progress the SDK's static way."""

    def run(self, flow_metadata):
        SEEN["static"] = StoreInterface.update_progress(40, "static form")
        SEEN["async static"] = asyncio.run(StoreInterface.aupdate_progress(60, "async static form"))
        store = StoreInterface(**flow_metadata)
        page = store.get_page(_out_link=None)
        page.add_card_to_section(
            Card(
                "Inputs",
                [
                    DataSource(title="Sales", options=["csv"], reference_id="sales-ref"),
                    TextInput(title="Analyst", reference_id="analyst-ref"),
                ],
            ),
            "",
        )
        store.update_page(page)


class Report(Step):
    """Reads the first step's inputs by reference id."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        SEEN["analyst"] = store.get_element_value("Upload", elem_reference_id="analyst-ref")
        SEEN["sales"] = store.get_element_value("Upload", "sales-ref")  # the SDK's positional form
        asyncio.run(store.aupdate_progress(90, "instance async form"))


class Leaky(Step):
    """Hands the static method to a thread of its own, which is not the step's code."""

    def run(self, flow_metadata):
        import threading

        errors: list[BaseException] = []

        def report() -> None:
            try:
                StoreInterface.update_progress(10, "from another thread")
            except StepStateError as exc:
                errors.append(exc)

        worker = threading.Thread(target=report)
        worker.start()
        worker.join()
        SEEN["thread error"] = errors[0] if errors else None


sdk_store_flow = Flow(name="SDK store forms", description="StoreInterface's SDK 1.62 forms")
sdk_store_flow.chain(
    [
        Upload(title="Upload", type=StepType.INPUT, page=Page("Upload", [Section("", [])])),
        Report(title="Report", type=StepType.RESULTS),
    ]
)

leaky_flow = Flow(name="Leaky progress", description="Static progress from a thread the step started")
leaky_flow.chain([Leaky(title="Leaky", type=StepType.RESULTS)])
