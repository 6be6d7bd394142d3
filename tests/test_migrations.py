"""Schema migrations: the migrations build exactly schema.py, and an older database upgrades in place."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from flowdeck.storage import migrate
from flowdeck.storage.schema import metadata


def _head(engine: sa.Engine) -> str:

    return ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()


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
    assert migrate.current_revision(empty_engine) == _head(empty_engine)
    assert "api_tokens" in sa.inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT role FROM users WHERE name = 'old'")).scalar_one() == "admin"
    migrate.upgrade(empty_engine)  # a second upgrade is a no-op


def test_the_three_share_tables_move_into_one(empty_engine):
    """A database with shares of runs, assets and connections keeps every share through 0007 and back."""
    migrate.upgrade(empty_engine, "0003_mysql_microseconds")
    now = dt.datetime.now(dt.UTC)
    with empty_engine.begin() as conn:
        for name in ("alice", "bob"):
            conn.execute(
                sa.text("INSERT INTO users (name, role, created_at) VALUES (:n, 'user', :t)"), {"n": name, "t": now}
            )
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, flow_name, owner, state, created_at, updated_at) "
                "VALUES ('r1', 'f', 'alice', 'pending', :t, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO asset_lineages (id, owner, label, asset_type, name, created_at) "
                "VALUES ('l1', 'alice', 'churn', 'dataset', '', :t)"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO connections (id, owner, name, conn_type, params_json, created_at, updated_at) "
                "VALUES ('c1', 'alice', 'wh', 'postgresql', '{}', :t, :t)"
            ),
            {"t": now},
        )
        conn.execute(sa.text("INSERT INTO run_shares VALUES ('r1', 'user', 'bob'), ('r1', 'group', 'analysts')"))
        conn.execute(sa.text("INSERT INTO asset_shares VALUES ('l1', 'user', 'bob')"))
        conn.execute(sa.text("INSERT INTO connection_shares VALUES ('c1', 'group', 'ops')"))
    expected = [
        ("asset", "l1", "user", "bob"),
        ("connection", "c1", "group", "ops"),
        ("run", "r1", "group", "analysts"),
        ("run", "r1", "user", "bob"),
    ]
    select_shares = sa.text(
        "SELECT resource_kind, resource_id, principal_kind, principal FROM shares "
        "ORDER BY resource_kind, resource_id, principal_kind, principal"
    )

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == _head(empty_engine)
    tables = set(sa.inspect(empty_engine).get_table_names())
    assert "shares" in tables and not tables & {"run_shares", "asset_shares", "connection_shares"}
    with empty_engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select_shares)] == expected

    command.downgrade(migrate.alembic_config(empty_engine), "0003_mysql_microseconds")
    assert "shares" not in sa.inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        run_rows = conn.execute(sa.text("SELECT * FROM run_shares ORDER BY principal_kind")).all()
        assert [tuple(r) for r in run_rows] == [("r1", "group", "analysts"), ("r1", "user", "bob")]
        assert [tuple(r) for r in conn.execute(sa.text("SELECT * FROM asset_shares"))] == [("l1", "user", "bob")]
        assert [tuple(r) for r in conn.execute(sa.text("SELECT * FROM connection_shares"))] == [("c1", "group", "ops")]
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select_shares)] == expected


def test_the_api_token_index_comes_and_goes_with_its_revision(empty_engine):
    def indexed() -> bool:
        return any(i["column_names"] == ["user_name"] for i in sa.inspect(empty_engine).get_indexes("api_tokens"))

    migrate.upgrade(empty_engine, "0014_trigger_callback_and_smtp")
    migrate.upgrade(empty_engine)
    assert "ix_api_tokens_user_name" in {i["name"] for i in sa.inspect(empty_engine).get_indexes("api_tokens")}
    command.downgrade(migrate.alembic_config(empty_engine), "0014_trigger_callback_and_smtp")
    names = {i["name"] for i in sa.inspect(empty_engine).get_indexes("api_tokens")}
    assert "ix_api_tokens_user_name" not in names
    # MariaDB keeps an index under the foreign key; the other databases have none left
    assert indexed() == (empty_engine.dialect.name in ("mysql", "mariadb"))
    migrate.upgrade(empty_engine)
    assert indexed()
