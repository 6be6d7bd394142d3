"""What every command shares: the console, error reporting and value parsing."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shlex
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from flowdeck.errors import FlowdeckError

__all__ = [
    "cells",
    "console",
    "err_console",
    "esc",
    "fail",
    "parse_value",
    "reflow_help",
    "run_cli",
    "shell_command",
    "tidy_help",
    "usage_error_types",
]

_PIPE_WIDTH = 240


def _console(stderr: bool = False) -> Console:
    """A console; writing to a pipe or file (not a terminal, no ``COLUMNS``) it is wide enough that
    tables keep whole names and ids on one line, for ``grep`` and scripts."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty())
    width = _PIPE_WIDTH if piped and not os.environ.get("COLUMNS") else None
    return Console(stderr=stderr, width=width)


console = _console()
err_console = _console(stderr=True)


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
    err_console.print(Text.assemble(("error:", "bold red"), " ", _safe(message)), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def shell_command(*words: object) -> str:
    """A command for the user to run, each value quoted for a POSIX shell (``flowdeck next ID --user 'ann b'``).

    Placeholders the user fills in (``TITLE=PATH``) are passed like any other word; they need no quoting.
    """
    return " ".join(shlex.quote(str(word)) for word in words)


def reflow_help(text: str | None) -> str | None:
    """A command's help with each paragraph on one line, so the help formatter wraps it to the terminal.

    Paragraphs are separated by blank lines; one that starts with ``\\b`` keeps its line breaks.
    """
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        paragraph if paragraph.startswith("\b") else " ".join(line.strip() for line in paragraph.splitlines())
        for paragraph in paragraphs
    )


def tidy_help(app: typer.Typer) -> None:
    """Reflow the help of ``app``'s commands and command groups, and of theirs (see :func:`reflow_help`).

    The help formatter keeps the line breaks of a docstring's later paragraphs, which wrap at the
    source's width, not the terminal's; call this once every command is registered.
    """
    if isinstance(app.info.help, str):
        app.info.help = reflow_help(app.info.help)
    for command in app.registered_commands:
        help_text = command.help if command.help is not None else inspect.getdoc(command.callback)
        command.help = reflow_help(help_text)
    for group in app.registered_groups:
        if isinstance(group.help, str):
            group.help = reflow_help(group.help)
        if group.typer_instance is not None:
            tidy_help(group.typer_instance)


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
        err_console.print(Text.assemble(("error:", "bold red"), " ", _safe(exc)), highlight=False, soft_wrap=True)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except click_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command group: its help is the answer
            return int(getattr(exc, "exit_code", 2) or 2)
        err_console.print(f"[bold red]error:[/] {escape(_usage_line(exc))}", highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2) or 2)
    # Without standalone mode click returns the code of a typer.Exit instead of raising it.
    return result if isinstance(result, int) else 0
