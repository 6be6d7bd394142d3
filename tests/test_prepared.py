"""The lifecycle's hot statements, run straight on SQLite's driver, behave as through SQLAlchemy."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowdeck
from flowdeck import Flow, Page, Section, Step, StoreInterface
from flowdeck.auth.users import resolve_principal
from flowdeck.storage import prepared
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import pages as page_records
from flowdeck.storage.records import runs as run_records
from flowdeck.storage.records import users as user_records
from flowdeck.storage.records._util import as_utc
from flowdeck.storage.schema import steps
from flowdeck.store.runs import read_run
from test_step_overhead import listening


class Saves(Step):
    """Saves a frame-free output and a number."""

    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        store = StoreInterface(**flow_metadata)
        store.save_output({"rows": 3}, "summary")
        store.save_output(7, "count")


class Reads(Step):
    """Reads what the step before saved."""

    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        StoreInterface(**flow_metadata).get_input("summary")


def _run() -> str:
    flow = Flow(name="prepared", description="").chain(
        [
            Saves(title="first", type="results", page=Page("First", [Section("Main", [])])),
            Reads(title="second", type="results", page=Page("Second", [Section("Main", [])])),
            Saves(title="third", type="results", page=Page("Third", [Section("Main", [])])),
        ]
    )
    run = flowdeck.start(flow, user="ana")
    run.next()
    return run.flow_id


@contextmanager
def _statements_watched() -> Iterator[list[str]]:
    """Every statement run on the deployment's engines while inside (a listener forces SQLAlchemy's path)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    with listening(before_cursor_execute=record):
        yield seen


def _as_plain(rows: list[Any]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    return [(tuple(row), dict(row._mapping)) for row in rows]


QUERIES = [
    pytest.param(lambda c, r: run_records.get_run_with_steps(c, r), id="run with steps"),
    pytest.param(lambda c, r: run_records.get_run_with_steps(c, r, current_page=True), id="with current page"),
    pytest.param(lambda c, r: run_records.get_run_with_steps(c, r, output="summary"), id="with an output"),
    pytest.param(lambda c, r: run_records.get_run_with_steps(c, r, output="nothing"), id="with a missing output"),
    pytest.param(lambda c, r: (run_records.get_run(c, r),), id="run row"),
]


@pytest.mark.parametrize("query", QUERIES)
def test_rows_read_on_the_driver_equal_sqlalchemys(embedded: Path, query: Any) -> None:
    run_id = _run()
    db = get_storage().db
    with db.read() as conn:
        fast = query(conn, run_id)
    with _statements_watched() as seen, db.read() as conn:
        slow = query(conn, run_id)
    assert seen, "with a listener attached the statement goes through SQLAlchemy"
    fast_rows = [fast[0], *fast[1]] if len(fast) == 2 else list(fast)
    slow_rows = [slow[0], *slow[1]] if len(slow) == 2 else list(slow)
    assert _as_plain(fast_rows) == _as_plain(slow_rows)
    # Typed as SQLAlchemy types them: times are datetimes, flags booleans, not SQLite's text and 0/1.
    run = fast_rows[0]
    assert isinstance(run.created_at, dt.datetime)
    if "step__awaits_elements" in run._mapping:
        assert all(isinstance(r.step__awaits_elements, bool) for r in fast_rows)


def test_the_run_view_is_the_same_either_way(embedded: Path) -> None:
    run_id = _run()
    who = resolve_principal("ana")
    db = get_storage().db
    with db.read() as conn:
        fast = read_run(conn, run_id, who, output="summary")
    with _statements_watched(), db.read() as conn:
        slow = read_run(conn, run_id, who, output="summary")
    assert fast == slow
    assert fast.outputs == slow.outputs and set(fast.outputs) == {"first"}


def test_results_come_from_the_driver_unless_a_listener_watches(embedded: Path) -> None:
    run_id = _run()
    db = get_storage().db
    with db.read() as conn:
        assert isinstance(prepared.execute(conn, run_records._GET_RUN, {"b_run_id": run_id}), prepared.PreparedResult)
    with _statements_watched() as seen, db.read() as conn:
        result = prepared.execute(conn, run_records._GET_RUN, {"b_run_id": run_id})
        assert not isinstance(result, prepared.PreparedResult)
        assert result.first().id == run_id
    assert any("FROM runs" in s for s in seen)


def test_a_conditional_update_reports_whether_it_changed_the_row(embedded: Path) -> None:
    run_id = _run()
    db = get_storage().db
    with db.write() as conn:
        run_records.update_run(conn, run_id, action="next", action_token="tok-1")
    with db.write() as conn:
        assert run_records.update_run_if(conn, run_id, "another", action=None) is False
    with db.write() as conn:
        assert run_records.update_run_if(conn, run_id, "tok-1", action=None, action_token=None) is True
    with db.read() as conn:
        row = run_records.get_run(conn, run_id)
    assert row.action is None and row.action_token is None


def test_a_driver_error_is_sqlalchemys_error_and_the_transaction_rolls_back(embedded: Path) -> None:
    run_id = _run()
    db = get_storage().db
    taken = {"b_run_id": run_id, "b_name": "second", "name": "first"}  # a name another step has
    with pytest.raises(sa.exc.IntegrityError, match=r"UNIQUE constraint failed: steps\.run_id, steps\.name"):  # noqa: SIM117
        with db.write() as conn:
            run_records.update_step(conn, run_id, "first", message="changed first")
            prepared.execute(conn, run_records._UPDATE_STEP, taken)
    with db.read() as conn:
        names = [s.name for s in run_records.get_steps(conn, run_id)]
        first = run_records.get_step(conn, run_id, "first")
    assert names == ["first", "second", "third"]
    assert first.message is None  # the first change went with the failed transaction


def test_statements_it_does_not_reproduce_go_through_sqlalchemy(embedded: Path) -> None:
    run_id = _run()
    db = get_storage().db
    returning = (
        sa.update(steps)
        .where(steps.c.run_id == sa.bindparam("b_run_id"), steps.c.name == sa.bindparam("b_name"))
        .returning(steps.c.position)
    )
    expanding = sa.select(steps.c.name).where(
        steps.c.run_id == sa.bindparam("b_run_id"), steps.c.name.in_(sa.bindparam("b_names", expanding=True))
    )
    with db.write() as conn:
        changed = prepared.execute(conn, returning, {"b_run_id": run_id, "b_name": "third", "message": "hi"})
        assert changed.all() == [(2,)]
        found = prepared.execute(conn, expanding, {"b_run_id": run_id, "b_names": ["first", "third"]})
        assert sorted(r.name for r in found.all()) == ["first", "third"]


def test_a_page_inserted_on_the_driver_is_the_next_version(embedded: Path) -> None:
    run_id = _run()
    db = get_storage().db
    with db.read() as conn:
        attempt = run_records.get_step(conn, run_id, "second").attempt
        before = page_records.page_versions(conn, run_id, "second", attempt)
    with db.write() as conn:
        page_records.insert_page(conn, run_id, "second", attempt, '{"title": "again"}')
    with db.read() as conn:
        assert page_records.page_versions(conn, run_id, "second", attempt) == before + 1
        assert page_records.latest_page_of_step(conn, run_id, "second").document == '{"title": "again"}'


def test_on_other_databases_statements_go_through_sqlalchemy(deployment: str) -> None:
    run_id = _run()
    with get_storage().db.read() as conn:
        result = prepared.execute(conn, run_records._GET_RUN, {"b_run_id": run_id})
        expected_prepared = deployment.startswith("sqlite")
        assert isinstance(result, prepared.PreparedResult) is expected_prepared
        assert result.first().owner == "ana"


_RUNS: dict[Path, str] = {}
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
times = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    message=st.none() | texts,
    progress=st.floats(min_value=0, max_value=100, allow_nan=False),
    started=st.none() | times,
    ended=st.none() | times,
    attempt=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_values_written_on_the_driver_read_back_equal(
    embedded: Path, message: str | None, progress: float, started: Any, ended: Any, attempt: int
) -> None:
    # The fixture runs once for all examples: one run serves them all.
    run_id = _RUNS.get(embedded) or _RUNS.setdefault(embedded, _run())
    db = get_storage().db
    values = {"message": message, "progress": progress, "started_at": started, "ended_at": ended, "attempt": attempt}
    with db.write() as conn:
        run_records.update_step(conn, run_id, "third", **values)
    with _statements_watched(), db.write() as conn:
        run_records.update_step(conn, run_id, "second", **values)
    with _statements_watched(), db.read() as conn:
        slow = run_records.get_step(conn, run_id, "third")
        # Stored as SQLAlchemy stores them (the text of a time is what SQL compares and orders).
        stored = sa.text("SELECT message, progress, started_at, ended_at, attempt FROM steps WHERE name = :n")
        as_stored = [conn.execute(stored, {"n": name}).one() for name in ("third", "second")]
    assert as_stored[0] == as_stored[1]
    with db.read() as conn:
        fast = run_records.get_run_with_steps(conn, run_id)[1][2]
    assert slow.message == fast.step__message == message
    assert slow.progress == fast.step__progress == progress
    assert slow.attempt == fast.step__attempt == attempt
    assert as_utc(slow.started_at) == as_utc(fast.step__started_at) == started
    assert as_utc(slow.ended_at) == as_utc(fast.step__ended_at) == ended


def test_a_run_inserted_on_the_driver_is_stored_as_through_sqlalchemy(embedded: Path) -> None:
    db = get_storage().db
    specs = [("a", "A", "input"), ("b", "B", "results"), ("c", "C", "results")]
    with db.write() as conn:
        user_records.ensure_user(conn, "ana")
        run_records.insert_run(conn, "r" * 32, flow_name="f", flow_ref=None, owner="ana", step_specs=specs)
    with _statements_watched() as seen, db.write() as conn:
        run_records.insert_run(conn, "s" * 32, flow_name="f", flow_ref=None, owner="ana", step_specs=specs)
    assert any(s.startswith("INSERT INTO steps") for s in seen)
    stored = sa.text("SELECT * FROM steps WHERE run_id = :r ORDER BY position")
    run_times = sa.text("SELECT created_at, updated_at FROM runs WHERE id = :r")
    with db.read() as conn:
        fast = [tuple(row)[1:] for row in conn.execute(stored, {"r": "r" * 32})]
        slow = [tuple(row)[1:] for row in conn.execute(stored, {"r": "s" * 32})]
        times = [tuple(conn.execute(run_times, {"r": r}).one()) for r in ("r" * 32, "s" * 32)]
    assert fast == slow and [row[:4] for row in fast] == [
        ("a", 0, "A", "input"),
        ("b", 1, "B", "results"),
        ("c", 2, "C", "results"),
    ]
    shape = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"
    assert all(re.fullmatch(shape, text) for pair in times for text in pair), times
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE constraint failed"), db.write() as conn:
        run_records.insert_run(conn, "t" * 32, flow_name="f", flow_ref=None, owner="ana", step_specs=specs[:1] * 2)
    with db.read() as conn:
        assert run_records.get_run(conn, "t" * 32) is None  # the run went with its failed steps


def test_a_user_read_on_the_driver_is_the_same(embedded: Path) -> None:
    _run()
    db = get_storage().db
    with db.read() as conn:
        fast = (user_records.get_user(conn, "ana"), user_records.get_user_with_groups(conn, "ana"))
    with _statements_watched(), db.read() as conn:
        slow = (user_records.get_user(conn, "ana"), user_records.get_user_with_groups(conn, "ana"))
    assert tuple(fast[0]) == tuple(slow[0]) and isinstance(fast[0].created_at, dt.datetime)
    assert tuple(fast[1][0]) == tuple(slow[1][0]) and fast[1][1] == slow[1][1] == []


def test_a_missing_parameter_is_sqlalchemys_error(embedded: Path) -> None:
    with get_storage().db.read() as conn, pytest.raises(sa.exc.StatementError, match=r"value is required.*b_run_id"):
        prepared.execute(conn, run_records._GET_RUN, {})


def test_outside_a_transaction_begun_on_the_driver_statements_go_through_sqlalchemy(embedded: Path) -> None:
    run_id = _run()
    db = get_storage().db
    with db.engine.connect() as conn:  # SQLAlchemy begins this one's transaction at its first statement
        run_records.update_step(conn, run_id, "third", message="not kept")
        conn.rollback()
    with db.read() as conn:
        assert run_records.get_step(conn, run_id, "third").message is None
