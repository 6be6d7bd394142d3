"""Race datastore assets against pandas on PostgreSQL: bulk save, and a selective query.

    python benchmarks/datastore.py [--rows 1000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Creates a scratch database, makes it a flowdeck deployment, then:

* save: ``save_datastore_asset`` of N rows (with an index on ``customer``) against
  ``DataFrame.to_sql`` of the same frame through the same engine (target ≥ 5x faster);
* query: ``query_datastore_asset(where_=customer == k)`` against loading the whole table with
  ``pandas.read_sql`` and filtering in pandas (target ≥ 10x faster).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

SAVE_TARGET = 5.0
QUERY_TARGET = 10.0


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` rows: an id, a customer (about 50 rows each), an amount, a region and a timestamp."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype="int64"),
            "customer": rng.integers(0, max(rows // 50, 2), rows, dtype="int64"),
            "amount": rng.random(rows).round(4),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**8, rows), unit="s"),
        }
    )


def timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; print and return its wall time and result."""
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"  {label:<58} {elapsed:8.3f} s")
    return elapsed, result


def main() -> int:
    """Run the race and print the ratios; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    import flowdeck
    from flowdeck import StoreInterface
    from flowdeck.storage.deployment import reset_storage

    base = sa.make_url(args.url)
    name = f"fd_bench_ds_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        with tempfile.TemporaryDirectory() as home:
            flowdeck.configure(home=home, database_url=url, blob_url=f"file://{Path(home) / 'blobs'}")
            run = flowdeck.start(_flow(), user="bench")
            store = StoreInterface(run.flow_id, user="bench")
            df = make_frame(args.rows)
            print(f"{args.rows:,} rows on {base.get_backend_name()}")
            save_s, _ = timed(
                "save_datastore_asset (COPY, index on customer)",
                lambda: store.save_datastore_asset(df, "sales", indexes=["customer"]),
            )
            to_sql_s, _ = timed(
                "DataFrame.to_sql (no index)",
                lambda: df.to_sql("sales_to_sql", engine, index=False, chunksize=10_000),
            )
            table = sa.Table(
                "sales",
                sa.MetaData(),
                sa.Column("row_id", sa.BigInteger),
                sa.Column("customer", sa.BigInteger),
                sa.Column("amount", sa.Float),
                sa.Column("region", sa.Text),
                sa.Column("at", sa.DateTime),
            )
            key = int(df["customer"].iloc[12345 % len(df)])
            query_s, got = timed(
                f"query_datastore_asset(where_=customer == {key})",
                lambda: store.query_datastore_asset(table, where_=table.c.customer == key),
            )
            load_s, expected = timed(
                "pandas.read_sql of the table, then filter",
                lambda: (lambda whole: whole[whole["customer"] == key])(pd.read_sql_table("sales", engine)),
            )
            assert len(got) == len(expected), (len(got), len(expected))
            save_ratio, query_ratio = to_sql_s / save_s, load_s / query_s
            print(f"save:  {save_ratio:6.1f}x faster than to_sql (target ≥ {SAVE_TARGET}x)")
            print(f"query: {query_ratio:6.1f}x faster than load-all-and-filter (target ≥ {QUERY_TARGET}x)")
            reset_storage()
    finally:
        engine.dispose()
        from flowdeck.storage.deployment import reset_storage as _reset

        _reset()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return 0 if save_ratio >= SAVE_TARGET and query_ratio >= QUERY_TARGET else 1


def _flow() -> Any:
    from flowdeck import Flow, Step, StepType

    class Noop(Step):
        def run(self, flow_metadata: Any) -> None:
            """Nothing: the benchmark only needs a run to hold a StoreInterface."""

    flow = Flow(name="Datastore benchmark", description="Races save_datastore_asset against to_sql.")
    flow.chain([Noop(title="Noop", type=StepType.RESULTS)])
    return flow


if __name__ == "__main__":
    sys.exit(main())
