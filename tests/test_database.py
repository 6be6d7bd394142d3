"""The metadata database's transactions on SQLite: flowdeck's own (read/write) and the engine's for others."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flowdeck.storage.database import Database

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}", upgrade=False)
    with database.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, value TEXT)"))
    yield database
    database.dispose()


def _values(db: Database) -> list[str]:
    with db.read() as conn:
        return [row.value for row in conn.execute(sa.text("SELECT value FROM t ORDER BY id"))]


def test_a_failed_write_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError, match="half-way"), db.write() as conn:
        conn.execute(sa.text("INSERT INTO t (value) VALUES ('a')"))
        raise RuntimeError("half-way")
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO t (value) VALUES ('b')"))
    assert _values(db) == ["b"]


def test_a_write_holds_the_lock_from_its_start(db: Database, tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: another writer is refused before the first one has written anything."""
    other = sqlite3.connect(tmp_path / "meta.db", timeout=0, isolation_level=None)
    with db.write(), pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_a_read_is_one_snapshot(db: Database) -> None:
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO t (value) VALUES ('a')"))
    with db.read() as conn:
        first = conn.execute(sa.text("SELECT count(*) FROM t")).scalar()
        writer = threading.Thread(target=lambda: _insert(db, "b"))
        writer.start()
        writer.join()
        second = conn.execute(sa.text("SELECT count(*) FROM t")).scalar()
    assert (first, second) == (1, 1)
    assert _values(db) == ["a", "b"]


def _insert(db: Database, value: str) -> None:
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO t (value) VALUES (:v)"), {"v": value})


def test_the_engine_gives_its_callers_real_transactions(db: Database) -> None:
    """Migrations, the datastore and query triggers manage their own transactions on ``engine``."""
    with pytest.raises(RuntimeError, match="undo"), db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t (value) VALUES ('a')"))
        conn.execute(sa.text("CREATE TABLE u (id INTEGER)"))
        raise RuntimeError("undo")
    assert _values(db) == []
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM sqlite_master WHERE name = 'u'")).first() is None
    assert len(db.engines) == 2


def test_an_in_memory_database_is_one_engine() -> None:
    database = Database("sqlite://", upgrade=False)
    try:
        assert database.engines == (database.engine,)
        with database.write() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO t DEFAULT VALUES"))
        with database.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        database.dispose()
