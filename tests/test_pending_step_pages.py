"""A step that has not run yet: its page is the one its definition gives (DESIGN §4 get_page)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import flowdeck
import pending_flows
from fixtures.celery_support import worker_env
from flowdeck import Flow, Page, Section, Step, StoreInterface
from flowdeck.errors import NotFoundError


def _elements(page: Page) -> list[str]:
    return [element.title for element in page.elements]


def test_a_pending_step_gives_its_initial_page_with_the_future_elements_meant_for_it(deployment: str) -> None:
    run = flowdeck.start(pending_flows.pending_pages, user="alice")
    assert run.current_step == "Ask"
    store = StoreInterface(run.flow_id, user="alice", step_name="Review")

    page = store.get_page()
    assert page.title == "Review"
    assert [section.title for section in page.sections] == ["Settings"]
    assert _elements(page) == ["Threshold", "Note from Ask"]
    assert store.get_element("Review", "Threshold").value == "ten"
    assert store.get_element_value("Review", "Threshold") == "ten"

    # Reading it stores nothing and changes nothing: the definition's page is untouched, and the
    # step, once it runs, starts from it as every step does.
    page.add_card_to_section(flowdeck.Card("Scribble", [flowdeck.RichText("x", title="Scribble")]), "Settings")
    assert _elements(store.get_page()) == ["Threshold", "Note from Ask"]
    assert _elements(pending_flows.pending_pages.step("Review").page) == ["Threshold"]
    run.next()
    assert _elements(store.get_page()) == ["Threshold", "Note from Ask", "Ran"]


def test_another_process_loads_the_flow_to_give_a_pending_steps_page(deployment: str) -> None:
    run = flowdeck.start(pending_flows.pending_pages, user="alice")
    script = (
        "import json, sys\n"
        "from flowdeck import StoreInterface\n"
        "store = StoreInterface(sys.argv[1], user='alice', step_name='Review')\n"
        "print(json.dumps([e.title for e in store.get_page().elements]))\n"
    )
    env = worker_env(FLOWDECK_EXECUTOR="inline")
    done = subprocess.run(
        [sys.executable, "-c", script, run.flow_id], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["Threshold", "Note from Ask"]


class _Only(Step):
    def run(self, flow_metadata: dict) -> None:
        pass


def test_a_flow_that_cannot_be_loaded_leaves_a_clear_error(embedded: object) -> None:
    # Defined in a function, so no other process (and no reference) can load it once forgotten.
    second = _Only(title="Two", page=Page("Two", [Section("S", [])]))
    flow = Flow(name="Local", description="Defined in a test").chain([_Only(title="One"), second])
    run = flowdeck.start(flow, user=None)
    from flowdeck.flow import loader

    with loader._lock:
        loader._by_run.pop(run.flow_id)
    store = StoreInterface(run.flow_id, step_name="Two")
    with pytest.raises(NotFoundError, match=r"step 'Two' of run '\w+' has not run yet, and the flow that defines"):
        store.get_page()
    assert store.get_element("Two", "anything", quiet=True) is None
