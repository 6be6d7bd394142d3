"""``flowdeck flows``: register flows by name so any process can start them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from flowdeck.cli.common import console

app = typer.Typer(help="Register, list and remove flows by name.", no_args_is_help=True)


@app.command("add")
def add(
    specs: Annotated[list[str], typer.Argument(help="Flow files (path.py[:attr]) or modules (pkg.mod[:attr]).")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who registers them (recorded).")] = None,
) -> None:
    """Register flows under their names (registering a name again points it at the new definition)."""
    from flowdeck.triggers.apps import register_flow

    for spec in specs:
        info = register_flow(spec, registered_by=user)
        console.print(f"registered flow [bold]{info.name}[/] → {info.ref}", highlight=False)


@app.command("list")
def list_() -> None:
    """List the registered flows."""
    from flowdeck.flow.registry import list_registered_flows

    table = Table("name", "defined at", "registered by", "description")
    found = list_registered_flows()
    for info in found:
        table.add_row(info.name, info.ref, info.registered_by or "", info.description or "")
    console.print(table)
    console.print(f"{len(found)} flow{'s' if len(found) != 1 else ''}")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The flow's name.")]) -> None:
    """Forget a registered flow (its runs stay)."""
    from flowdeck.flow.registry import unregister_flow

    unregister_flow(name)
    console.print(f"removed flow [bold]{name}[/]")
