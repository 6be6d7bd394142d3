"""Benchmark callbacks on ``flowdeck serve``: 20 users each firing a page update once a second.

Starts ``flowdeck serve`` on 127.0.0.1 with the embedded default deployment (SQLite and local
blobs in a temporary home), or on PostgreSQL with ``--postgres URL`` (a database made for the
run on that server, dropped after), serving the ``Callback bench`` flow below: one input page
with a dropdown whose ``page_update`` rewrites one card (``Echo``) with the value chosen, beside
two cards it leaves alone.

Load (the defaults): ``--users`` (20) users, each with an API token and a run of their own on
that page. Each user's client, at its own random phase of the second, fires
``POST /api/runs/{id}/callbacks`` with ``{"kind": "set_value", "target": "Choice", "value": ...}``
(alternating values) once every ``--interval`` (1.0) seconds for ``--seconds`` (60) seconds: 20
callbacks a second in all, each one a page read, the callback, a page write and a ``callback``
notice for the run's event stream. With ``--streams`` each user also follows their run's event
stream, as an open browser tab does, and must receive the ``callback`` event of each update.

Every answer must be 200 with exactly two cards changed: the dropdown's own (its value) and
``Echo``, showing the value sent.

Prints the machine's load average, the number of requests and errors, and the round trip
p50/p95/p99, then PASS or FAIL against the target (issue 13): p95 < 150 ms and no errors. The
clients run on the same machine as the server and take their share of its cores.

    python benchmarks/callbacks.py [--seconds 60] [--users 20] [--interval 1.0] [--streams]
                                   [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from served import free_port, percentile, start_flowdeck, stop, wait_for_server, wait_idle

from flowdeck import Card, Dropdown, Flow, Page, RichText, Section, Step, StepType, StoreInterface
from flowdeck.elements.callbacks import page_update_callback

#: The target: p95 of the round trip, in milliseconds.
TARGET_P95_MS = 150.0
CHOICES = ["north", "south", "east", "west"]


@page_update_callback
def choice_changed(store_interface, input_data=None, **step_clients):
    """Show the value chosen in the Echo card."""
    page = store_interface.get_page()
    choice = page.get_element_by_title("Choice").value
    page.get_card_by_title("Echo").update_item("Echo text", RichText(f"Chosen: {choice}", title="Echo text"))
    store_interface.update_page(page)


class Pick(Step):
    """The page: a dropdown with a page update, the card it changes, and two it does not."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card("Filters", [Dropdown(CHOICES, title="Choice", required=False, page_update=choice_changed)]), "Main"
        )
        page.add_card_to_section(Card("Echo", [RichText("Chosen: nothing yet", title="Echo text")]), "Main")
        page.add_card_to_section(Card("About", [RichText("A page for the callback benchmark.", title="About")]), "Main")
        page.add_card_to_section(Card("Notes", [RichText("Left as it is.", title="Notes text")]), "Main")
        store.update_page(page)


class Finish(Step):
    """Never reached in the benchmark."""

    def run(self, flow_metadata):
        pass


callback_bench = Flow(name="Callback bench", description="A dropdown whose page update changes one card.")
callback_bench.chain(
    [
        Pick(title="Pick", type=StepType.INPUT, page=Page("Pick", [Section("Main", [])])),
        Finish(title="Finish", type=StepType.RESULTS, page=Page("Finish", [Section("Main", [])])),
    ]
)


def _environment(home: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "FLOWDECK_HOME": str(home), "FLOWDECK_EXECUTOR": "inline"}
    for name in ("FLOWDECK_DATABASE_URL", "FLOWDECK_BLOB_URL", "FLOWDECK_FLOWS"):
        env.pop(name, None)
    if database_url:
        env["FLOWDECK_DATABASE_URL"] = database_url
    return env


def _make_database(server_url: str) -> tuple[str, Any]:
    """A fresh PostgreSQL database on the server of ``server_url``; returns its URL and a dropper."""
    import sqlalchemy as sa

    base = sa.make_url(server_url)
    name = f"flowdeck_cbbench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def _tokens(home: Path, database_url: str | None, users: int) -> list[str]:
    """Create ``users`` users and an API token for each (in this process, before the server starts)."""
    import flowdeck
    from flowdeck.auth.users import resolve_principal
    from flowdeck.server import auth
    from flowdeck.storage.deployment import reset_storage

    flowdeck.configure(home=str(home), database_url=database_url, blob_url=None)
    try:
        tokens = []
        for i in range(users):
            name = f"user{i:02d}"
            flowdeck.add_user(name)
            tokens.append(auth.create_token(resolve_principal(name), "callback benchmark")[1])
        return tokens
    finally:
        reset_storage()


async def _prepare(client: Any) -> str:
    """Start the user's run and wait for its page; returns the run id."""
    started = await client.post("/api/runs", json={"flow": "Callback bench"})
    started.raise_for_status()
    run_id = started.json()["flow_id"]
    status = await wait_idle(client, run_id)
    if status["state"] != "awaiting_input" or status["current_step"] != "Pick":
        raise RuntimeError(f"run {run_id} did not reach its page: {status}")
    return run_id


def _check(response: Any, value: str) -> str | None:
    """What is wrong with a callback's answer, or None."""
    if response.status_code != 200:
        return f"HTTP {response.status_code} {response.text[:200]}"
    outcome = response.json()
    changed = outcome.get("changed_cards") or []
    if outcome.get("kind") != "page_update" or [card.get("title") for card in changed] != ["Filters", "Echo"]:
        return f"unexpected outcome: {json.dumps(outcome)[:200]}"
    if f"Chosen: {value}" not in json.dumps(changed[1]):
        return f"the Echo card does not show {value!r}"
    return None


async def _client(
    client: Any, run_id: str, start: float, until: float, interval: float, latencies: list[float], errors: list[str]
) -> None:
    """Fire a page update once every ``interval`` seconds from a random phase until ``until``."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()) + random.uniform(0, interval))
    turn = 0  # the warm-up chose CHOICES[0]; every callback then changes the value
    while time.perf_counter() < until:
        turn += 1
        value = CHOICES[turn % len(CHOICES)]
        began = time.perf_counter()
        try:
            response = await client.post(
                f"/api/runs/{run_id}/callbacks", json={"kind": "set_value", "target": "Choice", "value": value}
            )
            elapsed = time.perf_counter() - began
            problem = _check(response, value)
            if problem is None:
                latencies.append(elapsed)
            else:
                errors.append(f"run {run_id}: {problem}")
        except Exception as exc:
            errors.append(f"run {run_id}: {type(exc).__name__}: {exc}")
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))


async def _reader(
    client: Any, run_id: str, start: float, until: float, interval: float, latencies: list[float], errors: list[str]
) -> None:
    """Read the run's page once every ``interval`` seconds from a random phase until ``until`` (the baseline)."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()) + random.uniform(0, interval))
    while time.perf_counter() < until:
        began = time.perf_counter()
        try:
            response = await client.get(f"/api/runs/{run_id}/steps/Pick/page")
            if response.status_code == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors.append(f"page read of run {run_id}: HTTP {response.status_code}")
        except Exception as exc:
            errors.append(f"page read of run {run_id}: {type(exc).__name__}: {exc}")
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))


async def _follow(client: Any, run_id: str, until: float, seen: list[int]) -> None:
    """Follow the run's event stream until ``until``, counting its ``callback`` events."""
    try:
        async with client.stream("GET", f"/api/runs/{run_id}/events", timeout=None) as stream:
            kind = None
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "callback":
                    seen.append(1)
                if time.perf_counter() > until:
                    return
    except Exception:
        return


async def _load_sampler(until: float, samples: list[float]) -> None:
    while time.perf_counter() < until:
        samples.append(os.getloadavg()[0])
        await asyncio.sleep(5)


async def _bench(base: str, tokens: list[str], args: argparse.Namespace) -> int:
    import httpx

    clients = [
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) for token in tokens
    ]
    try:
        run_ids = await asyncio.gather(*[_prepare(client) for client in clients])
        for client, run_id in zip(clients, run_ids, strict=True):  # warm up: the flow's callback is loaded once
            response = await client.post(
                f"/api/runs/{run_id}/callbacks", json={"kind": "set_value", "target": "Choice", "value": CHOICES[0]}
            )
            problem = _check(response, CHOICES[0])
            if problem is not None:
                print(f"warm-up callback failed: {problem}")
                return 1
        # The baseline: the same clients at the same pace read their page instead (noise on a shared
        # machine moves both figures; their ratio is steadier than either).
        reads: list[float] = []
        read_errors: list[str] = []
        if args.baseline > 0:
            start = time.perf_counter() + 0.5
            await asyncio.gather(
                *[
                    _reader(client, run_id, start, start + args.baseline, args.interval, reads, read_errors)
                    for client, run_id in zip(clients, run_ids, strict=True)
                ]
            )
        latencies: list[float] = []
        errors: list[str] = [*read_errors]
        seen: list[int] = []
        loads: list[float] = []
        load_before = os.getloadavg()
        start = time.perf_counter() + 0.5
        until = start + args.seconds
        streams = []
        if args.streams:
            streams = [
                asyncio.ensure_future(_follow(client, run_id, until + 2, seen))
                for client, run_id in zip(clients, run_ids, strict=True)
            ]
        await asyncio.gather(
            _load_sampler(until, loads),
            *[
                _client(client, run_id, start, until, args.interval, latencies, errors)
                for client, run_id in zip(clients, run_ids, strict=True)
            ],
        )
        if streams:
            await asyncio.sleep(1.0)
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
        load_after = os.getloadavg()
    finally:
        for client in clients:
            await client.aclose()

    ms = [x * 1000 for x in latencies]
    p50, p95, p99 = (percentile(ms, q) for q in (0.5, 0.95, 0.99))
    requests = len(ms) + len(errors)
    print(
        f"deployment: {args.backend}; {len(tokens)} users, each firing a page update every {args.interval:g} s "
        f"for {args.seconds:g} s" + (", each following their run's event stream" if args.streams else "")
    )
    print(
        f"load average (1 min): before {load_before[0]:.2f}, during {sum(loads) / max(1, len(loads)):.2f} "
        f"(max {max(loads, default=float('nan')):.2f}), after {load_after[0]:.2f}; {os.cpu_count()} cores"
    )
    print(f"requests: {requests} ({requests / args.seconds:.1f}/s), errors: {len(errors)}")
    if ms:
        print(f"round trip: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(ms):.1f} ms")
    if reads:
        read_ms = [x * 1000 for x in reads]
        r50, r95 = percentile(read_ms, 0.5), percentile(read_ms, 0.95)
        print(
            f"baseline page reads (same clients and pace, {args.baseline:g} s before): {len(read_ms)}, "
            f"p50 {r50:.1f} ms, p95 {r95:.1f} ms; callback / page read: p50 x{p50 / r50:.1f}, p95 x{p95 / r95:.1f}"
        )
    if args.streams:
        print(f"callback events received by the followers: {len(seen)} of {requests} fired")
    for error in errors[:20]:
        print("  error:", error)
    passed = bool(ms) and p95 < TARGET_P95_MS and not errors
    print(
        f"{'PASS' if passed else 'FAIL'}: target p95 < {TARGET_P95_MS:.0f} ms and 0 errors "
        f"(p95 {p95:.1f} ms, {len(errors)} errors)"
    )
    return 0 if passed else 1


def main() -> int:
    """Make a deployment, start the server, run the benchmark, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="How long the callbacks are fired.")
    parser.add_argument("--users", type=int, default=20, help="Concurrent users, each with a run of their own.")
    parser.add_argument("--interval", type=float, default=1.0, help="Seconds between one user's callbacks.")
    parser.add_argument("--streams", action="store_true", help="Each user also follows their run's event stream.")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=None,
        help="Use a fresh database on this PostgreSQL server instead of the embedded SQLite.",
    )
    parser.add_argument("--step-workers", type=int, default=4, help="flowdeck serve --step-workers.")
    parser.add_argument(
        "--baseline", type=float, default=10.0, help="Seconds of page reads measured first, for comparison (0: none)."
    )
    args = parser.parse_args()
    args.backend = "PostgreSQL" if args.postgres else "embedded SQLite"
    drop = None
    database_url = None
    if args.postgres:
        database_url, drop = _make_database(args.postgres)
    try:
        with tempfile.TemporaryDirectory(prefix="flowdeck-cbbench-") as tmp:
            home = Path(tmp)
            env = _environment(home, database_url)
            tokens = _tokens(home, database_url, args.users)
            port = free_port()
            server = start_flowdeck(
                [
                    "serve",
                    "--flows",
                    f"{Path(__file__).resolve()}:callback_bench",
                    "--port",
                    str(port),
                    "--step-workers",
                    str(args.step_workers),
                ],
                env,
                home / "server.log",
            )
            try:
                wait_for_server(port, server, home / "server.log")
                return asyncio.run(_bench(f"http://127.0.0.1:{port}", tokens, args))
            finally:
                stop(server)
    finally:
        if drop is not None:
            drop()


if __name__ == "__main__":
    sys.exit(main())
