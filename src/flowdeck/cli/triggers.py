"""``flowdeck triggers`` (list, show, pause, resume, check, remove) and ``flowdeck scheduler``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from flowdeck.cli.common import console

app = typer.Typer(help="List, inspect, pause, resume and check triggers.", no_args_is_help=True)

ActingUser = Annotated[str | None, typer.Option("--user", "-u", help="Who acts (default: the only user).")]


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else ""


@app.command("list")
def list_(user: ActingUser = None) -> None:
    """List the triggers a user may see."""
    from flowdeck.triggers import list_triggers

    table = Table("name", "kind", "flow", "owner", "state", "next check", "last result")
    found = list_triggers(user)
    for t in found:
        state = ("active" if t.active else "paused") + (" (dry run)" if t.dry_run else "")
        table.add_row(t.name, t.kind, t.flow_name, t.owner, state, _when(t.next_check_at), t.last_reason or "")
    console.print(table)
    console.print(f"{len(found)} trigger{'s' if len(found) != 1 else ''}")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The trigger's name.")],
    user: ActingUser = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a trigger's definition, state and tick history."""
    from flowdeck.triggers import get_trigger

    info, ticks = get_trigger(name, user)
    if as_json:
        typer.echo(json.dumps({**info.to_dict(), "ticks": [t.to_dict() for t in ticks]}, indent=2, default=str))
        return
    console.print(f"[bold]{info.name}[/] ({info.kind}) starts flow [bold]{info.flow_name}[/] as {info.owner}")
    console.print(json.dumps(info.spec, indent=2), highlight=False)
    table = Table("time", "outcome", "reason", "run", "error", "ms")
    for tick in ticks:
        ms = f"{tick.duration_ms:.0f}" if tick.duration_ms is not None else ""
        table.add_row(_when(tick.created_at), tick.outcome, tick.reason or "", tick.run_id or "", tick.error or "", ms)
    console.print(table)


@app.command("pause")
def pause(name: Annotated[str, typer.Argument(help="The trigger's name.")], user: ActingUser = None) -> None:
    """Stop checking a trigger (state and history are kept)."""
    from flowdeck.triggers import pause_trigger

    pause_trigger(name, user)
    console.print(f"paused trigger [bold]{name}[/]")


@app.command("resume")
def resume(name: Annotated[str, typer.Argument(help="The trigger's name.")], user: ActingUser = None) -> None:
    """Check a paused trigger again."""
    from flowdeck.triggers import resume_trigger

    resume_trigger(name, user)
    console.print(f"resumed trigger [bold]{name}[/]")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The trigger's name.")], user: ActingUser = None) -> None:
    """Delete a trigger and its tick history."""
    from flowdeck.triggers import remove_trigger

    remove_trigger(name, user)
    console.print(f"removed trigger [bold]{name}[/]")


@app.command("check")
def check(names: Annotated[list[str] | None, typer.Argument(help="Only these triggers.")] = None) -> None:
    """Check every active trigger once, now, and start the runs of new firings."""
    from flowdeck.triggers import check_triggers

    ticks = check_triggers(names or None)
    for tick in ticks:
        console.print(f"{tick.firing_key}: {tick.outcome} {tick.run_id or ''} {tick.error or ''}", highlight=False)
    console.print(f"{len(ticks)} run{'s' if len(ticks) != 1 else ''} started or tried")


def scheduler(
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between two looks for due triggers.")] = 1.0,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0, help="Stop after this many seconds (default: run until stopped)."),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="With FLOWDECK_EXECUTOR=celery: the queue runs are handed to (default flowdeck)."),
    ] = None,
) -> None:
    """Fire due triggers until stopped; any number of schedulers may share one database."""
    import logging
    import signal
    import threading

    from flowdeck.triggers import run_scheduler

    # flowdeck's own messages at INFO; the libraries it uses (Alembic, SQLAlchemy, ...) only warn.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("flowdeck").setLevel(logging.INFO)
    stop = threading.Event()
    # Ctrl-C or SIGTERM end the scheduler after the poll in hand, never inside a firing (an interrupt
    # raised in a step it runs would be taken for the step's failure and the loop would go on).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()
    try:
        run_scheduler(poll, stop, queue)
    except KeyboardInterrupt:
        stop.set()


def register(root: typer.Typer) -> None:
    """Add ``triggers`` and ``scheduler`` to the ``flowdeck`` command."""
    root.add_typer(app, name="triggers")
    root.command("scheduler")(scheduler)
