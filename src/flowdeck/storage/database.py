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
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from flowdeck.config import make_private_dir
from flowdeck.errors import ConfigurationError

__all__ = ["HOLDS_SESSION_LOCKS", "Database"]

#: The key in a MySQL/MariaDB connection's ``info`` set by whoever takes a user-level lock
#: (``GET_LOCK``) on it. Such locks belong to the session and outlive the transaction, so they are
#: released when the connection goes back to the pool: the next user of the connection must not
#: hold them (``storage.records.quotas.lock_quota`` takes them until its transaction ends).
HOLDS_SESSION_LOCKS = "flowdeck.holds_session_locks"


class Database:
    """A deployment's metadata database: pooled engine, write transactions, migrations.

    On SQLite the database runs in WAL mode and write transactions start with
    ``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead of failing
    half-way; on PostgreSQL and MySQL the server's own locking applies, at READ COMMITTED. On
    MySQL a connection going back to the pool gives up the user-level locks taken on it
    (:data:`HOLDS_SESSION_LOCKS`). :meth:`read` and
    :meth:`write` hold flowdeck's own transactions; :attr:`engine` serves callers that manage
    theirs (migrations, the datastore, query triggers), with a real transaction on every backend.
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
            in_memory = not db_path or db_path == ":memory:"
            if not in_memory:
                _create_private_file(Path(db_path))
            connect_args = {"timeout": 60, "check_same_thread": False}
            # read() and write() issue BEGIN themselves on an engine of their own: an engine with a
            # "begin" listener dispatches its (empty) statement events on every statement, which costs
            # more per step than the statements' own work in SQLite. (An in-memory database is one
            # engine's alone, so it has one, without the listener.)
            self._transactions: Engine = sa.create_engine(parsed, connect_args=connect_args)
            _configure_sqlite(self._transactions, begin_on_autobegin=False)
            self.engine = self._transactions
            if not in_memory:
                self.engine = sa.create_engine(parsed, connect_args=connect_args)
                _configure_sqlite(self.engine, begin_on_autobegin=True)
            self._local_writers: threading.RLock | None = threading.RLock()
        else:
            # READ COMMITTED, which flowdeck's transactions are written for, whatever the server's
            # default: each statement sees what was committed before it started. InnoDB's default
            # (REPEATABLE READ) keeps the snapshot of a transaction's first read, so a quota's COUNT
            # made after its lock (storage.records.quotas) would miss the rows of the transaction
            # that held the lock before.
            self.engine = sa.create_engine(
                parsed, pool_pre_ping=True, pool_size=10, max_overflow=20, isolation_level="READ COMMITTED"
            )
            self._transactions = self.engine
            self._local_writers = None
            if self.dialect in ("mysql", "mariadb"):
                sa.event.listen(self.engine, "reset", _release_session_locks)
        if upgrade:
            self.upgrade()

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine this database executes on: :attr:`engine`, and on SQLite the one of
        :meth:`read` and :meth:`write` (a listener that must see every statement goes on each)."""
        return (self.engine,) if self._transactions is self.engine else (self.engine, self._transactions)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside one write transaction: committed on success, rolled back on error.

        On SQLite the transaction starts with ``BEGIN IMMEDIATE``, and the threads of this process
        take turns on a lock first: a writer waiting there starts the moment the one before commits,
        where SQLite's own busy wait sleeps and polls.
        """
        if self._local_writers is None:
            with self._transactions.begin() as conn:
                yield conn
            return
        with self._local_writers, self._transactions.connect() as conn:
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a read transaction: a snapshot on SQLite; on PostgreSQL and MariaDB (READ
        COMMITTED) each statement sees what was committed before it began."""
        with self._transactions.connect() as conn:
            if self.dialect == "sqlite":
                conn.connection.driver_connection.execute("BEGIN")
            yield conn

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` in place (Alembic), once per process and database.

        A database that cannot be reached (no server there, no such database, a login refused) is a
        :class:`~flowdeck.errors.ConfigurationError` naming it (without its password) and the setting.
        """
        from flowdeck.storage import migrate

        try:
            with self._migration_lock():
                migrate.upgrade(self.engine, revision)
        except sa.exc.OperationalError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: sa.exc.OperationalError) -> ConfigurationError:
        url = sa.make_url(self.url)
        reason = " ".join(str(exc.orig or exc).split())[:300]
        if url.password:
            reason = reason.replace(str(url.password), "***")
        return ConfigurationError(
            f"cannot open the database {url.render_as_string(hide_password=True)}: {reason}; check "
            "FLOWDECK_DATABASE_URL (the server runs, the database exists, the user may log in)"
        )

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
        for engine in self.engines:
            engine.dispose(close=close)


_process_lock = threading.Lock()


def _release_session_locks(
    dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry, _state: PoolResetState
) -> None:
    """The pool's "reset" event on MySQL/MariaDB: release the user-level locks of a connection that
    goes back to the pool.

    :meth:`Database.write` returns its connection right after the commit or rollback; a connection
    returned inside a transaction (a read) has it rolled back right after this. An error here makes
    SQLAlchemy close the connection instead of pooling it, which releases the locks too.
    """
    if dbapi_connection is not None and record.info.pop(HOLDS_SESSION_LOCKS, False):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT RELEASE_ALL_LOCKS()")
        finally:
            cursor.close()


def _configure_sqlite(engine: Engine, *, begin_on_autobegin: bool) -> None:
    """WAL, full sync and foreign keys on every connection; pysqlite's own transaction handling off.

    With ``begin_on_autobegin`` SQLAlchemy's "begin" event issues ``BEGIN`` when a connection
    starts a transaction (SQLAlchemy's recipe for pysqlite); without it the caller issues ``BEGIN``.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed save survives a power cut too
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    if begin_on_autobegin:

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Straight to the driver: the full execution path costs more than the BEGIN itself.
            conn.connection.driver_connection.execute("BEGIN")


def _create_private_file(path: Path) -> None:
    """Create the SQLite file readable by this user only (SQLite gives its WAL and journal the same mode)."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
