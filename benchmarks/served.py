"""What the benchmarks that race a running ``flowdeck serve`` share: starting and stopping the
server process, waiting for it and for a run, and percentiles of the timings they take.

Not a benchmark itself; ``server.py`` and ``callbacks.py`` import it (run them from any folder:
a script's own folder is first on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_flowdeck(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``flowdeck *argv`` in a process of its own, its output to ``log``.

    The benchmarks' folder is on its ``PYTHONPATH``: a benchmark script served as a flow file
    imports this module.
    """
    here = str(Path(__file__).resolve().parent)
    env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flowdeck", *argv], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for_server(port: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Return once the server on ``port`` answers; exit with its log's tail if it ended or never did."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process (SIGTERM, then SIGKILL after 30 s)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_idle(client: Any, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a run's status over the API until nothing runs in it; return that status."""
    deadline = time.monotonic() + timeout
    while True:
        status = (await client.get(f"/api/runs/{run_id}")).json()
        if not status["busy"] and status["state"] not in ("running", "acting", "pending"):
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still busy after {timeout} s")
        await asyncio.sleep(0.05)
