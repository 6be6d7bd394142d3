"""Per-step overhead benchmark: a trivial step, and small outputs, against one durable SQLite commit.

Run ``python benchmarks/steps.py [--runs 60] [--steps 5] [--small 1000] [--database-url URL]``.

Everything is measured in the same run, by default on the embedded deployment (SQLite + local
files, a fresh temporary FLOWDECK_HOME):

- the floor: one bare ``sqlite3`` commit in WAL mode with ``synchronous=FULL`` (the durability
  flowdeck uses) of a one-row insert into a tiny table in a file on the same disk (median of
  ``--floor`` / ``--runs`` commits timed right before each run);
- per-step overhead: ``flowdeck.start`` + ``next()`` through a flow of ``--steps`` trivial steps
  (no page update, no output), the time of the whole run divided by its steps; the ratio is the
  median over ``--runs`` runs of (per-step time / the floor timed just before);
- durable commits and SQL statements per step, counted with SQLAlchemy event listeners on the
  deployment's engine over runs of their own after the timed ones, since the listeners add a cost
  to every statement (read transactions, which write nothing, are counted apart);
- small ``save_output`` (a 10-key dict) and small ``get_input`` of another from the step before
  (alternated call by call, median of ``--small`` calls each), with commits and statements per call
  (counted over 100 more calls).

Each timing follows a write to ~512 MiB of fresh memory, since the host reclaims idle memory and
would otherwise inflate whichever timing comes first. Prints the load average, the ratios against
their targets (per-step overhead / one commit <= 10x; small get_input / small save_output <= 1.0x,
stretch 0.5x) and PASS/FAIL; exits 1 on FAIL.

``--database-url`` (e.g. PostgreSQL) runs the flowdeck side on that database instead (the floor
stays a local SQLite commit); the counts per step are what matter there.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

import flowdeck
from flowdeck import Flow, Step, StoreInterface
from flowdeck.storage.deployment import get_storage

STEP_TARGET = 10.0  # per-step overhead / one durable commit
SMALL_TARGET = 1.0  # small get_input / small save_output
SMALL_STRETCH = 0.5
COMMITS_TARGET = 10  # durable commits per step
WARM_BYTES = 512 * 1024**2


def warm_memory() -> None:
    """Write ~512 MiB of fresh memory (and free it), so that the next timing starts on resident pages."""
    block = np.empty(WARM_BYTES // 8)
    block[::512] = 1.0  # one write per 4 KiB page makes every page resident
    del block


def median_per_call(fn: Callable[[int], object], calls: int) -> float:
    """Median seconds of one call over ``calls`` calls (memory warmed once before)."""
    warm_memory()
    times = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Counter:
    """SQL statements, commits and rollbacks (read transactions) on engines, by event listeners."""

    def __init__(self, engines: tuple[sa.engine.Engine, ...]) -> None:
        self.statements = self.commits = self.rollbacks = 0
        for engine in engines:
            sa.event.listen(engine, "before_cursor_execute", self._statement)
            sa.event.listen(engine, "commit", self._commit)
            sa.event.listen(engine, "rollback", self._rollback)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1

    def _rollback(self, *_: Any) -> None:
        self.rollbacks += 1

    def snapshot(self) -> tuple[int, int, int]:
        """(statements, commits, rollbacks) so far."""
        return self.statements, self.commits, self.rollbacks


class Floor:
    """One WAL ``synchronous=FULL`` commit of a one-row insert into a tiny SQLite table."""

    def __init__(self, directory: Path) -> None:
        self.db = sqlite3.connect(directory / "floor.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, value INTEGER)")
        for i in range(20):
            self.commit(i)

    def commit(self, i: int) -> None:
        """One durable commit."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO t (value) VALUES (?)", (i,))
        self.db.execute("COMMIT")

    def median(self, commits: int) -> float:
        """Median seconds of one commit over ``commits`` commits."""
        return median_per_call(self.commit, commits)


class Trivial(Step):
    """A step that does nothing."""

    def run(self, flow_metadata: Any, *args: Any, **kwargs: Any) -> None:
        """Nothing to do."""


def trivial_flow(steps: int) -> Flow:
    """A flow of ``steps`` trivial results steps."""
    return Flow(name="trivial", description="").chain(
        [Trivial(title=f"step {i}", type="results") for i in range(steps)]
    )


def one_run(flow: Flow, steps: int) -> None:
    """Start a run and press Next until it is complete."""
    run = flowdeck.start(flow, user="bench")
    for _ in range(steps):
        run.next()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="runs of the trivial flow")
    parser.add_argument("--steps", type=int, default=5, help="steps of the trivial flow")
    parser.add_argument("--small", type=int, default=1000, help="calls for the small save/get figures")
    parser.add_argument("--floor", type=int, default=1200, help="commits for the floor (spread over the runs)")
    parser.add_argument("--database-url", default=None, help="run flowdeck on this database (default: SQLite)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the trivial runs")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="flowdeck-bench-steps-"))
    flowdeck.configure(home=str(home), database_url=args.database_url, blob_url=None)
    backend = get_storage().db.dialect

    flow = trivial_flow(args.steps)
    for _ in range(3):  # warm: imports, caches, the first connections
        one_run(flow, args.steps)
    last = flowdeck.list_runs(user="bench")[0]
    assert last.state == "complete" and all(s.state == "complete" for s in last.steps), last

    floor = Floor(home)

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.runs):
            one_run(flow, args.steps)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)

    # The disk's speed swings on a shared machine: the floor is timed right before each run and the
    # ratio is the median of those pairs.
    floors, steps, pairs, cpu = [], [], [], []
    for _ in range(args.runs):
        base = floor.median(max(1, args.floor // args.runs))
        warm_memory()
        start, start_cpu = time.perf_counter(), time.thread_time()
        one_run(flow, args.steps)
        elapsed = (time.perf_counter() - start) / args.steps
        cpu.append((time.thread_time() - start_cpu) / args.steps)
        floors.append(base)
        steps.append(elapsed)
        pairs.append(elapsed / base)
    per_step, floor_time, step_ratio = statistics.median(steps), statistics.median(floors), statistics.median(pairs)

    # Counted in runs of their own: the counting listeners put a cost on every statement and commit
    # that is the benchmark's, not flowdeck's, so the timed runs above go without them.
    counter = Counter(get_storage().db.engines)
    counted_runs = max(10, args.runs // 4)
    for _ in range(counted_runs):
        one_run(flow, args.steps)
    done = counted_runs * args.steps
    step_statements, step_commits, step_reads = (c / done for c in counter.snapshot())

    # Small outputs: saved by the first step of a two-step run, read by the second.
    pair = Flow(name="pair", description="").chain([Trivial(title="writer"), Trivial(title="reader")])
    run = flowdeck.start(pair, user="bench")
    writer = StoreInterface(run.flow_id, user="bench", step_name="writer")
    small = {f"key{i}": i * 1.5 for i in range(10)}
    writer.save_output(small, "small")
    run.next()
    reader = StoreInterface(run.flow_id, user="bench", step_name="reader")
    assert reader.get_input("small") == small
    for _ in range(20):
        reader.save_output(small, "mine")
        reader.get_input("small")

    # Alternated call by call, so that both see the same disk and load (uncounted, as above).
    warm_memory()
    saves, gets = [], []
    for i in range(args.small):
        start = time.perf_counter()
        reader.save_output({**small, "i": i}, "mine")
        middle = time.perf_counter()
        reader.get_input("small")
        saves.append(middle - start)
        gets.append(time.perf_counter() - middle)
    save, get = statistics.median(saves), statistics.median(gets)
    counted_calls = 100
    save_counts, get_counts = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    for i in range(counted_calls):
        before = counter.snapshot()
        reader.save_output({**small, "i": -i}, "mine")
        middle_counts = counter.snapshot()
        reader.get_input("small")
        after = counter.snapshot()
        save_counts = [c + (m - b) / counted_calls for c, m, b in zip(save_counts, middle_counts, before, strict=True)]
        get_counts = [c + (a - m) / counted_calls for c, a, m in zip(get_counts, after, middle_counts, strict=True)]

    small_ratio = get / save
    passed = step_ratio <= STEP_TARGET and small_ratio <= SMALL_TARGET and step_commits <= COMMITS_TARGET
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"backend: {backend}; load average {load}; {args.runs} runs of {args.steps} trivial steps")
    print(f"floor: one WAL synchronous=FULL SQLite commit      {floor_time * 1e6:9.1f} us")
    print(
        f"per-step overhead (start + next)                   {per_step * 1e6:9.1f} us   median paired "
        f"ratio {step_ratio:5.2f}x (target <= {STEP_TARGET:g}x) {'ok' if step_ratio <= STEP_TARGET else 'MISSED'}"
    )
    print(
        f"  per step: {step_commits:.2f} durable commits (target <= {COMMITS_TARGET}), "
        f"{step_statements:.1f} SQL statements, {step_reads:.2f} read transactions; "
        f"CPU time of this thread {statistics.median(cpu) * 1e6:.0f} us"
    )
    print(
        f"small save_output                                  {save * 1e6:9.1f} us   "
        f"({save_counts[1]:.2f} commits, {save_counts[0]:.1f} statements, {save_counts[2]:.2f} reads)"
    )
    print(
        f"small get_input                                    {get * 1e6:9.1f} us   "
        f"({get_counts[1]:.2f} commits, {get_counts[0]:.1f} statements, {get_counts[2]:.2f} reads)"
    )
    verdict = "ok" if small_ratio <= SMALL_TARGET else "MISSED"
    stretch = " (stretch <= 0.5x met)" if small_ratio <= SMALL_STRETCH else ""
    print(
        f"small get_input / small save_output ratio {small_ratio:5.2f}x "
        f"(target <= {SMALL_TARGET:g}x) {verdict}{stretch}"
    )
    print("PASS" if passed else "FAIL")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
