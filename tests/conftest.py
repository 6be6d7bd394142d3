"""Shared fixtures: a fresh flowdeck deployment per test, on every configured backend.

Backends: SQLite + local files always; PostgreSQL when FLOWDECK_TEST_POSTGRES_URL is set; MariaDB
when FLOWDECK_TEST_MYSQL_URL is set; PostgreSQL + an S3 server on loopback when FLOWDECK_TEST_S3=1
is set too. With FLOWDECK_TEST_REQUIRE_ALL=1 (as in CI) a skipped test fails the run, so that no
backend goes untested unnoticed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

import flowdeck
from flowdeck.config import configure
from s3_server import s3_auth_server, s3_server  # noqa: F401  (fixtures for every test module)

# In CI every Hypothesis test draws the same examples on every run (a failure reproduces, nothing is
# flaky); elsewhere examples vary, and a failure prints the seed to rerun it (`--hypothesis-seed`).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def _redis_url_for_this_worker(url: str | None) -> str | None:
    """The test Redis URL moved to a database of its own for each parallel test worker.

    Under pytest-xdist each worker starts its own Celery workers; on one shared Redis database a
    task sent by one test process could be taken by another's worker, which serves a different
    flowdeck database. Worker ``gwN`` uses database number (the configured one - N).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    base, _, db = url.rstrip("/").rpartition("/")
    first = int(db) if db.isdigit() else 15
    index = int(worker[2:])
    if index > first:
        raise RuntimeError(
            f"{index + 1} test workers need Redis databases 0..{index}: set FLOWDECK_TEST_REDIS_URL to a higher one"
        )
    return f"{base}/{first - index}" if db.isdigit() else f"{url.rstrip('/')}/{first - index}"


if os.environ.get("FLOWDECK_TEST_REDIS_URL"):
    os.environ["FLOWDECK_TEST_REDIS_URL"] = str(_redis_url_for_this_worker(os.environ["FLOWDECK_TEST_REDIS_URL"]))

PG_URL = os.environ.get("FLOWDECK_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("FLOWDECK_TEST_MYSQL_URL")
WITH_S3 = os.environ.get("FLOWDECK_TEST_S3") == "1"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(not PG_URL, reason="FLOWDECK_TEST_POSTGRES_URL is not set"),
    ),
    pytest.param(
        "mariadb",
        id="mariadb",
        marks=pytest.mark.skipif(not MYSQL_URL, reason="FLOWDECK_TEST_MYSQL_URL is not set"),
    ),
    pytest.param(
        "postgres-s3",
        id="postgres-s3",
        marks=pytest.mark.skipif(
            not (PG_URL and WITH_S3), reason="needs FLOWDECK_TEST_POSTGRES_URL and FLOWDECK_TEST_S3=1"
        ),
    ),
]


#: For tests of what lives only in the database (claims, leases, connections, flows loaded by
#: reference): the PostgreSQL + S3 deployment runs the same code as PostgreSQL alone for them.
DATABASES_ONLY = pytest.mark.backends("sqlite", "postgres", "mariadb")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL server URL from the environment (skips when unset)."""
    if not PG_URL:
        pytest.skip("FLOWDECK_TEST_POSTGRES_URL is not set")
    return PG_URL


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The MySQL/MariaDB server URL from the environment (skips when unset)."""
    if not MYSQL_URL:
        pytest.skip("FLOWDECK_TEST_MYSQL_URL is not set")
    return MYSQL_URL


@pytest.fixture(scope="session")
def pg_deployment_url() -> Iterator[str]:
    """A PostgreSQL database made for this test session (dropped at the end)."""
    if not PG_URL:
        pytest.skip("FLOWDECK_TEST_POSTGRES_URL is not set")
    base = sa.make_url(PG_URL)
    name = f"flowdeck_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    from flowdeck.storage.deployment import reset_storage

    reset_storage()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def mysql_deployment_url() -> Iterator[str]:
    """A MariaDB/MySQL database made for this test session (dropped at the end)."""
    if not MYSQL_URL:
        pytest.skip("FLOWDECK_TEST_MYSQL_URL is not set")
    base = sa.make_url(MYSQL_URL)
    name = f"flowdeck_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    yield base.set(database=name).render_as_string(hide_password=False)
    from flowdeck.storage.deployment import reset_storage

    reset_storage()
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def _truncate_all(url: str) -> None:
    from flowdeck.storage.schema import metadata

    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        existing = set(inspector.get_table_names())
        names = [t.name for t in metadata.sorted_tables if t.name in existing]
        if names and engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        elif names:
            with engine.begin() as conn:
                conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
                for name in names:
                    conn.execute(sa.text(f"TRUNCATE TABLE `{name}`"))
                conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
    finally:
        engine.dispose()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh FLOWDECK_HOME."""
    path = tmp_path / "flowdeck-home"
    path.mkdir()
    return path


@pytest.fixture
def embedded(home: Path) -> Iterator[Path]:
    """A deployment on the embedded default (SQLite + local files) in a fresh home."""
    configure(home=str(home), database_url=None, blob_url=None)
    yield home
    from flowdeck.storage.deployment import reset_storage

    reset_storage()


@pytest.fixture(params=BACKENDS)
def deployment(request: pytest.FixtureRequest, home: Path) -> Iterator[str]:
    """A fresh deployment on each configured backend; yields the backend's name."""
    backend = request.param
    settings: dict[str, str | None] = {"home": str(home), "database_url": None, "blob_url": None}
    if backend.startswith("postgres") or backend == "mariadb":
        url = request.getfixturevalue("pg_deployment_url" if backend.startswith("postgres") else "mysql_deployment_url")
        _truncate_all(url)
        settings["database_url"] = url
    if backend.endswith("s3"):
        server = request.getfixturevalue("s3_server")
        bucket = f"fd-{uuid.uuid4().hex[:12]}"
        server.create_bucket(bucket)
        settings["blob_url"] = f"s3://{bucket}/blobs"
        settings["s3_endpoint_url"] = server.endpoint_url
    configure(**settings)
    yield backend
    from flowdeck.storage.deployment import reset_storage

    reset_storage()


@pytest.fixture
def flowdeck_module() -> object:
    """The flowdeck package (for tests that want it as a fixture)."""
    return flowdeck


REQUIRE_ALL = os.environ.get("FLOWDECK_TEST_REQUIRE_ALL") == "1"
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test (for FLOWDECK_TEST_REQUIRE_ALL)."""
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With FLOWDECK_TEST_REQUIRE_ALL=1, a skipped test makes the run fail."""
    if REQUIRE_ALL and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nFLOWDECK_TEST_REQUIRE_ALL is set but {len(_skipped)} tests were skipped, e.g.:")
        for nodeid in _skipped[:10]:
            print(f"  {nodeid}")


# The files that take longest, run first: test processes take a file at a time (pytest-xdist's
# loadfile), and a long file started last would leave the other processes idle at the end.
LONGEST_FIRST = (
    "test_lifecycle.py",
    "test_server_api.py",
    "test_server_access.py",
    "test_assets.py",
    "test_cli_usage.py",
    "test_connections.py",
    "test_triggers.py",
    "test_executors.py",
    "test_asset_access.py",
    "test_cli.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the backends a test is not about (``@pytest.mark.backends("postgres", ...)``), and
    put the longest files first.

    Deselected rather than skipped: under FLOWDECK_TEST_REQUIRE_ALL a skip means a backend went
    untested, which these are not.
    """
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("deployment") if callspec is not None else None
        (drop if marker is not None and backend is not None and backend not in marker.args else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
