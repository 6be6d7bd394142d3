"""One SQLAlchemy engine per database URL, transactions, and schema upgrades on open."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flowdeck.config import make_private_dir
from flowdeck.errors import ConfigurationError

__all__ = ["Database"]


class Database:
    """A deployment's metadata database: pooled engine, write transactions, migrations.

    On SQLite the database runs in WAL mode and write transactions start with
    ``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead of failing
    half-way; on PostgreSQL and MySQL the server's own locking applies.
    """

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise ConfigurationError(f"FLOWDECK_DATABASE_URL {url!r} is not a database URL: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            db_path = parsed.database
            if db_path and db_path != ":memory:":
                _create_private_file(Path(db_path))
            self.engine = sa.create_engine(parsed, connect_args={"timeout": 60, "check_same_thread": False})
            _configure_sqlite(self.engine)
        else:
            self.engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self._writer: Engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._local_writers = threading.RLock() if self.dialect == "sqlite" else None
        if upgrade:
            self.upgrade()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside one write transaction: committed on success, rolled back on error.

        On SQLite the threads of this process take turns on a lock first: a writer waiting there
        starts the moment the one before commits, where SQLite's own busy wait sleeps and polls.
        """
        if self._local_writers is None:
            with self._writer.begin() as conn:
                yield conn
            return
        with self._local_writers, self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a read transaction (a consistent snapshot where the database offers one)."""
        with self.engine.connect() as conn:
            yield conn

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` in place (Alembic), once per process and database."""
        from flowdeck.storage import migrate

        with self._migration_lock():
            migrate.upgrade(self.engine, revision)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        # Two processes opening a fresh database at once must not both create the tables.
        if self.dialect == "sqlite":
            db = sa.make_url(self.url).database
            if not db or db == ":memory:":
                yield
                return
            lock_path = Path(db).with_name(Path(db).name + ".migrate-lock")
            with open(os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        elif self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(724311)"))
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(724311)"))
                    conn.commit()
        else:
            with _process_lock:
                yield

    def dispose(self, close: bool = True) -> None:
        """Drop every pooled connection; ``close=False`` in a forked child leaves the parent's alone."""
        self.engine.dispose(close=close)


_process_lock = threading.Lock()


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed save survives a power cut too
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        # Straight to the driver: this runs before every write, and the full execution path costs
        # more than the BEGIN itself.
        conn.connection.driver_connection.execute(f"BEGIN {mode}")


def _create_private_file(path: Path) -> None:
    """Create the SQLite file readable by this user only (SQLite gives its WAL and journal the same mode)."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
