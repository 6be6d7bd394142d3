"""The connection store: access, secrets never in clear, key rotation, and the two SQL methods."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal

import flowdeck
import sample_flows
from conftest import DATABASES_ONLY
from flowdeck import ConnectionType, StoreInterface
from flowdeck.errors import AccessError, AlreadyExistsError, IntegrityError, NotFoundError, ValidationError

SECRET = "s3cr3t-Pa55word-" + uuid.uuid4().hex


@pytest.fixture
def pg_role(pg_url):
    """A PostgreSQL login role with a password, so that the stored secret really matters."""
    role = f"fd_role_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'"))
        conn.execute(sa.text(f"GRANT ALL ON SCHEMA public TO {role}"))
    yield role
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {role}"))
        conn.execute(sa.text(f"DROP ROLE {role}"))
    engine.dispose()


def _add_pg(name: str, owner: str, role: str) -> None:
    flowdeck.add_connection(
        name,
        type="postgresql",
        owner=owner,
        host="127.0.0.1",
        port=5432,
        database="test",
        username=role,
        password=SECRET,
    )


def test_owner_and_shared_users_use_it_strangers_do_not_see_it(deployment, pg_role):
    _add_pg("warehouse", "alice", pg_role)
    flowdeck.add_user("dana", groups=["analysts"])
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    table = f"t_{uuid.uuid4().hex[:8]}"
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None]})
    assert store.pandas_to_db(frame, table, "warehouse") == 3
    assert_frame_equal(
        store.db_to_pandas(f"select * from {table} order by id", "warehouse"),
        frame,
        check_dtype=False,
        check_column_type=False,
    )

    flowdeck.share_run(run.flow_id, owner="alice", users=["bob", "mallory"], groups=["analysts"])
    bob = StoreInterface(run.flow_id, user="bob")
    with pytest.raises(NotFoundError, match=r"^no connection 'warehouse' of user 'alice'$"):
        bob.db_to_pandas("select 1", "warehouse", connection_owner="alice")
    with pytest.raises(NotFoundError, match=r"^no connection 'warehouse'$"):
        bob.db_to_pandas("select 1", "warehouse")

    flowdeck.share_connection("warehouse", owner="alice", users=["bob"], groups=["analysts"])
    got = bob.db_to_pandas(f"select count(*) as n from {table}", "warehouse", connection_owner="alice")
    assert int(got["n"][0]) == 3
    dana = StoreInterface(run.flow_id, user="dana")
    assert int(dana.db_to_pandas("select :x as v", "warehouse", connection_owner="alice", params={"x": 7})["v"][0]) == 7
    mallory = StoreInterface(run.flow_id, user="mallory")
    with pytest.raises(NotFoundError, match=r"^no connection 'warehouse' of user 'alice'$"):
        mallory.db_to_pandas("select 1", "warehouse", connection_owner="alice")
    with pytest.raises(AccessError, match="only its owner"):
        flowdeck.remove_connection("warehouse", owner="alice", user="bob")
    with pytest.raises(AccessError, match="only its owner"):
        flowdeck.share_connection("warehouse", owner="alice", users=["mallory"], user="bob")
    from flowdeck.store.connections import list_connections

    flowdeck.add_user("root", role="admin")
    assert {c.name for c in list_connections("root")} == {"warehouse"}
    assert [c.name for c in list_connections("mallory")] == []
    with pytest.raises(AlreadyExistsError, match="already"):
        _add_pg("warehouse", "alice", pg_role)


def test_connection_listing_never_shows_the_secret(deployment, pg_role):
    from flowdeck.store.connections import list_connections, test_connection

    _add_pg("warehouse", "alice", pg_role)
    infos = list_connections("alice")
    assert infos[0].has_secret and SECRET not in repr(infos) and SECRET not in str(infos[0].to_dict())
    assert test_connection("warehouse", "alice").startswith("PostgreSQL")


def test_no_secret_in_clear_under_home_or_in_the_database(deployment, pg_role, home):
    _add_pg("warehouse", "alice", pg_role)
    for path in home.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    from flowdeck.config import get_settings

    engine = sa.create_engine(get_settings().database_url)
    with engine.connect() as conn:
        for table in ("connections", "shares", "users"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                assert SECRET not in repr(tuple(row))
    engine.dispose()


def test_key_rotation_keeps_connections_working_and_the_old_key_alone_fails(deployment, pg_role, home):
    from flowdeck.config import get_settings, reconfigure
    from flowdeck.store.connections import rotate_key, test_connection

    _add_pg("warehouse", "alice", pg_role)
    old_key = get_settings().secret_key
    result = rotate_key()
    assert result.reencrypted == 1
    new_keys = get_settings().secret_key.split(",")
    assert new_keys[1] == old_key and new_keys[0] != old_key
    assert (home / "secret.key").read_text().strip() == get_settings().secret_key
    assert test_connection("warehouse", "alice").startswith("PostgreSQL")
    reconfigure(secret_key=new_keys[0])  # the new key alone works
    assert test_connection("warehouse", "alice").startswith("PostgreSQL")
    reconfigure(secret_key=old_key)  # the old key alone no longer decrypts
    with pytest.raises(IntegrityError, match="cannot decrypt the secret of connection 'warehouse'") as info:
        test_connection("warehouse", "alice")
    assert SECRET not in str(info.value)


def test_if_exists_modes_through_the_store(deployment):
    flowdeck.add_connection("local", type="sqlite", owner="alice", database="local.db")
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    frame = pd.DataFrame({"a": [1, 2]})
    assert store.pandas_to_db(frame, "t", "local") == 2
    with pytest.raises(AlreadyExistsError):
        store.pandas_to_db(frame, "t", "local")
    assert store.pandas_to_db(frame, "t", "local", if_exists="append") == 2
    assert len(store.db_to_pandas("select * from t", "local")) == 4
    assert store.pandas_to_db(frame, "t", "local", if_exists="replace") == 2
    assert len(store.db_to_pandas("select * from t", "local")) == 2
    with pytest.raises(ValidationError, match="if_exists"):
        store.pandas_to_db(frame, "t", "local", if_exists="truncate")
    chunks = list(store.db_to_pandas("select * from t", "local", chunksize=1))
    assert [len(c) for c in chunks] == [1, 1]
    with pytest.raises(ValidationError, match="unknown options"):
        store.db_to_pandas("select 1", "local", index=True)
    assert StoreInterface.str_2_connection_type(["PostgreSQL", "s3"]) == [
        ConnectionType.postgresql,
        ConnectionType.s3,
    ]
    with pytest.raises(ValueError, match="valid types"):
        StoreInterface.str_2_connection_type(["oracle"])


@DATABASES_ONLY
def test_cli_connections_add_list_test_remove(deployment, pg_role, home):
    from flowdeck.config import get_settings

    s = get_settings()
    env = dict(
        os.environ,
        FLOWDECK_HOME=str(home),
        FLOWDECK_DATABASE_URL=s.database_url,
        FLOWDECK_BLOB_URL=s.blob_url,
    )
    if s.s3_endpoint_url:
        env["FLOWDECK_S3_ENDPOINT_URL"] = s.s3_endpoint_url

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flowdeck", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    added = cli(
        "connections",
        "add",
        "wh",
        "--type",
        "postgresql",
        "--user",
        "alice",
        "--host",
        "127.0.0.1",
        "--port",
        "5432",
        "--database",
        "test",
        "--username",
        pg_role,
        "--secret-stdin",
        stdin=SECRET + "\n",
    )
    assert added.returncode == 0, added.stderr
    listed = cli("connections", "list", "--user", "alice")
    assert listed.returncode == 0 and "wh" in listed.stdout and SECRET not in listed.stdout
    tested = cli("connections", "test", "wh", "--user", "alice")
    assert tested.returncode == 0 and "PostgreSQL" in tested.stdout, tested.stderr
    stranger = cli("connections", "test", "wh", "--user", "eve", "--owner", "alice")
    assert stranger.returncode == 1 and "no connection 'wh' of user 'alice'" in stranger.stderr
    removed = cli("connections", "remove", "wh", "--user", "alice")
    assert removed.returncode == 0
    assert "wh" not in cli("connections", "list", "--user", "alice").stdout
    for out in (added, listed, tested, stranger, removed):
        assert SECRET not in out.stdout + out.stderr
