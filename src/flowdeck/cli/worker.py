"""``flowdeck worker``: a Celery worker that runs the step actions of the configured deployment."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from flowdeck.cli.common import console, fail

__all__ = ["register"]


def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Actions run at once (default: CPU count).")
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-Q", help="A queue to consume (default: flowdeck); repeatable.")
    ] = None,
    pool: Annotated[str, typer.Option("--pool", help="Celery pool: prefork, threads or solo.")] = "prefork",
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery log level.")] = "info",
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="The worker's node name, unique per broker (default: flowdeck-PID@HOST)."),
    ] = None,
) -> None:
    """Run step actions sent by 'flowdeck serve' and scripts with FLOWDECK_EXECUTOR=celery.

    Use the same FLOWDECK_* settings (database, blobs, secret key, broker) as the processes that
    submit actions; the flows must be importable here (the paths or modules their runs record).
    """
    from flowdeck.config import get_settings

    try:
        from flowdeck.flow.celery_app import configure_app
    except ModuleNotFoundError as exc:
        if exc.name != "celery":
            raise
        fail("flowdeck worker needs Celery: pip install 'flowdeck[celery]'")
    from flowdeck.flow.executors import DEFAULT_QUEUE, redact_url

    settings = get_settings()
    app = configure_app(settings)
    queues = ",".join(queue or [DEFAULT_QUEUE])
    # Each worker needs a node name of its own: on RabbitMQ a second worker under the same name (two
    # on one host, with Celery's default celery@HOST) cannot declare its control queue and exits.
    node = name or f"flowdeck-{os.getpid()}@{socket.gethostname()}"
    argv = ["worker", f"--queues={queues}", f"--pool={pool}", f"--loglevel={loglevel}", f"--hostname={node}"]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if settings.executor != "celery":
        console.print("[yellow]note:[/] FLOWDECK_EXECUTOR is not 'celery' here; processes submitting actions need it")
    console.print(f"flowdeck worker on {redact_url(settings.broker_url)}, queue(s) {queues}")
    app.worker_main(argv)


def register(app: typer.Typer) -> None:
    """Add ``worker`` to the ``flowdeck`` command."""
    app.command("worker")(worker)
