"""Errors a flow writer meets on the reference API: the right type, a message naming the fix, nothing changed.

Uploads (which DataSource), external SQL writes (empty frames, dtype names), object storage (bucket
names), connection types and shared connections.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

import flowdeck
import page_flows
import sample_flows
from conftest import DATABASES_ONLY
from flowdeck import ConnectionType, StoreInterface
from flowdeck.errors import NotFoundError, ValidationError

CSV = b"region,amount\nnorth,10\nsouth,20\n"
NOTES = b"raw notes"


# --------------------------------------------------------------------------------------------
# Uploads: get_current_step_user_input and get_raw_data_source_data


@pytest.fixture
def two_sources(deployment: str) -> Iterator[tuple[flowdeck.FlowRun, StoreInterface, str]]:
    """A run awaiting its first step, whose page has two DataSources ('Sales data', 'Notes file'), both filled."""
    page_flows.SEEN.clear()
    run = flowdeck.start(page_flows.sales_report, user="alice")
    run.upload("Sales data", "sales.csv", CSV)
    run.upload("Notes file", "notes.txt", NOTES)
    store = StoreInterface(run.flow_id, user="alice")
    yield run, store, store.get_element("Load", "Sales data").id


def _unchanged(run: flowdeck.FlowRun, store: StoreInterface) -> None:
    """The run is where it was and both uploads still read back as uploaded."""
    assert run.current_step == "Load"
    assert run.status().state == "awaiting_input"
    assert store.get_raw_data_source_data("Load", element_title="Sales data").read() == CSV
    assert store.get_raw_data_source_data("Load", element_title="Notes file").read() == NOTES


@DATABASES_ONLY
def test_current_step_user_input_names_its_own_parameters_when_the_step_has_several_sources(two_sources):
    run, store, _ = two_sources
    with pytest.raises(ValidationError, match=r"2 DataSources \['Sales data', 'Notes file'\]") as info:
        store.get_current_step_user_input()
    message = str(info.value)
    assert "data_source_title=" in message and "data_source_reference_id=" in message
    assert "element_id=" not in message and "element_title=" not in message and "elem_reference_id" not in message
    # The advice works as given.
    assert store.get_current_step_user_input(data_source_title="Sales data").read() == CSV
    # get_raw_data_source_data keeps naming its own parameters.
    with pytest.raises(ValidationError, match=r"name one with element_id=, element_title= or elem_reference_id="):
        store.get_raw_data_source_data("Load")
    _unchanged(run, store)


@DATABASES_ONLY
def test_raw_data_source_data_refuses_an_id_and_a_title_naming_different_elements(two_sources):
    run, store, sales_id = two_sources
    with pytest.raises(
        ValidationError,
        match=rf"element_id='{sales_id}' is element 'Sales data' of step 'Load' but element_title='Notes file' "
        r"names another; pass element_id= or element_title= alone",
    ):
        store.get_raw_data_source_data("Load", element_id=sales_id, element_title="Notes file")
    with pytest.raises(ValidationError, match=r"element_title='No such title' names another"):
        store.get_raw_data_source_data("Load", element_id=sales_id, element_title="No such title")
    # Both naming the same element is fine.
    assert store.get_raw_data_source_data("Load", element_id=sales_id, element_title="Sales data").read() == CSV
    _unchanged(run, store)


def test_current_step_user_input_on_a_step_without_sources_points_to_the_other_method(embedded):
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    with pytest.raises(
        ValidationError,
        match=r"get_current_step_user_input\(\): step 'Produce' has no DataSource, "
        r".*get_raw_data_source_data\(step_name=",
    ):
        store.get_current_step_user_input()
    assert run.current_step == "Produce" and run.status().state == "awaiting_input"


# --------------------------------------------------------------------------------------------
# pandas_to_db: frames without columns, dtype= given as SQL type names

TARGETS = ["sqlite", "postgresql", "mysql"]


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, embedded) -> Iterator[tuple[StoreInterface, sa.Engine]]:
    """A store of alice's run with a connection 'ext' to an external database, and an engine on it."""
    kind = request.param
    if kind == "sqlite":
        path = embedded / "sqlite" / "ext.db"
        path.parent.mkdir(exist_ok=True)
        flowdeck.add_connection("ext", type="sqlite", owner="alice", database=str(path))
        engine = sa.create_engine(f"sqlite:///{path}")
    else:
        url = sa.make_url(request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url"))
        flowdeck.add_connection(
            "ext",
            type=kind,
            owner="alice",
            host=url.host,
            port=url.port,
            database=url.database,
            username=url.username,
            password=url.password,
        )
        engine = sa.create_engine(url)
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    yield store, engine
    engine.dispose()


class _Tables:
    """Unique table names for one test, dropped afterwards."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.names: list[str] = []

    def new(self) -> str:
        self.names.append(f"fix_{uuid.uuid4().hex[:10]}")
        return self.names[-1]

    def drop(self) -> None:
        with self.engine.begin() as conn:
            for name in self.names:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))

    def all(self) -> set[str]:
        return set(sa.inspect(self.engine).get_table_names())


@pytest.fixture
def tables(target) -> Iterator[_Tables]:
    made = _Tables(target[1])
    yield made
    made.drop()


def test_pandas_to_db_refuses_a_frame_without_columns_and_leaves_tables_alone(target, tables):
    store, _ = target
    existing, fresh = tables.new(), tables.new()
    assert store.pandas_to_db(pd.DataFrame({"a": [1, 2]}), existing, "ext") == 2
    before = tables.all()
    for table, if_exists in ((fresh, "fail"), (existing, "overwrite"), (existing, "append")):
        with pytest.raises(
            ValidationError, match=rf"the frame for table '{table}' has no columns.*nothing was written"
        ):
            store.pandas_to_db(pd.DataFrame(), table, "ext", if_exists=if_exists)
    assert tables.all() == before  # no new table, no scratch table left behind
    assert store.db_to_pandas(f"select a from {existing} order by a", "ext")["a"].tolist() == [1, 2]

    # Columns and no rows: an empty table is written (created, or replacing the old one).
    assert store.pandas_to_db(pd.DataFrame({"x": pd.Series([], dtype="int64")}), fresh, "ext") == 0
    assert store.pandas_to_db(pd.DataFrame(columns=["b"]), existing, "ext", if_exists="overwrite") == 0
    for table, column in ((fresh, "x"), (existing, "b")):
        got = store.db_to_pandas(f"select * from {table}", "ext")
        assert got.empty and got.columns.tolist() == [column]


def test_pandas_to_db_takes_sql_type_names_in_dtype(target, tables):
    store, engine = target
    table = tables.new()
    frame = pd.DataFrame(
        {"a": [1, 2], "b": ["x", "y"], "c": [1.5, 2.5], "d": pd.to_datetime(["2024-01-01", "2024-01-02"])}
    )
    dtype = {"a": "TEXT", "b": "varchar(20)", "c": "NUMERIC(10, 2)", "d": "DATETIME"}
    assert store.pandas_to_db(frame, table, "ext", dtype=dtype) == 2
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(table)}
    assert isinstance(columns["a"], sa.Text) or "TEXT" in str(columns["a"]).upper()
    assert isinstance(columns["b"], sa.String) and columns["b"].length == 20
    assert isinstance(columns["c"], sa.Numeric) and (columns["c"].precision, columns["c"].scale) == (10, 2)
    assert isinstance(columns["d"], sa.DateTime)
    assert sorted(store.db_to_pandas(f"select a from {table}", "ext")["a"].tolist()) == ["1", "2"]
    # SQLAlchemy types keep working, and one type for every column is accepted, as pandas does.
    other = tables.new()
    assert store.pandas_to_db(frame[["a"]], other, "ext", dtype={"a": sa.BigInteger}) == 2
    assert isinstance(sa.inspect(engine).get_columns(other)[0]["type"], sa.BigInteger)
    third = tables.new()
    assert store.pandas_to_db(frame[["a", "b"]], third, "ext", dtype="TEXT") == 2


def test_pandas_to_db_refuses_other_dtype_values_before_creating_anything(target, tables):
    store, _ = target
    existing, fresh = tables.new(), tables.new()
    assert store.pandas_to_db(pd.DataFrame({"a": [1, 2]}), existing, "ext") == 2
    before = tables.all()
    cases = [
        (
            "int64",
            r"dtype 'int64' for column 'a' is not a SQL type flowdeck knows; dtype= takes .*'TEXT'.*VARCHAR\(n\)",
        ),
        (f"TEXT); DROP TABLE {existing}; --", r"is not a SQL type flowdeck knows"),
        ("VARCHAR", r"dtype 'VARCHAR' for column 'a': VARCHAR needs one length, e.g. VARCHAR\(255\)"),
        (int, r"dtype <class 'int'> \(type\) for column 'a' is not a SQL type; dtype= takes"),
    ]
    for value, message in cases:
        for table, if_exists in ((fresh, "fail"), (existing, "overwrite")):
            with pytest.raises(ValidationError, match=message):
                store.pandas_to_db(pd.DataFrame({"a": [7]}), table, "ext", if_exists=if_exists, dtype={"a": value})
    assert tables.all() == before
    assert store.db_to_pandas(f"select a from {existing} order by a", "ext")["a"].tolist() == [1, 2]


# --------------------------------------------------------------------------------------------
# Object storage: bucket names


@pytest.fixture
def no_s3_requests(embedded, monkeypatch: pytest.MonkeyPatch) -> StoreInterface:
    """A run's store whose S3 client, if ever built, fails the test: validation must come first."""
    from flowdeck.store import objects

    def refuse(*_args, **_kwargs):
        raise AssertionError("an S3 client was built for an invalid bucket name")

    monkeypatch.setattr(objects, "_client", refuse)
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    return StoreInterface(run.flow_id, user="alice")


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        (
            "s3://bkt",
            r"bucket_name='s3://bkt' is not a bare bucket name: .*bucket_name='bkt'\) and get_s3_asset\('d.csv'\)",
        ),
        (
            "s3://bkt/path/to",
            r"bucket_name='s3://bkt/path/to' is not a bare bucket name: .*bucket_name='bkt'\) and "
            r"get_s3_asset\('path/to/d.csv'\)",
        ),
        (
            "bkt/dir",
            r"bucket_name='bkt/dir' is not a bare bucket name: .*bucket_name='bkt'\) and get_s3_asset\('dir/d.csv'\)",
        ),
        ("My_Bucket", r"bucket_name='My_Bucket' is not a valid S3 bucket name: it takes 3 to 63 lowercase letters"),
        ("ab", r"'ab' is not a valid S3 bucket name"),
        ("a" * 64, r"is not a valid S3 bucket name"),
        ("-bkt", r"'-bkt' is not a valid S3 bucket name"),
        ("b..kt", r"'b\.\.kt' is not a valid S3 bucket name"),
        ("192.168.1.1", r"'192\.168\.1\.1' is not a valid S3 bucket name"),
    ],
    ids=["url", "url-with-path", "path", "uppercase", "too-short", "too-long", "leading-hyphen", "two-dots", "ip"],
)
def test_get_s3_asset_checks_the_bucket_name_before_any_request(no_s3_requests, bucket, message):
    store = no_s3_requests
    store.bucket_name = bucket
    with pytest.raises(ValidationError, match=message):
        store.get_s3_asset("d.csv")


def test_get_s3_asset_with_a_url_bucket_sends_nothing_and_a_bare_name_still_reads(embedded, s3_server):
    flowdeck.configure(home=str(embedded), s3_endpoint_url=s3_server.endpoint_url)
    bucket = s3_server.create_bucket(f"org-{uuid.uuid4().hex[:10]}")
    s3_server.client().put_object(Bucket=bucket, Key="dir/conf.json", Body=b'{"k": 1}')
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", bucket_name=f"s3://{bucket}/dir", profile_name=None)
    mark = s3_server.mark()
    with pytest.raises(ValidationError, match=rf"bucket_name='{bucket}'\) and get_s3_asset\('dir/conf.json'\)"):
        store.get_s3_asset("conf.json")
    assert s3_server.requests_since(mark) == []
    store.bucket_name = bucket
    assert store.get_s3_asset("dir/conf.json") == {"k": 1}


# --------------------------------------------------------------------------------------------
# str_2_connection_type


@pytest.mark.parametrize("value", [None, 5, ConnectionType])
def test_str_2_connection_type_says_what_it_takes(value):
    if value is ConnectionType:
        assert StoreInterface.str_2_connection_type(value) == list(ConnectionType)  # an iterable of members
        return
    with pytest.raises(
        ValidationError,
        match=rf"str_2_connection_type\(\) takes a list of connection type names such as \['postgresql'\], "
        rf"got {value!r}; valid names are \['postgresql', .*'sqlite'",
    ):
        StoreInterface.str_2_connection_type(value)
    assert StoreInterface.str_2_connection_type(["SQLite"]) == [ConnectionType.sqlite]


# --------------------------------------------------------------------------------------------
# Connections shared with the caller


@DATABASES_ONLY
def test_a_connection_shared_with_the_caller_is_named_and_an_unshared_one_is_not(deployment, embedded_sqlite_dir):
    database = str(embedded_sqlite_dir / "shared.db")
    flowdeck.add_user("bob", groups=["analysts"])
    flowdeck.add_user("carol")
    flowdeck.add_user("dave")
    flowdeck.add_connection("lite", type="sqlite", owner="alice", database=database)
    flowdeck.share_connection("lite", owner="alice", users=["bob"], groups=[])
    flowdeck.add_connection("secret", type="sqlite", owner="alice", database=database)  # shared with nobody
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    flowdeck.share_run(run.flow_id, owner="alice", users=["bob", "carol"])
    bob = StoreInterface(run.flow_id, user="bob")
    carol = StoreInterface(run.flow_id, user="carol")

    hint = r"^no connection 'lite'; 'lite' is shared with you by 'alice': pass connection_owner='alice'$"
    with pytest.raises(NotFoundError, match=hint):
        bob.db_to_pandas("select 1 as x", "lite")
    with pytest.raises(NotFoundError, match=hint):
        bob.pandas_to_db(pd.DataFrame({"a": [1]}), "t_bob", "lite")
    # Never shared with bob or carol: told exactly what a connection that does not exist is told.
    with pytest.raises(NotFoundError, match=r"^no connection 'secret'$"):
        bob.db_to_pandas("select 1 as x", "secret")
    with pytest.raises(NotFoundError, match=r"^no connection 'lite'$"):
        carol.db_to_pandas("select 1 as x", "lite")
    with pytest.raises(NotFoundError, match=r"^no connection 'lite'$"):
        carol.pandas_to_db(pd.DataFrame({"a": [1]}), "t_carol", "lite")
    with pytest.raises(NotFoundError, match=r"^no connection 'secret'$"):
        carol.db_to_pandas("select 1 as x", "secret")
    # Nothing was written through any refused call.
    tables = StoreInterface(run.flow_id, user="alice").db_to_pandas(
        "select name from sqlite_master where type = 'table'", "lite"
    )
    assert tables["name"].tolist() == []

    # Shared by two owners (one through a group): both are named.
    flowdeck.add_connection("lite", type="sqlite", owner="dave", database=database)
    flowdeck.share_connection("lite", owner="dave", users=[], groups=["analysts"])
    with pytest.raises(
        NotFoundError,
        match=r"^no connection 'lite'; 'lite' is shared with you by 'alice', 'dave': pass connection_owner= one",
    ):
        bob.db_to_pandas("select 1 as x", "lite")
    with pytest.raises(NotFoundError, match=r"^no connection 'lite'$"):
        carol.db_to_pandas("select 1 as x", "lite")
    assert bob.db_to_pandas("select 1 as x", "lite", connection_owner="dave")["x"].tolist() == [1]


@pytest.fixture
def embedded_sqlite_dir(deployment, home):
    """The deployment's directory for sqlite connection files."""
    path = home / "sqlite"
    path.mkdir(exist_ok=True)
    return path
