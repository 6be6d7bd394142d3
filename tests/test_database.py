"""The metadata database's transactions on SQLite: flowdeck's own (read/write) and the engine's for others."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flowdeck.errors import ConfigurationError
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


@pytest.mark.postgres
def test_a_database_that_cannot_be_opened_is_one_configuration_error_without_its_password(pg_url: str) -> None:
    url = sa.make_url(pg_url)
    missing = url.set(database="flowdeck_no_such_database", password="s3cret-word")
    with pytest.raises(ConfigurationError, match='database "flowdeck_no_such_database" does not exist') as found:
        Database(missing.render_as_string(hide_password=False))
    closed = url.set(port=1, password="s3cret-word")  # nothing listens on port 1
    with pytest.raises(ConfigurationError, match="check FLOWDECK_DATABASE_URL") as refused:
        Database(closed.render_as_string(hide_password=False))
    for error in (found.value, refused.value):
        assert "s3cret-word" not in str(error) and "***" in str(error)


@pytest.mark.postgres
def test_the_cli_says_so_in_one_line(pg_url: str, tmp_path: Path) -> None:
    missing = sa.make_url(pg_url).set(database="flowdeck_no_such_database")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_")}
    env.update(FLOWDECK_HOME=str(tmp_path), FLOWDECK_DATABASE_URL=missing.render_as_string(hide_password=False))
    command = [sys.executable, "-m", "flowdeck", "runs", "--user", "alice"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot open the database" in lines[0] and "FLOWDECK_DATABASE_URL" in lines[0]
