"""The cost of a step in database work: durable commits and statements per step, reads of a small input.

``benchmarks/steps.py`` times these; here the counts are bounded so that they cannot creep back up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

import flowdeck
from flowdeck import Card, Flow, Page, Section, Step, StepType, StoreInterface, TextInput
from flowdeck.flow import loader
from flowdeck.storage.deployment import get_storage

pytestmark = pytest.mark.backends("sqlite", "postgres")

#: Durable commits a step may cost (``start`` + ``next()``), the bound of issue 16.
MAX_COMMITS_PER_STEP = 10
#: SQL statements a step of this flow may cost (12.25 on SQLite and 13.5 on PostgreSQL today).
MAX_STATEMENTS_PER_STEP = 16


class Ask(Step):
    """An input step with a required text input."""

    def run(self, flow_metadata: Any) -> None:
        """Show the input."""
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Input", [TextInput(title="Word")]), "Main")
        store.update_page(page)


class Save(Step):
    """Saves a small value."""

    def run(self, flow_metadata: Any) -> None:
        """Save the word, upper-cased."""
        store = StoreInterface(**flow_metadata)
        store.save_output({"word": store.get_element_value("Ask", "Word").upper()}, "word")


class Nothing(Step):
    """Does nothing."""

    def run(self, flow_metadata: Any) -> None:
        """Nothing to do."""


FLOW = Flow(name="Overhead", description="Steps whose database work is counted.").chain(
    [
        Ask(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
        Save(title="Save", type=StepType.RESULTS),
        Nothing(title="One", type=StepType.RESULTS),
        Nothing(title="Two", type=StepType.RESULTS),
    ]
)


class Counts:
    """Statements, commits and read transactions (rollbacks) on the deployment's engines."""

    statements = commits = reads = 0


@contextmanager
def listening(**listeners: Any) -> Iterator[None]:
    """Engine event listeners (event name = function) on every engine of the deployment's database."""
    engines = get_storage().db.engines
    for engine in engines:
        for name, fn in listeners.items():
            sa.event.listen(engine, name, fn)
    try:
        yield
    finally:
        for engine in engines:
            for name, fn in listeners.items():
                sa.event.remove(engine, name, fn)


@contextmanager
def counting() -> Iterator[Counts]:
    """Count the database work done inside the block."""
    counts = Counts()

    def statement(*_: Any) -> None:
        counts.statements += 1

    def commit(*_: Any) -> None:
        counts.commits += 1

    def rollback(*_: Any) -> None:
        counts.reads += 1

    with listening(before_cursor_execute=statement, commit=commit, rollback=rollback):
        yield counts


def test_a_step_costs_few_commits_and_statements(deployment: str) -> None:
    flowdeck.start(FLOW, user="ann")  # the first run opens connections and fills caches
    with counting() as steps:
        run = flowdeck.start(FLOW, user="ann")
    run.set_value("Word", "hello")
    with counting() as moves:
        for _ in range(len(FLOW.steps)):
            run.next()
    assert run.state == "complete"
    assert StoreInterface(run.flow_id, user="ann").get_input("word", step_name="Save") == {"word": "HELLO"}

    commits = (steps.commits + moves.commits) / len(FLOW.steps)
    statements = (steps.statements + moves.statements) / len(FLOW.steps)
    assert commits <= MAX_COMMITS_PER_STEP, (commits, statements)
    assert statements <= MAX_STATEMENTS_PER_STEP, (commits, statements)
    # Each next() is one claim, one transition to the following step and one "step ran": its
    # default action and hooks that are not overridden cost no write.
    assert moves.commits <= 3 * len(FLOW.steps) + 2, moves.commits


def test_a_small_get_input_is_one_read(deployment: str) -> None:
    run = flowdeck.start(Flow(name="Pair", description="").chain([Nothing(title="A"), Nothing(title="B")]), user="ann")
    StoreInterface(run.flow_id, user="ann", step_name="A").save_output([1, 2, 3], "small")
    run.next()
    reader = StoreInterface(run.flow_id, user="ann", step_name="B")
    reader.get_input("small")
    with counting() as counts:
        assert reader.get_input("small") == [1, 2, 3]
        with pytest.raises(
            flowdeck.NotFoundError, match=r"no output 'missing' in the in-link of step 'B'.*\['small'\]"
        ):
            reader.get_input("missing")
    assert (counts.commits, counts.reads) == (0, 2)
    # A hit is one query: the run, its steps and each step's newest row of the name; a miss reads the
    # names there too.
    assert counts.statements == 3


def test_the_embedded_database_commits_durably(embedded: Any) -> None:
    with get_storage().db.write() as conn:
        mode = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert (mode, journal) == (2, "wal")  # FULL: a committed save survives a power cut too


def test_the_flow_reference_is_remembered_while_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    import test_step_overhead as here

    flow = FLOW
    assert loader.flow_reference(flow) == "test_step_overhead:FLOW"
    assert loader.flow_reference(flow) == "test_step_overhead:FLOW"
    monkeypatch.setattr(here, "FLOW", None)
    monkeypatch.setattr(here, "RENAMED", flow, raising=False)
    assert loader.flow_reference(flow) == "test_step_overhead:RENAMED"  # looked up again

    def local() -> Flow:
        return Flow(name="Local", description="").chain([Nothing(title="A")])

    inner = local()
    assert loader.flow_reference(inner) is None
    assert loader.flow_reference(inner) is None


class Hooked(Step):
    """Does nothing, but has an action hook."""

    calls: list[str] = []

    def run(self, flow_metadata: Any) -> None:
        """Nothing to do."""

    def on_action_success(self, store: StoreInterface) -> None:
        """Record the call."""
        Hooked.calls.append("called")


class Boom(Step):
    """Raises the first time it runs."""

    runs: list[int] = []

    def run(self, flow_metadata: Any) -> None:
        """Fail once."""
        Boom.runs.append(1)
        if len(Boom.runs) == 1:
            raise RuntimeError("boom once")


class Overridden(Step):
    """Does nothing, but overrides its action."""

    actions: list[str] = []

    def run(self, flow_metadata: Any) -> None:
        """Nothing to do."""

    def action_override(self, flow_metadata: Any) -> None:
        """Record the call."""
        Overridden.actions.append(flow_metadata["step_name"])


def test_a_next_with_nothing_to_do_is_one_transaction_before_the_following_step_runs(deployment: str) -> None:
    Boom.runs.clear()
    flow = Flow(name="Plain", description="").chain(
        [Nothing(title="One", type=StepType.RESULTS), Boom(title="Two"), Nothing(title="Three")]
    )
    flowdeck.start(flow, user="ann")  # connections and caches
    with counting() as counts:
        run = flowdeck.start(flow, user="ann")
    assert counts.commits == 3, counts.commits  # the run recorded, claimed with its first step begun, run
    Boom.runs.clear()
    with counting() as counts, pytest.raises(flowdeck.StepFailedError, match="boom once"):
        run.next()
    # The claim completed "One" and began "Two" in one commit; "Two" failing is the second.
    assert counts.commits == 2 and counts.statements <= 9, (counts.commits, counts.statements)
    status = run.status()
    assert [(s.name, s.state, s.attempt) for s in status.steps] == [
        ("One", "complete", 1),
        ("Two", "failed", 1),
        ("Three", "pending", 0),
    ]
    assert status.state == "failed" and run.current_step == "Two"
    with counting() as counts:
        run.rerun()  # the claim begins the new attempt; the step having run is the second commit
    assert counts.commits == 2, counts.commits
    assert [(s.name, s.state, s.attempt) for s in run.status().steps][1] == ("Two", "awaiting_input", 2)
    with counting() as counts:
        run.next()
    assert counts.commits == 2
    with counting() as counts:
        run.next()  # the last step: the run completes in the claim
    assert counts.commits == 1 and run.state == "complete" and run.current_step is None
    assert [s.state for s in run.status().steps] == ["complete"] * 3


def test_a_next_with_an_action_or_hook_still_runs_it_once(deployment: str) -> None:
    Hooked.calls.clear()
    Overridden.actions.clear()
    flow = Flow(name="Acting", description="").chain(
        [Hooked(title="Hooked"), Overridden(title="Overridden", overrides_action=True), Nothing(title="Last")]
    )
    run = flowdeck.start(flow, user="ann")
    with counting() as counts:
        run.next()
    assert len(Hooked.calls) == 1 and counts.commits == 3  # claimed, then moved on after the hook, step ran
    run.next()
    assert Overridden.actions == ["Overridden"]
    assert [s.state for s in run.status().steps] == ["complete", "complete", "awaiting_input"]


class Announce(Step):
    """Leaves a note for the last step (a future element)."""

    def run(self, flow_metadata: Any) -> None:
        """Create the future element."""
        StoreInterface(**flow_metadata).create_future_element(flowdeck.RichText("later", title="Note"), "Last")


class Statements:
    """The SQL statements run on the deployment's engine while listening."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append(statement)

    def reading_future_elements(self) -> int:
        return sum(
            s.lstrip().upper().startswith("SELECT") and "FROM future_elements" in s and "EXISTS" not in s
            for s in self.seen
        )

    def dropping_future_elements(self) -> int:
        return sum(s.lstrip().upper().startswith("DELETE FROM FUTURE_ELEMENTS") for s in self.seen)


def test_future_elements_reach_a_step_begun_in_the_claim(deployment: str) -> None:
    """Whether elements wait for a step is read with the run: its page gets them; a step with none skips the query."""
    flow = Flow(name="Later", description="").chain(
        [
            Announce(title="First", type=StepType.RESULTS),
            Nothing(title="Middle", type=StepType.RESULTS),
            Nothing(title="Last", type=StepType.RESULTS, page=Page("Last", [Section("Main", [])])),
        ]
    )
    run = flowdeck.start(flow, user="ann")
    statements = Statements()
    with listening(before_cursor_execute=statements):
        run.next()  # Middle: nothing waits for it
        assert statements.reading_future_elements() == 0
        run.next()  # Last: the note waits for it
        assert statements.reading_future_elements() == 1
        assert statements.dropping_future_elements() == 0  # a first attempt has made none before
        run.rerun()  # Last again, begun in the claim too: the note comes back
        assert statements.reading_future_elements() == 2
        assert statements.dropping_future_elements() == 1  # what Last's first attempt made goes
    assert run.current_step == "Last"
    page = StoreInterface(run.flow_id, user="ann", step_name="Last").get_page()
    assert [e.title for s in page.sections for c in s.content for e in c.content] == ["Note"]


class AskRequired(Step):
    """An input step whose text input must be filled."""

    def run(self, flow_metadata: Any) -> None:
        """Show the input."""
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Input", [TextInput(title="Word", required=True)]), "Main")
        store.update_page(page)


def test_next_checks_the_newest_page_read_with_the_run(deployment: str) -> None:
    """The page next() checks comes with the run in the claim's first query: no query of its own, and
    it is the newest version of the current attempt's page (the step's update, then a re-run's)."""
    flow = Flow(name="Gated", description="").chain(
        [
            AskRequired(title="Ask", type=StepType.INPUT, page=Page("Ask", [Section("Main", [])])),
            Save(title="Save", type=StepType.RESULTS),
            Nothing(title="One", type=StepType.RESULTS),
        ]
    )
    run = flowdeck.start(flow, user="ann")
    statements = Statements()

    def press_next() -> None:
        with listening(before_cursor_execute=statements):
            run.next()

    # The initial page has no input; the version Ask stored has the required "Word".
    with pytest.raises(flowdeck.MissingInputError, match="'Word'"):
        press_next()
    run.rerun()  # attempt 2 stores its page again: the check reads that attempt's
    with pytest.raises(flowdeck.MissingInputError, match="'Word'"):
        press_next()
    run.set_value("Word", "hello")
    press_next()
    assert run.current_step == "Save" and run.status().steps[0].state == "complete"
    # The three claims read no page of their own (before, each did); the one read left is Save's
    # run() reading Ask's value.
    reads_of_pages = [s for s in statements.seen if s.lstrip().upper().startswith("SELECT PAGES.")]
    assert len(reads_of_pages) == 1, reads_of_pages
    assert StoreInterface(run.flow_id, user="ann").get_input("word", step_name="Save") == {"word": "HELLO"}
