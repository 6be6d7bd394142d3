"""Scaling benchmark: what one step costs PostgreSQL, steps/s with Celery workers, and commits/s the server takes.

Run ``python benchmarks/scaling.py --database postgresql+psycopg://postgres@127.0.0.1:5432/DB
[--broker redis://127.0.0.1:6379/14] [--runs 40] [--workers 1 2]`` (DB is emptied and used only by
this benchmark). The figures are the ones docs/scaling.md explains:

1. **Statements and bytes per step**: a trivial 3-step flow (each step saves one small output and the
   later ones read the previous step's) run headless in this process; SQLAlchemy event listeners
   count statements (by kind), transactions committed, connection checkouts (each one a ``SELECT
   1`` ping, as the engine pre-pings), and the bytes sent (SQL text + parameters); PostgreSQL's
   ``pg_stat_database`` gives rows inserted/updated/fetched in DB. Divided by 3 steps.
2. **Steps/s with N Celery workers**: N ``flowdeck worker --pool solo`` processes on this
   deployment and a queue of their own; ``--runs`` runs of the flow get their three actions
   (``start``, ``next``, ``next``) in three waves, each wave submitted at once (from 8 threads, so
   that submitting is not the bottleneck) and drained by the workers; steps/s = 3 x runs / time of
   the three waves.
3. **Commits/s the server sustains**: ``pgbench`` (when installed) running a one-row INSERT per
   transaction, ``synchronous_commit`` as the server has it, with 1, 4 and 16 clients for a few
   seconds each against a scratch table in DB; ``max_connections`` and the connections each
   worker and server process opens (pool size + overflow) for the connection ceiling.

It prints the projected ceiling: N_max = min(commits/s / commits per step / steps/s per worker,
max_connections / connections per worker).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flowdeck import Flow, Page, Section, Step, StoreInterface

STEPS = 3


class One(Step):
    """Saves a small output."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        """Save ``n``."""
        StoreInterface(**flow_metadata).save_output({"n": 1}, "n")


class Two(Step):
    """Reads the previous output and saves the next."""

    def run(self, flow_metadata: dict[str, Any]) -> None:
        """Save ``n`` + 1."""
        store = StoreInterface(**flow_metadata)
        store.save_output({"n": store.get_input("n")["n"] + 1}, "n")


class Three(Two):
    """Reads the previous output and saves the next (the last step)."""


trivial = Flow(name="Trivial", description="Three steps that pass a number on").chain(
    [
        One(title="One", page=Page("One", [Section("Main", [])])),
        Two(title="Two", page=Page("Two", [Section("Main", [])])),
        Three(title="Three", page=Page("Three", [Section("Main", [])])),
    ]
)


def _statement_kind(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
    return word if word in ("SELECT", "INSERT", "UPDATE", "DELETE") else "other"


def statements_per_step(flow: Flow, runs: int) -> dict[str, float]:
    """Run ``flow`` headless ``runs`` times; per-step statement, commit and byte counts."""
    import sqlalchemy as sa

    import flowdeck
    from flowdeck.storage.deployment import get_storage

    engine = get_storage().db.engine
    counts: Counter[str] = Counter()

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        counts["statements"] += 1
        counts[_statement_kind(statement)] += 1
        counts["bytes sent"] += len(statement.encode()) + len(repr(parameters).encode())

    def commit(conn: Any) -> None:
        counts["commits"] += 1

    def checkout(*_: Any) -> None:
        counts["checkouts (ping)"] += 1

    flowdeck.start(flow, user="bench").next().next()  # warm: imports, caches, prepared plans
    stats_before = _db_stats(engine)
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "commit", commit)
    sa.event.listen(engine.pool, "checkout", checkout)
    started = time.perf_counter()
    try:
        for _ in range(runs):
            flowdeck.start(flow, user="bench").next().next()
    finally:
        elapsed = time.perf_counter() - started
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "commit", commit)
        sa.event.remove(engine.pool, "checkout", checkout)
    time.sleep(1.0)  # PostgreSQL publishes a backend's counters when it goes idle
    stats_after = _db_stats(engine)
    steps = runs * STEPS
    out = {k: v / steps for k, v in counts.items()}
    for key in stats_after:
        out[f"pg {key}"] = (stats_after[key] - stats_before[key]) / steps
    out["ms per step (in process)"] = elapsed / steps * 1e3
    return out


def _db_stats(engine: Any) -> dict[str, int]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select xact_commit, tup_inserted, tup_updated, tup_deleted, tup_fetched "
                "from pg_stat_database where datname = current_database()"
            )
        ).one()
    return dict(row._mapping)


def steps_per_second(flow_ref: str, workers: int, runs: int, broker: str, settings: Any) -> float:
    """Steps/s of ``workers`` solo-pool worker processes draining ``runs`` x 3 actions."""
    from flowdeck.flow.executors import CeleryExecutor
    from flowdeck.flow.loader import load_flow_file
    from flowdeck.flow.runner import create_run

    flow, _ = load_flow_file(flow_ref)
    queue = f"flowdeck-scaling-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDECK_")}
    env.update(
        FLOWDECK_HOME=str(settings.home),
        FLOWDECK_DATABASE_URL=settings.database_url,
        FLOWDECK_SECRET_KEY=settings.secret_key,
        FLOWDECK_EXECUTOR="celery",
        FLOWDECK_BROKER_URL=broker,
    )
    if settings.blob_url:
        env["FLOWDECK_BLOB_URL"] = settings.blob_url
    log = Path(tempfile.mkdtemp(prefix="fd-scaling-")).joinpath("worker.log").open("wb")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flowdeck", "worker", "--pool", "solo", "--queue", queue, "--loglevel", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(workers)
    ]
    executor = CeleryExecutor(queue=queue)
    try:
        # Warm the workers (imports, connections) with one run before timing.
        warm = create_run(flow, user="bench")
        for action in ("start", "next", "next"):
            executor.submit(warm.flow_id, "bench", action)
            if not executor.wait(warm.flow_id, timeout=120):
                raise RuntimeError(f"workers did not finish the warm-up run; log: {log.name}")
        flow_ids = [create_run(flow, user="bench").flow_id for _ in range(runs)]
        peak_connections = 0
        started = time.perf_counter()
        for action in ("start", "next", "next"):
            # Submitting claims the action in the database: from several threads, so that the
            # submitting side is not what limits the workers.
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda flow_id, a=action: executor.submit(flow_id, "bench", a), flow_ids))
            peak_connections = max(peak_connections, _connections(settings.database_url))
            for flow_id in flow_ids:
                if not executor.wait(flow_id, timeout=300):
                    raise RuntimeError(f"run {flow_id} did not finish {action}; log: {log.name}")
        elapsed = time.perf_counter() - started
        states = Counter(flowdeck_state(flow_id) for flow_id in flow_ids)
        if set(states) != {"awaiting_input"} and set(states) != {"complete"}:
            raise RuntimeError(f"runs ended in states {dict(states)}; log: {log.name}")
        print(f"  {workers} worker(s): peak {peak_connections} connections to the database (all processes)")
        return runs * STEPS / elapsed
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _connections(database_url: str) -> int:
    """Connections open to the benchmark's database now (pg_stat_activity), from every process."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            query = "select count(*) from pg_stat_activity where datname = current_database()"
            return int(conn.execute(sa.text(query)).scalar_one()) - 1
    finally:
        engine.dispose()


def flowdeck_state(flow_id: str) -> str:
    """The state of a run."""
    from flowdeck.flow.runner import open_run

    return open_run(flow_id, user="bench").state


def commits_per_second(database: str, clients: list[int], seconds: int) -> dict[int, float]:
    """Transactions/s of pgbench running a one-row INSERT per transaction with each number of clients."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        return {}
    match = re.match(r"postgresql\+?\w*://(?P<user>[^@:/]+)@(?P<host>[^:/]+):?(?P<port>\d*)/(?P<db>\w+)", database)
    if match is None:
        raise SystemExit(f"cannot read user, host, port and database from {database!r}")
    args = ["-h", match["host"], "-p", match["port"] or "5432", "-U", match["user"]]
    script = Path(tempfile.mkdtemp(prefix="fd-scaling-")) / "insert.sql"
    script.write_text("insert into scaling_commits (at) values (now());\n")
    psql = shutil.which("psql") or "psql"
    subprocess.run(
        [
            psql,
            *args,
            "-q",
            "-d",
            match["db"],
            "-c",
            "create table if not exists scaling_commits (id bigserial, at timestamptz)",
        ],
        check=True,
    )
    out = {}
    try:
        for n in clients:
            result = subprocess.run(
                [
                    pgbench,
                    *args,
                    "-n",
                    "-c",
                    str(n),
                    "-j",
                    str(min(n, 2)),
                    "-T",
                    str(seconds),
                    "-f",
                    str(script),
                    match["db"],
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            tps = re.search(r"tps = ([\d.]+)", result.stdout)
            out[n] = float(tps.group(1)) if tps else float("nan")
    finally:
        subprocess.run([psql, *args, "-q", "-d", match["db"], "-c", "drop table if exists scaling_commits"], check=True)
        script.unlink()
    return out


def main() -> None:
    """Measure, print the figures and the projected ceiling."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL URL of a database for this benchmark only")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--runs", type=int, default=40, help="runs per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pgbench-seconds", type=int, default=5)
    parser.add_argument("--skip-workers", action="store_true")
    args = parser.parse_args()
    # The trivial steps store no page on purpose; the warning about it is not news here.
    logging.getLogger("flowdeck.lifecycle").setLevel(logging.ERROR)

    import sqlalchemy as sa

    import flowdeck
    from flowdeck.config import configure, get_settings
    from flowdeck.storage.deployment import get_storage

    home = tempfile.mkdtemp(prefix="fd-scaling-")
    engine = sa.create_engine(args.database)
    with engine.begin() as conn:  # an empty database: drop what an earlier run left
        conn.execute(sa.text("drop schema public cascade"))
        conn.execute(sa.text("create schema public"))
    engine.dispose()
    configure(home=home, database_url=args.database, blob_url=None, executor="celery", broker_url=args.broker)
    flowdeck.add_user("bench")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; PostgreSQL {_server_version(get_storage().db.engine)}")

    per_step = statements_per_step(trivial, args.runs)
    print(f"per step (trivial 3-step flow, {args.runs} runs, headless in one process):")
    for key, value in per_step.items():
        print(f"  {key:28s} {value:10.1f}")

    rates: dict[int, float] = {}
    if not args.skip_workers:
        ref = f"{Path(__file__).resolve()}:trivial"
        for n in args.workers:
            rates[n] = steps_per_second(ref, n, args.runs, args.broker, get_settings())
            print(f"steps/s with {n} Celery worker(s) (solo pool): {rates[n]:6.1f}  (load {os.getloadavg()[0]:.2f})")

    tps = commits_per_second(args.database, [1, 4, 16], args.pgbench_seconds)
    for n, value in tps.items():
        print(f"pgbench one-row INSERT commits/s, {n:2d} clients: {value:8.0f}")
    engine = get_storage().db.engine
    with engine.connect() as conn:
        max_connections = int(conn.execute(sa.text("show max_connections")).scalar_one())
        synchronous_commit = conn.execute(sa.text("show synchronous_commit")).scalar_one()
    per_process = engine.pool.size() + engine.pool._max_overflow
    print(
        f"max_connections {max_connections}; synchronous_commit {synchronous_commit}; "
        f"connections per process: pool {engine.pool.size()} + overflow {engine.pool._max_overflow}"
    )
    if rates and tps:
        per_worker = rates[min(rates)] / min(rates)
        commits = per_step["commits"]
        best_tps = max(tps.values())
        by_commits = best_tps / (commits * per_worker)
        by_connections_used = max_connections  # a solo worker holds one connection at a time
        print(
            f"projected: one worker does {per_worker:.1f} steps/s x {commits:.1f} commits = "
            f"{per_worker * commits:.0f} commits/s; the server takes {best_tps:.0f}/s -> N_max by commits "
            f"~{by_commits:.0f} workers; by connections {by_connections_used} solo workers "
            f"({max_connections // per_process} processes if each filled its pool)"
        )


def _server_version(engine: Any) -> str:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return str(conn.execute(sa.text("show server_version")).scalar_one())


if __name__ == "__main__":
    sys.exit(main())
