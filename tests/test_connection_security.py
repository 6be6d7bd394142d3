"""Attacks through the connection store, each performed and shown to do no harm.

A hostile MySQL server asking for local files, connection params that name server files, secret
params, key rotation that retires the old key, sqlite paths out of their directory, and probes of
loopback and link-local targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymysql
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal

import flowdeck
import flows_for_assets
import sample_flows
from conftest import DATABASES_ONLY
from fixtures.fake_mysql import SilentPostgres, fake_mysql
from flowdeck import StoreInterface
from flowdeck.assets import Asset, Model
from flowdeck.auth.users import resolve_principal
from flowdeck.config import get_settings, reconfigure
from flowdeck.errors import AccessError, IntegrityError, ValidationError
from flowdeck.storage.connection_urls import (
    ConnectionSpec,
    ConnectionType,
    Timeouts,
    check_params,
    engine_kwargs,
    is_secret_param,
    private_target,
)
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.resign import resign_pickle
from flowdeck.storage.schema import connections as connections_table
from flowdeck.store.connections import add_connection, list_connections, rotate_key, test_connection

SECRET = "s3cr3t-Pa55word-" + uuid.uuid4().hex
PARAM_SECRET = "ssl-pass-" + uuid.uuid4().hex


@pytest.fixture
def pg_role(pg_url: str) -> Any:
    """A PostgreSQL login role with a password."""
    role = f"fd_sec_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'"))
    yield role
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {role}"))
        conn.execute(sa.text(f"DROP ROLE {role}"))
    engine.dispose()


def _store(user: str = "alice") -> StoreInterface:
    run = flowdeck.start(sample_flows.three_steps, user=user)
    return StoreInterface(run.flow_id, user=user)


def _insert_raw_connection(name: str, owner: str, conn_type: str, port: int, params: dict[str, Any]) -> None:
    """A row as an older version stored it: params never checked, no creator recorded."""
    resolve_principal(owner)
    with get_storage().db.write() as conn:
        conn.execute(
            connections_table.insert().values(
                id=uuid.uuid4().hex,
                owner=owner,
                name=name,
                conn_type=conn_type,
                host="127.0.0.1",
                port=port,
                database="test",
                username="u",
                params_json=json.dumps(params),
                created_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
                updated_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
            )
        )


# --- params: allow-lists, admin-only file params --------------------------------------------------


def test_params_a_type_does_not_take_are_refused_naming_the_accepted_ones(embedded: Path) -> None:
    with pytest.raises(ValidationError, match=r"does not take params \['local_infile'\]; it accepts \[.*'charset'"):
        add_connection("m", "mysql", owner="alice", host="db.example", local_infile=1)
    with pytest.raises(ValidationError, match=r"type mysql does not take params \['client_flag'\]"):
        add_connection("m", "mysql", owner="alice", host="db.example", client_flag=128)
    with pytest.raises(ValidationError, match=r"type postgresql does not take params \['nonsense'\].*'sslmode'"):
        add_connection("p", "postgresql", owner="alice", host="db.example", nonsense="x")
    with pytest.raises(ValidationError, match=r"type sqlite does not take params \['uri'\]; it accepts \[.*pool_size"):
        add_connection("s", "sqlite", owner="alice", database="a.db", uri="true")
    assert list_connections("alice") == []
    ok = add_connection("p", "postgresql", owner="alice", host="db.example", sslmode="require", pool_size=3)
    assert ok.params == {"sslmode": "require", "pool_size": 3}


def test_params_naming_server_files_are_for_admins_only(embedded: Path) -> None:
    flowdeck.add_user("root", role="admin")
    for kind, params in (
        ("postgresql", {"sslrootcert": "/etc/ssl/certs/ca.pem"}),
        ("postgresql", {"passfile": "/root/.pgpass"}),
        ("postgresql", {"service": "prod"}),
        ("mysql", {"read_default_file": "/etc/mysql/my.cnf"}),
        ("mysql", {"init_command": "SELECT 1"}),
        ("mysql", {"ssl_ca": "/etc/ssl/certs/ca.pem"}),
        ("snowflake", {"private_key_file": "/root/key.p8", "account": "a"}),
        ("mssql", {"driver": "/tmp/evil.so"}),
    ):
        name = f"c-{uuid.uuid4().hex[:6]}"
        with pytest.raises(
            AccessError, match=rf"params \['{next(iter(params))}'\] name files or services .* only an admin"
        ):
            add_connection(name, kind, owner="alice", host="db.example", **params)
        # An admin may add it, for alice, and alice may use it.
        info = add_connection(name, kind, owner="alice", host="db.example", user="root", **params)
        assert info.owner == "alice" and info.params == params


def test_older_rows_are_held_to_the_allow_lists_before_connecting(embedded: Path) -> None:
    with fake_mysql("infile", str(get_settings().home / "secret.key")) as server:
        _insert_raw_connection("old-infile", "alice", "mysql", server.port, {"local_infile": 1})
        _insert_raw_connection("old-file", "alice", "mysql", server.port, {"read_default_file": "/etc/shadow"})
        with pytest.raises(ValidationError, match=r"does not take params \['local_infile'\]"):
            test_connection("old-infile", "alice")
        with pytest.raises(AccessError, match=r"params \['read_default_file'\] that only an admin may set"):
            test_connection("old-file", "alice")
        assert server.connections == 0


# --- LOCAL INFILE from a hostile MySQL server -----------------------------------------------------


def test_the_fake_server_does_get_the_file_when_a_client_allows_local_infile(tmp_path: Path) -> None:
    """The control: the attack works on a PyMySQL client that enables local_infile itself."""
    target = tmp_path / "target.txt"
    target.write_text("file-content-" + uuid.uuid4().hex)
    with fake_mysql("infile", str(target)) as server:
        client = pymysql.connect(
            host="127.0.0.1", port=server.port, user="u", password="p", local_infile=True, read_timeout=5
        )
        with client.cursor() as cursor:
            cursor.execute("SELECT 1")
        client.close()
    assert target.read_text().encode() in bytes(server.received)


def test_local_infile_is_off_whatever_the_params_say() -> None:
    spec = ConnectionSpec(name="m", type=ConnectionType.mysql, host="h", params={"local_infile": 1, "client_flag": 128})
    kwargs = engine_kwargs(spec, Timeouts(2, 3))
    assert kwargs["connect_args"]["local_infile"] is False
    assert kwargs["connect_args"]["read_timeout"] == 3.0 and kwargs["connect_args"]["connect_timeout"] == 2.0
    from flowdeck.storage.connection_urls import build_url

    assert "local_infile" not in build_url(spec).query and "client_flag" not in build_url(spec).query


def test_a_hostile_mysql_server_gets_no_file_through_the_library(embedded: Path) -> None:
    key_file = get_settings().home / "secret.key"
    key = key_file.read_bytes().strip()
    with fake_mysql("infile", str(key_file)) as server:
        add_connection("evil", "mysql", owner="alice", host="127.0.0.1", port=server.port, username="u", password="p")
        with pytest.raises(RuntimeError, match="Received LOAD_LOCAL packet but local_infile option is false"):
            test_connection("evil", "alice")
        with pytest.raises(Exception, match="LOAD_LOCAL packet but local_infile option is false"):
            _store().db_to_pandas("SELECT * FROM t", "evil")
        assert server.infile_requests >= 2
    assert bytes(server.received) == b"" and key not in bytes(server.received)


# --- secret params ---------------------------------------------------------------------------------


def test_secret_looking_param_names() -> None:
    for name in (
        "sslpassword",
        "ssl_key_password",
        "token",
        "api_key",
        "apikey",
        "passphrase",
        "private_key",
        "private_key_file_pwd",
        "client_secret",
        "aws_session_token",
        "credentials",
    ):
        assert is_secret_param(name), name
    for name in ("sslmode", "host", "schema", "warehouse", "application_name", "keepalives"):
        assert not is_secret_param(name), name
    split = check_params("x", ConnectionType.snowflake, {"account": "a", "token": "t", "passcode": "1"})
    assert split.plain == {"account": "a"} and split.secret == {"token": "t", "passcode": "1"}


@DATABASES_ONLY
@pytest.mark.slow
def test_secret_params_are_encrypted_at_rest_and_never_returned(deployment: str, pg_role: str, home: Path) -> None:
    add_connection(
        "wh",
        "postgresql",
        owner="alice",
        host="127.0.0.1",
        port=5432,
        database="test",
        username=pg_role,
        password=SECRET,
        sslmode="disable",
        sslpassword=PARAM_SECRET,
    )
    (info,) = list_connections("alice")
    assert info.params == {"sslmode": "disable"} and info.protected_params == ["sslpassword"]
    assert PARAM_SECRET not in repr(info) and PARAM_SECRET not in json.dumps(info.to_dict())
    # Used: the secret param reaches the driver (decrypted) and the connection works.
    from flowdeck.store.connections import _spec

    assert _spec(resolve_principal("alice"), "wh", None).params["sslpassword"] == PARAM_SECRET
    assert test_connection("wh", "alice").startswith("PostgreSQL")
    engine = sa.create_engine(get_settings().database_url)
    with engine.connect() as conn:
        for row in conn.execute(sa.text("SELECT * FROM connections")):
            assert PARAM_SECRET not in repr(tuple(row)) and SECRET not in repr(tuple(row))
    engine.dispose()
    for path in home.rglob("*"):
        if path.is_file():
            assert PARAM_SECRET.encode() not in path.read_bytes(), path
    env = dict(
        os.environ,
        FLOWDECK_HOME=str(home),
        FLOWDECK_DATABASE_URL=get_settings().database_url,
        FLOWDECK_BLOB_URL=get_settings().blob_url,
        FLOWDECK_S3_ENDPOINT_URL=get_settings().s3_endpoint_url or "",
    )
    listed = subprocess.run(
        [sys.executable, "-m", "flowdeck", "connections", "list", "--user", "alice"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listed.returncode == 0 and "wh" in listed.stdout
    assert PARAM_SECRET not in listed.stdout + listed.stderr


# --- key rotation that retires the old key ---------------------------------------------------------


@pytest.mark.slow
def test_rotation_with_retire_old_re_encrypts_re_signs_and_drops_the_old_key(
    deployment: str, pg_role: str, home: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    add_connection(
        "wh",
        "postgresql",
        owner="alice",
        host="127.0.0.1",
        port=5432,
        database="test",
        username=pg_role,
        password=SECRET,
        sslpassword=PARAM_SECRET,
    )
    store = _store()
    small, big = flows_for_assets.Opaque(b"s" * 10), flows_for_assets.Opaque(os.urandom(200_000))
    store.save_output(small, "small")
    store.save_output(big, "big")
    features, target = flows_for_assets.training_data()
    estimator = LogisticRegression().fit(features, target)
    model_id = store.save_asset(Model(estimator, "churn-model"))
    opaque_id = store.save_asset(Asset(big, "opaque", "other"))
    old_key = get_settings().secret_key

    result = rotate_key(retire_old=True)

    new_key = get_settings().secret_key
    assert "," not in new_key and new_key != old_key and old_key not in new_key
    assert (home / "secret.key").read_text().strip() == new_key
    assert result.reencrypted == 1 and result.retired == 1 and result.unverified == ()
    assert result.resigned == 4  # two pickled outputs, a pickled asset and the skops file's MAC
    reader = StoreInterface(store.flow_id, user="alice")
    assert reader.get_input("small", step_name="Produce") == small
    assert reader.get_input("big", step_name="Produce") == big
    np.testing.assert_array_equal(reader.get_asset_by_id(model_id).predict(features), estimator.predict(features))
    assert reader.get_asset_by_id(opaque_id).object == big
    assert test_connection("wh", "alice").startswith("PostgreSQL")

    reconfigure(secret_key=old_key)  # the retired key alone opens nothing any more
    with pytest.raises(IntegrityError, match="cannot decrypt the secret of connection 'wh'"):
        test_connection("wh", "alice")
    with pytest.raises(IntegrityError, match="pickle signature does not match"):
        StoreInterface(store.flow_id, user="alice").get_input("big", step_name="Produce")
    with pytest.raises(IntegrityError, match="skops file's signature does not match"):
        StoreInterface(store.flow_id, user="alice").get_asset_by_id(model_id).get_object()


def test_a_tampered_pickle_is_not_re_signed() -> None:
    from flowdeck.storage.codecs import Codecs

    old, new = b"o" * 32, b"n" * 32
    data = Codecs([old]).encode({1, 2}).to_bytes()
    assert resign_pickle(data, [old], new) == Codecs([new]).encode({1, 2}).to_bytes()
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    assert resign_pickle(tampered, [old], new) is None
    assert resign_pickle(data, [b"x" * 32], new) is None


@pytest.mark.slow
def test_cli_keys_rotate_retire_old_and_connections_rotate_key(embedded: Path, home: Path) -> None:
    store = _store()
    store.save_output(flows_for_assets.Opaque(b"v" * 100), "value")
    settings = get_settings()
    env = dict(
        os.environ,
        FLOWDECK_HOME=str(home),
        FLOWDECK_DATABASE_URL=settings.database_url,
        FLOWDECK_BLOB_URL=settings.blob_url,
        FLOWDECK_S3_ENDPOINT_URL=settings.s3_endpoint_url or "",
    )
    env.pop("FLOWDECK_SECRET_KEY", None)
    first = (home / "secret.key").read_text().strip()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flowdeck", *args], capture_output=True, text=True, env=env, timeout=120
        )

    kept = cli("connections", "rotate-key")
    assert kept.returncode == 0, kept.stderr
    assert "re-signed 1 stored values" in kept.stdout
    assert (home / "secret.key").read_text().strip().split(",")[1] == first
    retired = cli("keys", "rotate", "--retire-old")
    assert retired.returncode == 0, retired.stderr
    assert "retired 2 old keys" in retired.stdout
    only = (home / "secret.key").read_text().strip()
    assert "," not in only and only != first
    reconfigure(secret_key=only)
    assert StoreInterface(store.flow_id, user="alice").get_input(
        "value", step_name="Produce"
    ) == flows_for_assets.Opaque(b"v" * 100)


# --- sqlite confined to its directory -------------------------------------------------------------


def test_sqlite_connections_stay_inside_the_sqlite_directory(embedded: Path, tmp_path: Path) -> None:
    root = get_settings().sqlite_dir
    assert root == embedded / "sqlite"
    outside = tmp_path / "outside.db"
    for database in (str(outside), "../outside.db", "a/../../outside.db", str(embedded / "flowdeck.db")):
        with pytest.raises(ValidationError, match="is outside the sqlite directory"):
            add_connection(f"s{uuid.uuid4().hex[:6]}", "sqlite", owner="alice", database=database)
    assert not outside.exists()

    add_connection("inside", "sqlite", owner="alice", database="sales.db")
    store = _store()
    assert store.pandas_to_db(pd.DataFrame({"a": [1, 2]}), "t", "inside") == 2
    assert (root / "sales.db").exists()
    assert_frame_equal(store.db_to_pandas("SELECT a FROM t", "inside"), pd.DataFrame({"a": [1, 2]}))

    # A symbolic link inside the directory that points out of it is refused at use too.
    (root / "link.db").symlink_to(embedded / "flowdeck.db")
    with pytest.raises(ValidationError, match="is outside the sqlite directory"):
        add_connection("link", "sqlite", owner="alice", database="link.db")
    add_connection("later", "sqlite", owner="alice", database="later.db")
    (root / "later.db").symlink_to(embedded / "flowdeck.db")
    with pytest.raises(ValidationError, match=r"'later\.db' is outside the sqlite directory"):
        store.db_to_pandas("SELECT name FROM users", "later")

    # Nor can a query open or create another database file.
    for query in (f"ATTACH DATABASE '{embedded / 'flowdeck.db'}' AS meta", f"VACUUM INTO '{outside}'"):
        with pytest.raises(sa.exc.DatabaseError, match=r"not authorized|authorization denied"):
            store.db_to_pandas(query, "inside")
    assert not outside.exists()


# --- loopback and link-local targets --------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "localhost",
        "::1",
        "[::1]",
        "0.0.0.0",
        "169.254.169.254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "/var/run/postgresql",
    ],
)
def test_private_targets_are_recognised(host: str) -> None:
    assert private_target(host) is not None


def test_public_and_private_network_targets_are_not_private() -> None:
    for host in ("10.1.2.3", "192.168.1.10", "172.16.0.5", "8.8.8.8", "db.invalid"):
        assert private_target(host) is None, host


def test_restricted_callers_cannot_target_loopback_or_link_local(embedded: Path, pg_url: str) -> None:
    flowdeck.add_user("root", role="admin")
    for kind, fields in (
        ("postgresql", {"host": "127.0.0.1"}),
        ("postgresql", {"host": "db.example,localhost"}),
        ("mysql", {"host": "169.254.169.254"}),
        ("mysql", {"host": "fe80::1"}),
        ("s3", {"endpoint_url": "http://169.254.169.254/latest"}),
        ("api", {"base_url": "http://[::1]:8080/"}),
    ):
        params = {k: v for k, v in fields.items() if k != "host"}
        with pytest.raises(AccessError, match="does not let users reach loopback or link-local addresses"):
            add_connection("c", kind, owner="alice", host=fields.get("host"), restricted=True, **params)
        assert list_connections("alice") == []
    # The library (one trusted caller) and admins may; so may anyone once the admin allows it.
    local_pg = {"port": 5432, "database": "test", "username": "postgres"}
    add_connection("lib", "postgresql", owner="alice", host="127.0.0.1", **local_pg)
    add_connection("adm", "postgresql", owner="root", host="127.0.0.1", restricted=True)
    reconfigure(allow_private_targets=True)
    add_connection("allowed", "postgresql", owner="alice", host="127.0.0.1", restricted=True)
    reconfigure(allow_private_targets=False)
    with pytest.raises(AccessError, match=r"'127\.0\.0\.1' is a loopback or link-local address"):
        test_connection("allowed", "alice", restricted=True)
    # A connection added that way is checked on every use, by a step's query too.
    with pytest.raises(AccessError, match=r"'127\.0\.0\.1' is a loopback or link-local address"):
        _store().db_to_pandas("SELECT 1", "allowed")
    with pytest.raises(AccessError, match=r"'127\.0\.0\.1' is a loopback or link-local address"):
        test_connection("allowed", "alice")
    # Not those the library added, nor those an admin added (even for alice, through the server).
    add_connection("lent", "postgresql", owner="alice", host="127.0.0.1", user="root", restricted=True, **local_pg)
    for name in ("lib", "lent"):
        assert _store().db_to_pandas("SELECT 1 AS one", name)["one"].tolist() == [1]


# --- timeouts on servers that never answer ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["mute", "silent"])
def test_a_mysql_server_that_stops_answering_times_out(embedded: Path, mode: str) -> None:
    reconfigure(connect_timeout=0.5, connection_test_timeout=0.5, query_timeout=1.0)
    with fake_mysql(mode) as server:
        add_connection("hang", "mysql", owner="alice", host="127.0.0.1", port=server.port, username="u", password="p")
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="timed out"):
            test_connection("hang", "alice")
        assert time.monotonic() - started < 3
        store = _store()
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="timed out"):
            store.db_to_pandas("SELECT 1", "hang")
        assert time.monotonic() - started < 4


def test_a_postgresql_server_that_stops_answering_times_out(embedded: Path) -> None:
    reconfigure(connect_timeout=0.5, connection_test_timeout=1.0)
    server = SilentPostgres()
    try:
        add_connection(
            "hang",
            "postgresql",
            owner="alice",
            host="127.0.0.1",
            port=server.port,
            username="u",
            password="p",
            sslmode="disable",
        )
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match=r"server closed the connection|connection"):
            test_connection("hang", "alice")
        assert server.handshakes == 1
        assert time.monotonic() - started < 5
    finally:
        server.close()


def test_only_admins_may_lend_the_servers_own_aws_credentials(embedded: Path) -> None:
    from flowdeck.store.connections import get_boto3_s3_client

    flowdeck.add_user("root", role="admin")
    add_connection("mine", "s3", owner="alice", region="eu-west-1")
    with pytest.raises(AccessError, match="no access key, so it would use the server's own AWS credentials"):
        get_boto3_s3_client(resolve_principal("alice"), "mine")
    add_connection("keyed", "s3", owner="alice", username="AKIAEXAMPLE", password="s", region="eu-west-1")
    assert get_boto3_s3_client(resolve_principal("alice"), "keyed").meta.region_name == "eu-west-1"
    add_connection("lent", "s3", owner="alice", user="root", region="eu-west-1")
    assert get_boto3_s3_client(resolve_principal("alice"), "lent").meta.region_name == "eu-west-1"


def test_queries_on_postgresql_run_under_the_query_timeout(embedded: Path, pg_url: str) -> None:
    reconfigure(query_timeout=42)
    add_connection(
        "pg",
        "postgresql",
        owner="alice",
        host="127.0.0.1",
        port=5432,
        database="test",
        username="postgres",
        application_name="flowdeck test",
    )
    store = _store()
    # The bulk (ADBC or COPY) path and the plain path both get the limits.
    bulk = store.db_to_pandas(
        "SELECT current_setting('statement_timeout') AS t, current_setting('application_name') AS a", "pg"
    )
    assert bulk.to_dict("records") == [{"t": "42s", "a": "flowdeck test"}]
    (chunk,) = list(store.db_to_pandas("SELECT current_setting('statement_timeout') AS t", "pg", chunksize=10))
    assert chunk["t"].tolist() == ["42s"]


def test_retiring_keys_from_the_environment_needs_the_new_key_given(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowdeck.auth.secrets import new_key

    add_connection("p", "postgresql", owner="alice", host="db.example", password=SECRET)
    monkeypatch.setenv("FLOWDECK_SECRET_KEY", get_settings().secret_key)
    with pytest.raises(ValidationError, match="store the new key where that setting comes from first"):
        rotate_key(retire_old=True)
    fresh = new_key()
    result = rotate_key(fresh, retire_old=True)
    assert result.key_file is None and result.secret_key_setting == fresh and result.reencrypted == 1
    from flowdeck.auth.users import resolve_principal as who
    from flowdeck.store.connections import _spec

    assert _spec(who("alice"), "p", None).secret == SECRET


def test_each_user_runs_at_most_queries_per_user_queries_at_once(embedded: Path) -> None:
    from flowdeck.errors import FlowdeckError
    from flowdeck.store.connections import _QUERIES

    reconfigure(queries_per_user=2, query_timeout=0.5)
    add_connection("lite", "sqlite", owner="alice", database="q.db")
    flowdeck.share_connection("lite", owner="alice", users=["bob"])
    alice, bob = _store("alice"), _store("bob")
    alice.pandas_to_db(pd.DataFrame({"a": [1, 2, 3]}), "t", "lite")
    first = alice.db_to_pandas("SELECT a FROM t", "lite", chunksize=1)
    second = alice.db_to_pandas("SELECT a FROM t", "lite", chunksize=1)
    assert next(first)["a"].tolist() == [1]
    assert _QUERIES.running("alice") == 2
    started = time.monotonic()
    with pytest.raises(FlowdeckError, match=r"user 'alice' has 2 database queries running already"):
        alice.db_to_pandas("SELECT a FROM t", "lite")
    assert time.monotonic() - started >= 0.5
    # Others are not held up by alice's queries.
    assert bob.db_to_pandas("SELECT a FROM t", "lite", connection_owner="alice")["a"].tolist() == [1, 2, 3]
    first.close()
    assert [len(c) for c in second] == [1, 1, 1]
    assert _QUERIES.running("alice") == 0
    assert alice.db_to_pandas("SELECT count(*) AS n FROM t", "lite")["n"].tolist() == [3]
