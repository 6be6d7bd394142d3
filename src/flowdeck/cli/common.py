"""What every command shares: the console, error reporting and value parsing."""

from __future__ import annotations

import ast
import contextvars
import importlib
import inspect
import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from flowdeck.errors import FlowdeckError

__all__ = [
    "SET_HELP",
    "acting_on",
    "cells",
    "cli_text",
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
    """Print an error message (plain text, not markup) and leave with ``code``.

    Hints a library error gives for Python (``run.rerun()``) are told as commands (see :func:`cli_text`).
    """
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", _safe(cli_text(message))), highlight=False, soft_wrap=True
    )
    raise typer.Exit(code)


#: The run and user the command acts on, for the commands :func:`cli_text` puts in hints.
_acting: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar("acting", default=None)


def acting_on(flow_id: str, user: str | None) -> None:
    """Say which run the command acts on, as which user (``None``: the default user), for error hints."""
    _acting.set((flow_id, user))


def _command(action: str, message: str, *extra: str) -> str:
    """``flowdeck <action> ID [extra] --user U`` for the run the command acts on (or the one ``message`` names)."""
    acting = _acting.get()
    if acting is not None:
        flow_id, user = acting
    else:
        named = re.search(r"run '?([0-9a-f]{32})'?", message)
        flow_id, user = (named.group(1) if named else "FLOW_ID"), "U"
    return shell_command("flowdeck", action, flow_id, *extra, *(("--user", user) if user else ()))


def _upload_hint(match: re.Match[str], message: str) -> str:
    try:
        title = str(ast.literal_eval(match.group(1)))
    except (ValueError, SyntaxError):
        title = "TITLE"
    return "give it a file with --upload " + shell_command(f"{title}=PATH")


#: Python hints of library errors and what a command-line user does instead; applied in order.
_HINTS: list[tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]] = [
    (
        re.compile(r"; fix the cause and call run\.rerun\(\)(?: before next\(\))?"),
        lambda m, msg: "; fix the cause, then run the step again: " + _command("rerun", msg),
    ),
    (re.compile(r"; call run\.rerun\(\) first"), lambda m, msg: "; run it again first: " + _command("rerun", msg)),
    (
        re.compile(r"(?:set_value|upload)\(\) needs it awaiting input"),
        lambda m, msg: "its inputs change only while it awaits input",
    ),
    (re.compile(r"next\(\) needs it awaiting input"), lambda m, msg: "the run goes on only while it awaits input"),
    (
        re.compile(
            r"(?:[a-z_]+\(\)|a callback) needs a step awaiting (?:input|the user)|there is no current step to re-run"
        ),
        lambda m, msg: "there is no step awaiting input; reopen its last step with: " + _command("back", msg),
    ),
    (
        re.compile(r"run\.back\(\) reopens (?:that|the) step(?:, with its values,)? to change (?:it|them)"),
        lambda m, msg: (
            "reopen it to change them with: "
            + _command("back", msg)
            + " (each back reopens one step: repeat it until that step is open)"
        ),
    ),
    (re.compile(r"give it a file with run\.upload\(('.*?'|\".*?\"), filename, data\)"), _upload_hint),
    (re.compile(r"set it with run\.set_value\(\)"), lambda m, msg: "give it a value with --set TITLE=VALUE"),
    (re.compile(r"needs input before next\(\)"), lambda m, msg: "needs input before the run can go on"),
    (re.compile(r"\) before next\(\)"), lambda m, msg: ") before the run can go on"),
    (
        re.compile(r"use next\(\), back\(\) or rerun\(\)"),
        lambda m, msg: "move it with flowdeck next, back or rerun: " + _command("next", msg),
    ),
    (
        re.compile(r"use run\.click\(\) for it"),
        lambda m, msg: "click it with: " + _command("click", msg, "TITLE"),
    ),
    (
        re.compile(r"defines 0 flows \[\]; name one as FILE:ATTRIBUTE"),
        lambda m, msg: (
            "defines no Flow: a flow file makes its flow a module attribute of type Flow, e.g. "
            "flow = Flow(name='Sales', description='...') then flow.chain([...]) at the top level of the file "
            "(with several, name one as FILE:ATTRIBUTE)"
        ),
    ),
    (
        re.compile(r"pass step_name= to see a step's page"),
        lambda m, msg: "see a step's page with: " + _command("page", msg, "STEP"),
    ),
]


def cli_text(message: str) -> str:
    """``message`` with the Python hints of library errors (``call run.rerun()``, ``run.upload(...)``,
    ``before next()``) told as the ``flowdeck`` commands that do the same, for the run acted on."""
    original = message
    for pattern, replace in _HINTS:
        message = pattern.sub(lambda match, replace=replace: replace(match, original), message)
    return message


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


#: How a ``--set`` VALUE is read (the option's help; :func:`parse_value` and ``InputValues`` follow it).
SET_HELP = (
    'TITLE=VALUE for an input. VALUE is JSON when it parses as JSON (["x","z"], [10, 20], "b"), else text as '
    "typed (10,20 or 2020-05-05); a number, true, false or null the input refuses is read as text."
)


def parse_value(text: str) -> Any:
    """A ``--set`` (or ``--param``) value: JSON when it parses as JSON (lists, quoted text, numbers,
    true/false/null), else the text as it is."""
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
        err_console.print(
            Text.assemble(("error:", "bold red"), " ", _safe(cli_text(str(exc)))), highlight=False, soft_wrap=True
        )
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
