"""What every command shares: the console, error reporting and value parsing."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from flowdeck.errors import FlowdeckError

__all__ = ["console", "err_console", "fail", "parse_value", "run_cli"]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print an error message and leave with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses as JSON (numbers, lists, true/false), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run_cli(app: typer.Typer) -> int:
    """Run the app, turning flowdeck's own errors into one readable line and exit code 1."""
    try:
        result = app(standalone_mode=False)
    except FlowdeckError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    # Without standalone mode click returns the code of a typer.Exit instead of raising it.
    return result if isinstance(result, int) else 0
