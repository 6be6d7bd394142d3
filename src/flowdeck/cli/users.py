"""``flowdeck users``: add, change and list users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowdeck.auth import users as user_service
from flowdeck.cli.common import cells, console, esc, fail, shell_command
from flowdeck.errors import AlreadyExistsError, NotFoundError

app = typer.Typer(help="Add, change and list users.", no_args_is_help=True)


def read_password() -> str:
    """A new password: prompted twice (hidden) on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        fail("--password: no password on standard input; run on a terminal to be prompted, or pipe it in", 2)
    return secret


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user name.")],
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="A group (repeatable).")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the user the admin role.")] = False,
    password: Annotated[bool, typer.Option("--password", help="Prompt for a web UI password.")] = False,
) -> None:
    """Create a user (--password prompts on a terminal, or reads one line piped to standard input)."""
    secret = read_password() if password else None
    try:
        principal = user_service.add_user(name, groups=group or [], role="admin" if admin else "user", password=secret)
    except AlreadyExistsError:
        update = shell_command("flowdeck", "users", "update", name, "--group", "G", "--role", "R")
        fail(f"user {name!r} exists already; change it with: {update}")
    console.print(
        f"added user [bold]{esc(principal.name)}[/] (role {principal.role}, groups {esc(list(principal.groups))})"
    )


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="The user name.")],
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Replace the groups (repeatable).")] = None,
    role: Annotated[str | None, typer.Option("--role", help="user or admin.")] = None,
    password: Annotated[bool, typer.Option("--password", help="Prompt for a new web UI password.")] = False,
) -> None:
    """Change a user's groups, role or password (--password as for 'users add')."""
    if group is None and role is None and not password:
        fail("say what to change: --group G (repeatable), --role user|admin and/or --password", 2)
    secret = read_password() if password else None
    try:
        principal = user_service.update_user(name, groups=group, role=role, password=secret)
    except NotFoundError:
        fail(f"no user {name!r}; create it with: {shell_command('flowdeck', 'users', 'add', name)}")
    console.print(
        f"updated user [bold]{esc(principal.name)}[/] (role {principal.role}, groups {esc(list(principal.groups))})"
    )


@app.command("list")
def list_() -> None:
    """List users with their roles and groups."""
    table = Table("user", "role", "groups")
    for principal in user_service.list_users():
        table.add_row(*cells(principal.name, principal.role, ", ".join(principal.groups)))
    console.print(table)


@app.command("logout")
def logout(name: Annotated[str, typer.Argument(help="The user name.")]) -> None:
    """Log a user out everywhere: end every web session and revoke every API token of theirs."""
    from flowdeck.auth.accounts import end_all_sessions

    if not any(p.name == name for p in user_service.list_users()):
        raise NotFoundError(f"no user {name!r}; `flowdeck users list` shows the users")
    end_all_sessions(name)
    console.print(f"ended every session and API token of [bold]{escape(name)}[/]")
