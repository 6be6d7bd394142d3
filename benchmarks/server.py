"""Benchmark ``flowdeck serve``: 50 clients reading pages while 10 follow live progress events.

Starts a server on loopback (embedded default deployment in a temporary home) serving the churn
example and the small ``ticker`` flow below, then for a fixed time:

* 50 concurrent clients read the churn example's "Choose analysis" page (JSON, ~20-row table),
  each once a second like a person clicking through (``--interval 0`` reads back to back);
* 10 clients each run the ticker flow and receive its progress events over server-sent events.

Prints page-read throughput and p50/p99 latency, the delay from a progress event being recorded
to a client receiving it, and any errors. Target: page reads p99 < 100 ms, no errors.

    python benchmarks/server.py [--seconds 10] [--readers 50] [--followers 10] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flowdeck import Card, Flow, Page, Section, Step, StepType, StoreInterface, TextInput

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn" / "flow.py"
CHURN_CSV = ROOT / "examples" / "churn" / "customers.csv"


class Begin(Step):
    """An input page with nothing required."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Note", [TextInput(title="Note")]), "Main")
        store.update_page(page)


class Tick(Step):
    """Reports progress every 100 ms; each message is the time it was recorded."""

    ticks = 30

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        for i in range(self.ticks + 1):
            store.update_progress(100 * i / self.ticks, f"{time.time():.6f}")
            time.sleep(0.1)


ticker = Flow(name="Ticker", description="Reports progress every 100 ms for three seconds.")
ticker.chain([
    Begin(title="Begin", type=StepType.INPUT, page=Page("Begin", [Section("Main", [])])),
    Tick(title="Tick", type=StepType.RESULTS, page=Page("Tick", [Section("Main", [])])),
])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FLOWDECK_HOME": str(home)}
    for name in ("FLOWDECK_DATABASE_URL", "FLOWDECK_BLOB_URL"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "flowdeck", "users", "add", "bench", "--admin"], env=env, check=True,
        capture_output=True,
    )
    token = subprocess.run(
        [sys.executable, "-m", "flowdeck", "users", "token", "bench"], env=env, check=True, capture_output=True,
        text=True,
    ).stdout.strip().splitlines()[-1]
    env["FLOWDECK_BENCH_TOKEN"] = token
    server = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "serve", "--flows", str(CHURN),
         "--flows", f"{Path(__file__).resolve()}:ticker", "--port", str(port), "--step-workers", "12"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    server.token = token  # type: ignore[attr-defined]
    return server


async def _wait_idle(client, run_id: str) -> dict:
    while True:
        status = (await client.get(f"/api/runs/{run_id}")).json()
        if not status["busy"] and status["state"] not in ("running", "acting", "pending"):
            return status
        await asyncio.sleep(0.05)


async def _prepare_page(client) -> str:
    """Run the churn example to its "Choose analysis" page; returns that page's URL."""
    started = await client.post("/api/runs", json={"flow": "Customer churn"})
    started.raise_for_status()
    run_id = started.json()["flow_id"]
    await _wait_idle(client, run_id)  # the first step runs on the executor
    page = (await client.get(f"/api/runs/{run_id}/steps/Upload customers/page")).json()
    element = page["page"]["sections"][0]["content"][1]["content"][0]["id"]
    uploaded = await client.post(
        f"/api/runs/{run_id}/steps/Upload customers/elements/{element}/upload",
        files={"file": ("customers.csv", CHURN_CSV.read_bytes(), "text/csv")},
    )
    uploaded.raise_for_status()
    (await client.post(f"/api/runs/{run_id}/next")).raise_for_status()
    await _wait_idle(client, run_id)
    return f"/api/runs/{run_id}/steps/Choose analysis/page"


async def _reader(client, url: str, until: float, interval: float, latencies: list[float],
                  errors: list[str]) -> None:
    # Start at a random point of the interval so the clients do not all ask at the same instant.
    await asyncio.sleep(random.uniform(0, interval))
    while time.perf_counter() < until:
        began = time.perf_counter()
        try:
            response = await client.get(url)
            if response.status_code != 200:
                errors.append(f"page read: HTTP {response.status_code}")
            else:
                latencies.append(time.perf_counter() - began)
        except Exception as exc:
            errors.append(f"page read: {type(exc).__name__}: {exc}")
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))


async def _follow(client, run_id: str, after: int, on_progress=None) -> dict:
    """Stream the run's events after ``after`` until no step runs (as the web UI does); the last status."""
    params = {"after": after, "until_idle": "true"}
    status: dict = {}
    async with client.stream("GET", f"/api/runs/{run_id}/events", params=params, timeout=60) as stream:
        if stream.status_code != 200:
            raise RuntimeError(f"events: HTTP {stream.status_code}")
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


async def _follower(client, until: float, lags: list[float], counts: list[int], errors: list[str]) -> None:
    """Start ticker runs one after another; follow each step's events as the web UI does."""
    while time.perf_counter() < until:
        try:
            started = await client.post("/api/runs", json={"flow": "Ticker"})
            if started.status_code != 201:
                errors.append(f"progress: start: HTTP {started.status_code} {started.text[:200]}")
                await asyncio.sleep(1)
                continue
            run_id = started.json()["flow_id"]
            # The first step runs on the executor; the run answers busy until it has.
            status = await _follow(client, run_id, 0)
            if status.get("current_step") != "Begin" or status.get("state") == "failed":
                errors.append(f"progress: run {run_id} after its first step: {status}")
                continue
            response = await client.post(f"/api/runs/{run_id}/next")
            if response.status_code != 202:
                errors.append(f"progress: next: HTTP {response.status_code} {response.text[:200]}")
                continue
            received = 0

            def progress(data: dict) -> None:
                nonlocal received
                lags.append(time.time() - float(data["message"]))
                received += 1

            status = await _follow(client, run_id, response.json()["last_event_id"], progress)
            counts.append(received)
            if received != Tick.ticks + 1:
                errors.append(f"progress: run {run_id} delivered {received} of {Tick.ticks + 1} events")
            if status.get("current_step") != "Tick" or status.get("state") == "failed":
                failures = [s["error"] for s in status.get("steps", []) if s.get("error")]
                errors.append(f"progress: run {run_id} ended {status.get('state')!r}: {failures}")
        except Exception as exc:
            errors.append(f"progress: {type(exc).__name__}: {exc}")


async def _bench(base: str, token: str, seconds: float, readers: int, followers: int, interval: float) -> int:
    import httpx

    limits = httpx.Limits(max_connections=readers + followers + 10, max_keepalive_connections=readers + followers + 10)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        url = await _prepare_page(client)
        for _ in range(20):  # warm up
            await client.get(url)
        latencies: list[float] = []
        lags: list[float] = []
        counts: list[int] = []
        errors: list[str] = []
        began = time.perf_counter()
        until = began + seconds
        await asyncio.gather(
            *[_reader(client, url, until, interval, latencies, errors) for _ in range(readers)],
            *[_follower(client, until, lags, counts, errors) for _ in range(followers)],
        )
        elapsed = time.perf_counter() - began

    ms = [x * 1000 for x in latencies]
    pace = f"each reading every {interval:g} s" if interval else "back to back"
    print(f"page reads: {len(ms)} in {elapsed:.1f} s by {readers} clients ({pace}) = {len(ms) / elapsed:.0f} req/s; "
          f"p50 {_percentile(ms, 0.5):.1f} ms, p99 {_percentile(ms, 0.99):.1f} ms, "
          f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms")
    lag_ms = [x * 1000 for x in lags]
    print(f"progress: {followers} clients followed {len(counts)} runs, received {len(lag_ms)} events; "
          f"delay recorded-to-received p50 {_percentile(lag_ms, 0.5):.0f} ms, p99 {_percentile(lag_ms, 0.99):.0f} ms")
    p99 = _percentile(ms, 0.99)
    print(f"target page-read p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'} ({p99:.1f} ms); errors: {len(errors)}")
    for error in errors[:10]:
        print("  error:", error)
    return 1 if errors else 0


def main() -> int:
    """Start a server, run the benchmark, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0,
                        help="Seconds between one client's page reads, as a person clicking through (0: back to back).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowdeck-bench-") as home:
        port = _free_port()
        server = _start_server(Path(home), port)
        try:
            import httpx

            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                    break
                except httpx.HTTPError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        sys.stderr.write(server.stderr.read().decode() if server.stderr else "")
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            return asyncio.run(_bench(f"http://127.0.0.1:{port}", server.token, args.seconds,  # type: ignore[attr-defined]
                                      args.readers, args.followers, args.interval))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
