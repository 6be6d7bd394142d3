"""What one trivial callback costs the database: statements and durable commits (DESIGN §10).

A page update that reads the page, changes a card and stores the page is claimed and read in one
transaction and stored, freed and announced (the run's ``callback`` notice) in a second one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

import callback_flows as cf
import flowdeck
from flowdeck.auth.users import resolve_principal
from flowdeck.errors import CallbackError
from flowdeck.flow.callbacks import CallbackEvent, fire
from flowdeck.flow.executors import busy_action
from flowdeck.storage.deployment import get_storage
from flowdeck.store import notices as notice_service
from flowdeck.store import pages as page_service
from flowdeck.store import runs as run_service

pytestmark = pytest.mark.backends("sqlite", "postgres")

#: At most this many statements for a trivial page update (claim 7, store + free + notice 4).
MAX_STATEMENTS = 11


@contextmanager
def _counting() -> Iterator[dict[str, int]]:
    engines = get_storage().db.engines
    counts = {"statements": 0, "commits": 0}

    def statement(*_: object) -> None:
        counts["statements"] += 1

    def commit(*_: object) -> None:
        counts["commits"] += 1

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", statement)
        sa.event.listen(engine, "commit", commit)
    try:
        yield counts
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", statement)
            sa.event.remove(engine, "commit", commit)


def _document(run: flowdeck.FlowRun) -> str:
    view = run_service.load_run(run.flow_id, resolve_principal("alice"))
    return page_service.page_document(view, view.current_step or "")


def test_a_trivial_page_update_takes_two_commits_and_few_statements(deployment: str) -> None:
    run = flowdeck.start(cf.callbacks_flow, user="alice")
    who = resolve_principal("alice")
    notices_before = notice_service.last_notice_id(run.flow_id)
    with _counting() as counts:
        outcome = fire(run.flow_id, who, CallbackEvent("update_card", "Summary"), notify=True)
    assert [card["title"] for card in outcome.changed_cards] == ["Summary"]
    assert counts["commits"] == 2, counts
    assert counts["statements"] <= MAX_STATEMENTS, counts
    # the page was stored, the run is free, the notice is there
    assert "Updated by alice" in _document(run)
    assert busy_action(run.flow_id) is None
    assert notice_service.last_notice_id(run.flow_id) > notices_before

    # a failing callback: the claim, then freeing the run; the page is exactly as it was
    before = _document(run)
    with _counting() as counts, pytest.raises(CallbackError, match="raised"):
        fire(run.flow_id, who, CallbackEvent("click", "Fail"))
    assert counts["commits"] == 2, counts
    assert _document(run) == before
    assert json.loads(before)["title"]
