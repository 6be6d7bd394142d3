"""Schema migrations: the migrations build exactly schema.py, and an older database upgrades in place."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from flowdeck.storage import migrate
from flowdeck.storage.schema import metadata


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def empty_engine(request, tmp_path):
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
        return
    if request.param == "mariadb":
        base = sa.make_url(request.getfixturevalue("mysql_url"))
        name = f"flowdeck_mig_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
        engine = sa.create_engine(base.set(database=name))
        yield engine
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
        return
    base = sa.make_url(request.getfixturevalue("pg_url"))
    name = f"flowdeck_mig_{tmp_path.name[-8:].replace('-', '_').lower()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(base.set(database=name))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_match_the_schema(empty_engine):
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_an_older_database_upgrades_in_place(empty_engine):
    migrate.upgrade(empty_engine, "0001_core")
    assert migrate.current_revision(empty_engine) == "0001_core"
    assert "api_tokens" not in sa.inspect(empty_engine).get_table_names()
    now = dt.datetime.now(dt.UTC)
    with empty_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (name, role, created_at) VALUES ('old', 'admin', :t)"), {"t": now})
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == "0008_run_lifecycle"
    assert "api_tokens" in sa.inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT role FROM users WHERE name = 'old'")).scalar_one() == "admin"
    migrate.upgrade(empty_engine)  # a second upgrade is a no-op
