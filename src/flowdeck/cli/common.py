"""What every command shares: the console, error reporting and value parsing."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from flowdeck.errors import FlowdeckError

__all__ = ["cells", "console", "err_console", "esc", "fail", "parse_value", "run_cli"]

console = Console()
err_console = Console(stderr=True)


def _safe(value: object) -> str:
    from flowdeck.page.text import terminal_safe

    return terminal_safe(str(value))


def esc(value: object) -> str:
    """User text to put in a markup string: ``[...]`` shown as it is, terminal controls made visible."""
    return escape(_safe(value))


def cells(*values: object) -> list[Text]:
    """Table cells that show user text literally (never parsed as markup; terminal controls made visible)."""
    return [Text(_safe(value)) for value in values]


def fail(message: str, code: int = 1) -> None:
    """Print an error message (plain text, not markup) and leave with ``code``."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", _safe(message)), highlight=False)
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
        err_console.print(Text.assemble(("error:", "bold red"), " ", _safe(exc)), highlight=False)
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
