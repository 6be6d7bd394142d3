"""The ``flowdeck`` command line."""

from __future__ import annotations

import os
import sys

import typer

from flowdeck.cli import admin, callbacks, flows, runs, steps, triggers, users
from flowdeck.cli.common import tidy_help

app = typer.Typer(
    name="flowdeck",
    help="flowdeck: run step-by-step analytics flows and manage what they store.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs.register(app)
steps.register(app)
callbacks.register(app)
admin.register(app)
app.add_typer(users.app, name="users")
app.add_typer(flows.app, name="flows")
triggers.register(app)

for _optional in ("assets", "connections", "serve", "worker"):
    try:
        _module = __import__(f"flowdeck.cli.{_optional}", fromlist=["register"])
    except ModuleNotFoundError as _exc:  # an optional part whose extra is not installed
        if _exc.name and _exc.name.startswith("flowdeck"):
            continue
        raise
    _module.register(app)

tidy_help(app)


def main() -> None:
    """Entry point of the ``flowdeck`` command.

    A flow given as a module (``pkg.module:attr``) is found in the current directory too, as with
    ``python -m``: the directory goes last on the import path, so it never hides an installed module.
    """
    from flowdeck.cli.common import run_cli

    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)
    sys.exit(run_cli(app))
