"""Flows for the headless-run, trigger and notification tests (module level: importable by name)."""

from __future__ import annotations

import os
import threading

from flowdeck import Card, DataSource, Dropdown, Flow, Page, RichText, Section, Step, StepType, StoreInterface


class Load(Step):
    """Asks for a sales table and the column to group by."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Inputs",
                [
                    DataSource(title="Sales", options=["csv"]),
                    Dropdown(["region", "product"], title="Group by", required=True),
                ],
            ),
            "",
        )
        store.update_page(page)


class Totals(Step):
    """Adds up the amounts by the chosen column."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        sales = store.get_input("Sales")
        by = store.get_element_value("Load", "Group by")
        store.save_output(sales.groupby(by)["amount"].sum(), "totals")


sales_totals = Flow(name="Sales totals", description="Totals by a chosen column")
sales_totals.chain(
    [
        Load(title="Load", type=StepType.INPUT, page=Page("Load", [Section("", [])])),
        Totals(title="Totals", type=StepType.RESULTS),
    ]
)


class Boom(Step):
    """Always fails, with a recognisable error."""

    def run(self, flow_metadata):
        raise RuntimeError("the warehouse is on fire")


failing = Flow(name="Failing", description="Its only step raises")
failing.chain([Boom(title="Boom", type=StepType.RESULTS)])


class Note(Step):
    """Needs nothing; saves a note so a test can see that it ran."""

    def run(self, flow_metadata):
        StoreInterface(**flow_metadata).save_output("ran", "note")


one_step = Flow(name="One step", description="Runs one step that needs no input")
one_step.chain([Note(title="Note", type=StepType.RESULTS)])

#: Set to let the steps of the "Waits" flow end (each waits at most 30 s).
RELEASE = threading.Event()


class Wait(Step):
    """A long step: waits until RELEASE is set."""

    def run(self, flow_metadata):
        RELEASE.wait(30)
        StoreInterface(**flow_metadata).save_output("released", "note")


waits = Flow(name="Waits", description="One long step that waits to be released")
waits.chain([Wait(title="Wait", type=StepType.RESULTS)])


class AskMode(Step):
    """Records the process it runs in and asks for a mode."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        store.save_output(os.getpid(), "ask pid")
        page = store.get_page()
        page.add_card_to_section(Card("Inputs", [Dropdown(["fast", "slow"], title="Mode", required=True)]), "")
        store.update_page(page)


class Report(Step):
    """Records the process it runs in and the mode chosen."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        store.save_output(os.getpid(), "report pid")
        store.save_output(store.get_element_value("Ask mode", "Mode"), "mode")


where = Flow(name="Where", description="Two steps that record the process they run in")
where.chain(
    [
        AskMode(title="Ask mode", type=StepType.INPUT, page=Page("Ask mode", [Section("", [])])),
        Report(title="Report", type=StepType.RESULTS),
    ]
)


async def note_firing(store_interface, input_data, tag="", **_):
    """A trigger's page-update callback: adds a card naming the firing and the run it started."""
    page = store_interface.get_page()
    started = input_data["run_id"]
    page.add_card_to_section(Card(f"Fired {tag}", [RichText(f"{input_data['firing_key']} started {started}")]), "")
    store_interface.update_page(page)
