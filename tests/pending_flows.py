"""A two-step flow whose second step's page is given in its definition (module level: importable)."""

from __future__ import annotations

from flowdeck import Card, Flow, Page, RichText, Section, Step, StoreInterface, TextInput


class Ask(Step):
    """Leaves a note for the next step."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        store.create_future_element(RichText("from Ask", title="Note from Ask"), "Review")


class Review(Step):
    """Adds a card to the page its definition gives."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Added while running", [RichText("ran", title="Ran")]), "Settings")
        store.update_page(page)


def make_flow() -> Flow:
    """Ask → Review; Review's page holds a Threshold input before the step ever runs."""
    review_page = Page("Review", [Section("Settings", [Card("Limits", [TextInput(value="ten", title="Threshold")])])])
    return Flow(name="Pending pages", description="A page given before its step runs").chain(
        [Ask(title="Ask", page=Page("Ask", [Section("Start", [])])), Review(title="Review", page=review_page)]
    )


pending_pages = make_flow()
