"""Datastore assets: tables in the database, queries pushed down, atomic overwrite, access rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import flowdeck
import headless_flows
from flowdeck import AssetType, StoreInterface
from flowdeck.errors import AccessError, AlreadyExistsError, NotFoundError, ValidationError
from flowdeck.storage.datastore import datastore_engine


class Base(DeclarativeBase):
    pass


class Sales(Base):
    __tablename__ = "sales"
    row_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    customer: Mapped[int] = mapped_column(sa.BigInteger)
    amount: Mapped[float] = mapped_column(sa.Float)
    region: Mapped[str] = mapped_column(sa.Text)


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype="int64"),
            "customer": rng.integers(0, max(rows // 50, 2), rows, dtype="int64"),
            "amount": rng.random(rows).round(4),
            "region": rng.choice(["north", "south", "east", "west"], rows),
        }
    )


def _drop_tables() -> None:
    # the PostgreSQL test database is shared by the backends of a session; flowdeck's own tables
    # are emptied between tests, datastore tables are dropped here
    engine = datastore_engine()
    with engine.begin() as conn:
        for name in ("sales", "tagged"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def store(deployment: str) -> Iterator[StoreInterface]:
    _drop_tables()
    flowdeck.register_flow(headless_flows.one_step)
    flow_id = flowdeck.run_headless("One step", "alice")
    yield StoreInterface(flow_id, user="alice")
    _drop_tables()


def _expected(df: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    return df[mask].sort_values("row_id").reset_index(drop=True)


def test_save_and_query_pushes_the_filter_down(store: StoreInterface, deployment: str) -> None:
    df = frame(20_000)
    asset_id = store.save_datastore_asset(df, "sales", description="daily sales", indexes=["customer"])
    got = store.query_datastore_asset(Sales, where_=Sales.customer == 7).sort_values("row_id").reset_index(drop=True)
    assert_frame_equal(got, _expected(df, df["customer"] == 7))
    picked = store.query_datastore_asset(
        Sales, select_=sa.select(Sales.region, sa.func.count().label("n")).group_by(Sales.region).order_by(Sales.region)
    )
    expected = df.groupby("region").size().rename("n").reset_index()
    assert_frame_equal(picked, expected, check_dtype=False)
    asset = store.get_asset_by_id(asset_id)
    assert asset.type == AssetType.DATASTORE and asset.label == "sales" and asset.description == "daily sales"
    assert asset.object["rows"] == 20_000 and asset.object["indexes"] == [["customer"]]


def test_the_index_is_used(store: StoreInterface, deployment: str) -> None:
    df = frame(20_000)
    store.save_datastore_asset(df, "sales", indexes=["customer"])
    engine = datastore_engine()
    query = sa.select(Sales).where(Sales.customer == 7)
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}").scalar_one()
            node = plan[0]["Plan"]
            nodes = [node, *node.get("Plans", [])]
            scans = [n for n in nodes if "Index" in n["Node Type"]]
            assert scans, plan
            assert scans[-1]["Index Name"] == "ix_sales_customer"
            # rows the index scan produced (what was read), against the whole table
            assert scans[-1]["Actual Rows"] < 0.05 * len(df)
        elif engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
            assert "USING INDEX ix_sales_customer" in plan, plan
        else:
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
            assert "ix_sales_customer" in plan, plan


def test_overwrite_keeps_versions_and_readers_never_see_an_empty_table(store: StoreInterface, deployment: str) -> None:
    sizes = [3_000, 5_000]
    store.save_datastore_asset(frame(sizes[0]), "sales", indexes=["customer"])
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    reader = StoreInterface(store.flow_id, user="alice")
    count = sa.select(sa.func.count()).select_from(Sales.__table__)

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(int(reader.query_datastore_asset(Sales, select_=count).iloc[0, 0]))
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(4):
            store.save_datastore_asset(frame(sizes[(i + 1) % 2], seed=i), "sales", indexes=["customer"])
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors
    assert len(seen) > 3 and set(seen) <= set(sizes), sorted(set(seen))
    versions = store.get_assets(label="sales", type=AssetType.DATASTORE)
    assert [v.version for v in versions] == [5, 4, 3, 2, 1]
    with pytest.raises(AlreadyExistsError, match="datastore asset 'sales' exists already; pass overwrite_if_exists"):
        store.save_datastore_asset(frame(10), "sales", overwrite_if_exists=False)


def test_encode_columns_round_trip(store: StoreInterface, deployment: str) -> None:
    df = pd.DataFrame({"row_id": [1, 2], "tags": [["a", "b"], {"k": 1}]})
    store.save_datastore_asset(df, "tagged", encode_columns=["tags"])
    table = sa.Table("tagged", sa.MetaData(), sa.Column("row_id", sa.BigInteger), sa.Column("tags", sa.Text))
    got = store.query_datastore_asset(table, select_=sa.select(table).order_by(table.c.row_id))
    assert got["tags"].tolist() == [["a", "b"], {"k": 1}]


def test_another_user_gets_not_found_unless_shared(store: StoreInterface, deployment: str) -> None:
    asset_id = store.save_datastore_asset(frame(100), "sales")
    flowdeck.register_flow(headless_flows.one_step)
    bob = StoreInterface(flowdeck.run_headless("One step", "bob"), user="bob")
    with pytest.raises(NotFoundError, match="no datastore asset 'sales' visible to user 'bob'"):
        bob.query_datastore_asset(Sales)
    with pytest.raises(NotFoundError, match=f"no asset {asset_id!r}"):
        bob.query_datastore_asset(Sales, asset_id=asset_id)
    # nor may bob replace alice's table by saving under its name
    with pytest.raises(AccessError, match="table name 'sales' belongs to another user's datastore asset"):
        bob.save_datastore_asset(frame(5), "sales")
    assert len(store.query_datastore_asset(Sales)) == 100
    flowdeck.share_asset(asset_id, owner="alice", users=["bob"])
    assert len(bob.query_datastore_asset(Sales)) == 100


def test_attacks_are_refused_and_harmless(store: StoreInterface, deployment: str) -> None:
    # a name that is one of flowdeck's own tables would replace it: refused, runs intact
    with pytest.raises(ValidationError, match="datastore asset name 'runs' is the name of one of flowdeck's own"):
        store.save_datastore_asset(pd.DataFrame({"id": [1]}), "runs")
    assert store.get_flow_status().state == "complete"
    with pytest.raises(ValidationError, match="is not a valid SQL table name"):
        store.save_datastore_asset(pd.DataFrame({"id": [1]}), 'x"; DROP TABLE runs; --')
    store.save_datastore_asset(frame(100), "sales")
    runs = sa.Table("runs", sa.MetaData(), sa.Column("id", sa.String), sa.Column("owner", sa.String))
    with pytest.raises(AccessError, match="this query reads table 'runs'; a datastore query may read only"):
        store.query_datastore_asset(
            Sales, select_=sa.select(Sales.row_id).union(sa.select(runs.c.id)).subquery().select()
        )
    other_schema = sa.Table("sales", sa.MetaData(), sa.Column("row_id", sa.BigInteger), schema="private")
    with pytest.raises(AccessError, match=r"this query reads table 'private\.sales'"):
        store.query_datastore_asset(Sales, select_=sa.select(other_schema.c.row_id))
    with pytest.raises(AccessError, match="raw SQL text"):
        store.query_datastore_asset(Sales, where_=sa.text("1=1 UNION SELECT id FROM runs"))
    with pytest.raises(AccessError, match="function 'pg_read_file' is not allowed"):
        store.query_datastore_asset(Sales, select_=sa.select(sa.func.pg_read_file("/etc/passwd")))


@pytest.mark.slow
@pytest.mark.parametrize("deployment", ["sqlite", "postgres"], indirect=True)
def test_a_million_rows(store: StoreInterface, deployment: str) -> None:
    df = frame(1_000_000)
    store.save_datastore_asset(df, "sales", indexes=["customer"])
    got = store.query_datastore_asset(Sales, where_=Sales.customer == 123).sort_values("row_id").reset_index(drop=True)
    assert_frame_equal(got, _expected(df, df["customer"] == 123))
    assert 0 < len(got) < 0.05 * len(df)
    count = sa.select(sa.func.count()).select_from(Sales.__table__)
    assert int(store.query_datastore_asset(Sales, select_=count).iloc[0, 0]) == 1_000_000
