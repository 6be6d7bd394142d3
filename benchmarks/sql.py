"""Race flowdeck's DataFrame writes and reads against pandas' own, on one PostgreSQL database.

    python benchmarks/sql.py [--rows 1000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Writes N rows of mixed columns (int, float, str, bool, timestamp) with ``write_frame`` and with
``DataFrame.to_sql`` (default and ``method='multi'``) through the same engine, then reads the
table back with ``read_frame`` and with ``pandas.read_sql``, and prints the time ratios.
``method='multi'`` is so slow that it is timed on ``--multi-rows`` rows and compared per row.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from flowdeck.storage import external_sql
from flowdeck.storage.external_sql import read_frame, write_frame

try:
    import adbc_driver_postgresql  # noqa: F401

    HAS_ADBC = True
except ImportError:
    HAS_ADBC = False

WRITE_TARGET = 5.0
READ_TARGET = 1.5


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A frame of ``rows`` rows with int, nullable int, float, str, bool and timestamp columns."""
    rng = np.random.default_rng(seed)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon, with comma", 'quote "q"', ""])
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "qty": pd.array(rng.integers(0, 1000, rows), dtype="Int64"),
            "price": rng.normal(100, 15, rows),
            "label": pd.Series(words[rng.integers(0, len(words), rows)], dtype="str"),
            "flag": rng.random(rows) < 0.5,
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**9, rows), unit="s"),
        }
    )


def timed(label: str, fn: Callable[[], Any]) -> float:
    """Run ``fn`` once and print and return its wall time in seconds."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    print(f"  {label:<48} {elapsed:8.2f} s")
    return elapsed


def main() -> None:
    """Run the benchmark and print the ratios against the targets."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--multi-rows",
        type=int,
        default=100_000,
        help="rows for to_sql(method='multi'), which is far slower than the rest (default 100,000; "
        "its ratio is per row)",
    )
    args = parser.parse_args()

    engine = sa.create_engine(args.url)
    df = make_frame(args.rows)
    suffix = uuid.uuid4().hex[:8]
    tables = {name: f"bench_{name}_{suffix}" for name in ("flowdeck", "to_sql", "to_sql_multi")}
    print(f"{args.rows:,} rows x {df.shape[1]} columns into {engine.url.render_as_string(hide_password=True)}")
    try:
        print("write")
        ours = timed("write_frame (COPY, atomic swap)", lambda: write_frame(engine, df, tables["flowdeck"]))
        base = timed("DataFrame.to_sql (default)", lambda: df.to_sql(tables["to_sql"], engine, index=False))
        multi_rows = min(args.multi_rows, args.rows)
        multi = timed(
            f"DataFrame.to_sql (method='multi') {multi_rows:,} rows",
            lambda: df.head(multi_rows).to_sql(
                tables["to_sql_multi"], engine, index=False, method="multi", chunksize=5_000
            ),
        )
        print("read")
        query = f"SELECT * FROM {tables['flowdeck']}"
        pd_read = timed("pandas.read_sql", lambda: pd.read_sql(query, engine))
        fd_read = timed("read_frame" + (" (ADBC binary COPY)" if HAS_ADBC else ""), lambda: read_frame(engine, query))
        csv_read = fd_read
        if HAS_ADBC:
            external_sql._ADBC_ENABLED = False
            try:
                csv_read = timed("read_frame (COPY TO + Arrow CSV)", lambda: read_frame(engine, query))
            finally:
                external_sql._ADBC_ENABLED = True

        back = read_frame(engine, query + " ORDER BY id")
        assert isinstance(back, pd.DataFrame)
        assert len(back) == args.rows and back["id"].tolist()[:5] == list(range(5))

        print("ratios")
        write_ratio, read_ratio = base / ours, pd_read / fd_read
        multi_ratio = (multi / multi_rows) / (ours / args.rows)
        print(f"  write vs to_sql default   {write_ratio:6.1f}x  (target >= {WRITE_TARGET}x)")
        print(f"  write vs to_sql multi     {multi_ratio:6.1f}x  (per row)")
        print(f"  read  vs read_sql         {read_ratio:6.1f}x  (target >= {READ_TARGET}x)")
        if HAS_ADBC:
            print(f"  read (CSV path) vs read_sql {pd_read / csv_read:4.1f}x  (without adbc-driver-postgresql)")
        ok = write_ratio >= WRITE_TARGET and read_ratio >= READ_TARGET
        print("targets met" if ok else "TARGETS MISSED")
    finally:
        with engine.begin() as conn:
            for table in tables.values():
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        engine.dispose()


if __name__ == "__main__":
    main()
