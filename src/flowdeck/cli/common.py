"""What every command shares: the console, error reporting and value parsing."""

from __future__ import annotations

import importlib
import json
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from flowdeck.errors import FlowdeckError

__all__ = ["console", "err_console", "fail", "parse_value", "run_cli", "usage_error_types"]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print an error message and leave with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses as JSON (numbers, lists, true/false), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def usage_error_types() -> tuple[type[BaseException], ...]:
    """The click exception classes the installed Typer raises (it may bundle its own click)."""
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _usage_line(exc: Any) -> str:
    """One line for a usage error: what is wrong, and where to read how the command is used."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(message.split())
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "flowdeck"
    return f"{message} (see '{command} --help')"


def run_cli(app: typer.Typer) -> int:
    """Run the app: flowdeck's own errors become one readable line and exit code 1, usage errors
    (a missing option, an unknown command, a value of the wrong type) one line and exit code 2."""
    click_errors = usage_error_types()
    try:
        result = app(standalone_mode=False, prog_name="flowdeck")
    except FlowdeckError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except click_errors as exc:
        err_console.print(f"[bold red]error:[/] {escape(_usage_line(exc))}", highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2) or 2)
    # Without standalone mode click returns the code of a typer.Exit instead of raising it.
    return result if isinstance(result, int) else 0
