"""Benchmark ``flowdeck serve``: 50 clients reading pages while 10 follow live progress events.

Starts ``flowdeck serve`` on 127.0.0.1 with the embedded default deployment (SQLite and local
blobs in a temporary home), serving the churn example and the ``ticker`` flow below, and applies
this load (the defaults; the options change the figures):

* **Page reads (measured):** 50 clients each read the churn example's "Choose analysis" page
  (``GET /api/runs/{id}/steps/{step}/page``: the page JSON with a 20-row table, ~2 KB) once a
  second, each at its own random phase of the second, for ``--seconds`` (20) seconds: 50
  requests a second in all (``--interval 0``: each client reads back to back). Each read must
  answer 200 with the page.
* **Progress (10 clients):** each client, over and over until the page reads end, starts a ticker
  run (``POST /api/runs``, 201 with the run busy), follows its first step's server-sent events
  until the run is idle, sends ``POST .../next`` (202), and receives the second step's progress
  events (``GET /api/runs/{id}/events?after=<last_event_id>&until_idle=true``). That step
  reports progress 21 times, 0.25 s apart (``--tick``): 4 events a second per run, 40 a second
  for the 10 runs, each written to the database by the step and read back by the server's
  event poller. Every event must arrive, and every run must end on its last step without error.
  The clients begin at random moments over one run's length (~6 s) before the page reads start,
  so 10 runs are in flight throughout the measured period, at different points of their steps.

Steps run where the deployment runs them. ``--executor inline`` (the default, the embedded
deployment): in a pool of threads in the server process. ``--executor celery``: on a separate
``flowdeck worker`` process started by this script (threads pool), fed through Redis at
``--broker`` (redis://127.0.0.1:6379/14), the deployment docs/executors.md recommends at scale.

Prints page-read throughput and p50/p99 latency, how many progress events the followers received
and the delay from an event being recorded to a client receiving it, and every error.
Target (issue 7): page reads p99 < 100 ms on a 2-core machine, no errors. The client runs on the
same machine as the server and takes its share of the two cores.

    python benchmarks/server.py [--seconds 20] [--readers 50] [--followers 10] [--interval 1.0]
                                [--tick 0.25] [--executor inline|celery] [--broker URL]

Exits 1 when there were errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from served import free_port, percentile, start_flowdeck, stop, wait_for_server, wait_idle

from flowdeck import Card, Flow, Page, Section, Step, StepType, StoreInterface, TextInput

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn" / "flow.py"
CHURN_CSV = ROOT / "examples" / "churn" / "customers.csv"
PAGE_STEP = "Choose analysis"


class Begin(Step):
    """An input page with nothing required."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Note", [TextInput(title="Note")]), "Main")
        store.update_page(page)


class Tick(Step):
    """Reports progress ``ticks + 1`` times, ``FLOWDECK_BENCH_TICK`` seconds apart; each message is its time."""

    ticks = 20

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        pause = float(os.environ.get("FLOWDECK_BENCH_TICK", "0.25"))
        for i in range(self.ticks + 1):
            store.update_progress(100 * i / self.ticks, f"{time.time():.6f}")
            time.sleep(pause)


ticker = Flow(name="Ticker", description="Reports progress 21 times, FLOWDECK_BENCH_TICK seconds apart.")
ticker.chain(
    [
        Begin(title="Begin", type=StepType.INPUT, page=Page("Begin", [Section("Main", [])])),
        Tick(title="Tick", type=StepType.RESULTS, page=Page("Tick", [Section("Main", [])])),
    ]
)


def _environment(home: Path, tick: float, executor: str, broker: str) -> dict[str, str]:
    env = {**os.environ, "FLOWDECK_HOME": str(home), "FLOWDECK_BENCH_TICK": str(tick), "FLOWDECK_EXECUTOR": executor}
    for name in ("FLOWDECK_DATABASE_URL", "FLOWDECK_BLOB_URL"):
        env.pop(name, None)
    if executor == "celery":
        env["FLOWDECK_BROKER_URL"] = broker
    return env


def _token(env: dict[str, str]) -> str:
    """Create the admin ``bench`` and return an API token for it."""
    subprocess.run(
        [sys.executable, "-m", "flowdeck", "users", "add", "bench", "--admin"], env=env, check=True, capture_output=True
    )
    return (
        subprocess.run(
            [sys.executable, "-m", "flowdeck", "users", "token", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )


def _purge_queue(broker: str) -> None:
    """Drop actions left on the benchmark's queue by an interrupted earlier run."""
    import redis

    redis.Redis.from_url(broker).delete("flowdeck")


async def _prepare_page(client: Any) -> str:
    """Run the churn example to its "Choose analysis" page; returns that page's URL."""
    started = await client.post("/api/runs", json={"flow": "Customer churn"})
    started.raise_for_status()
    run_id = started.json()["flow_id"]
    await wait_idle(client, run_id)  # the first step runs on the executor
    page = (await client.get(f"/api/runs/{run_id}/steps/Upload customers/page")).json()
    element = page["page"]["sections"][0]["content"][1]["content"][0]["id"]
    uploaded = await client.post(
        f"/api/runs/{run_id}/steps/Upload customers/elements/{element}/upload",
        files={"file": ("customers.csv", CHURN_CSV.read_bytes(), "text/csv")},
    )
    uploaded.raise_for_status()
    (await client.post(f"/api/runs/{run_id}/next")).raise_for_status()
    status = await wait_idle(client, run_id)
    if status["current_step"] != PAGE_STEP:
        raise RuntimeError(f"the churn example did not reach {PAGE_STEP!r}: {status}")
    return f"/api/runs/{run_id}/steps/{PAGE_STEP}/page"


async def _reader(
    client: Any, url: str, start: float, until: float, interval: float, latencies: list[float], errors: list[str]
) -> None:
    # Start at a random point of the interval so the clients do not all ask at the same instant.
    await asyncio.sleep(max(0.0, start - time.perf_counter()) + random.uniform(0, interval))
    marker = f'"step":"{PAGE_STEP}"'.encode()
    while time.perf_counter() < until:
        began = time.perf_counter()
        try:
            response = await client.get(url)
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                errors.append(f"page read: HTTP {response.status_code} {response.text[:200]}")
            elif marker not in response.content[:200]:
                errors.append(f"page read: unexpected body {response.text[:200]}")
            else:
                latencies.append(elapsed)
        except Exception as exc:
            errors.append(f"page read: {type(exc).__name__}: {exc}")
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))


async def _follow(
    client: Any, run_id: str, after: int, on_progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Stream the run's events after ``after`` until no step runs (as the web UI does); the last status."""
    status: dict[str, Any] = {}
    params = {"after": after, "until_idle": "true"}
    async with client.stream("GET", f"/api/runs/{run_id}/events", params=params, timeout=60) as stream:
        if stream.status_code != 200:
            raise RuntimeError(f"events of run {run_id}: HTTP {stream.status_code}")
        kind = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if kind == "progress" and on_progress is not None:
                    on_progress(data)
                elif kind == "status":
                    status = data
    return status


async def _follower(
    client: Any, start: float, until: float, lags: list[float], counts: list[int], errors: list[str]
) -> None:
    """From ``start``, run ticker flows one after another until ``until``, following each step's events."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    while time.perf_counter() < until:
        try:
            started = await client.post("/api/runs", json={"flow": "Ticker"})
            if started.status_code != 201:
                errors.append(f"progress: start: HTTP {started.status_code} {started.text[:200]}")
                await asyncio.sleep(1)
                continue
            run_id = started.json()["flow_id"]
            # The first step runs on the executor; the run is busy until it has.
            status = await _follow(client, run_id, 0)
            if status.get("current_step") != "Begin" or status.get("state") != "awaiting_input":
                errors.append(f"progress: run {run_id} after its first step: {status}")
                continue
            response = await client.post(f"/api/runs/{run_id}/next")
            if response.status_code != 202:
                errors.append(f"progress: next: HTTP {response.status_code} {response.text[:200]}")
                continue
            ids: list[int] = []

            def progress(data: dict[str, Any], ids: list[int] = ids) -> None:
                lags.append(time.time() - float(data["message"]))
                ids.append(data["id"])

            status = await _follow(client, run_id, response.json()["last_event_id"], progress)
            counts.append(len(ids))
            if len(ids) != Tick.ticks + 1 or ids != sorted(set(ids)):
                errors.append(f"progress: run {run_id} delivered {len(ids)} of {Tick.ticks + 1} events: {ids}")
            if status.get("current_step") != "Tick" or status.get("state") == "failed" or status.get("busy"):
                errors.append(f"progress: run {run_id} ended as {status}")
        except Exception as exc:
            errors.append(f"progress: {type(exc).__name__}: {exc}")


async def _bench(base: str, token: str, args: argparse.Namespace) -> int:
    import httpx

    connections = args.readers + args.followers + 10
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        url = await _prepare_page(client)
        for _ in range(20):  # warm up
            (await client.get(url)).raise_for_status()
        latencies: list[float] = []
        lags: list[float] = []
        counts: list[int] = []
        errors: list[str] = []
        # One ticker run lasts about (ticks + 1) * tick seconds plus its first step: the followers
        # start spread over that long, and the page reads are measured once they all run.
        spread = (Tick.ticks + 1) * args.tick + 0.5 if args.followers else 0.0
        now = time.perf_counter()
        start, until = now + spread, now + spread + args.seconds
        await asyncio.gather(
            *[_reader(client, url, start, until, args.interval, latencies, errors) for _ in range(args.readers)],
            *[
                _follower(client, now + random.uniform(0, spread), until, lags, counts, errors)
                for _ in range(args.followers)
            ],
        )

    ms = [x * 1000 for x in latencies]
    p99 = percentile(ms, 0.99)
    pace = f"each reading every {args.interval:g} s" if args.interval else "back to back"
    print(
        f"steps: {args.executor} executor"
        + (" (flowdeck worker process)" if args.executor == "celery" else " (thread pool in the server process)")
    )
    if ms:
        print(
            f"page reads: {len(ms)} in {args.seconds:.1f} s by {args.readers} clients ({pace}) = "
            f"{len(ms) / args.seconds:.0f} req/s; p50 {percentile(ms, 0.5):.1f} ms, p99 {p99:.1f} ms, "
            f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms"
        )
    lag_ms = [x * 1000 for x in lags]
    print(
        f"progress: {args.followers} clients followed {len(counts)} runs ({Tick.ticks + 1} events each, "
        f"{args.tick:g} s apart), received {len(lag_ms)} events; delay recorded-to-received "
        f"p50 {percentile(lag_ms, 0.5):.0f} ms, p99 {percentile(lag_ms, 0.99):.0f} ms"
    )
    print(f"target page-read p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'} ({p99:.1f} ms); errors: {len(errors)}")
    for error in errors[:20]:
        print("  error:", error)
    return 1 if errors else 0


def main() -> int:
    """Start a server (and a worker for ``--executor celery``), run the benchmark, stop them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="How long page reads are measured.")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="Seconds between one client's page reads, as a person clicking through (0: back to back).",
    )
    parser.add_argument("--tick", type=float, default=0.25, help="Seconds between a ticker step's progress reports.")
    parser.add_argument(
        "--executor",
        choices=("inline", "celery"),
        default="inline",
        help="Where steps run: the server's thread pool, or a flowdeck worker process.",
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="The broker for --executor celery.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowdeck-bench-") as tmp:
        home = Path(tmp)
        env = _environment(home, args.tick, args.executor, args.broker)
        token = _token(env)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            if args.executor == "celery":
                _purge_queue(args.broker)
                processes.append(
                    start_flowdeck(
                        [
                            "worker",
                            "--pool",
                            "threads",
                            "--concurrency",
                            str(args.followers + 2),
                            "--loglevel",
                            "warning",
                        ],
                        env,
                        home / "worker.log",
                    )
                )
            port = free_port()
            server = start_flowdeck(
                [
                    "serve",
                    "--flows",
                    str(CHURN),
                    "--flows",
                    f"{Path(__file__).resolve()}:ticker",
                    "--port",
                    str(port),
                    "--step-workers",
                    str(args.followers + 2),
                ],
                env,
                home / "server.log",
            )
            processes.append(server)
            wait_for_server(port, server, home / "server.log")
            return asyncio.run(_bench(f"http://127.0.0.1:{port}", token, args))
        finally:
            for process in reversed(processes):
                stop(process)


if __name__ == "__main__":
    sys.exit(main())
