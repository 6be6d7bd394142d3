"""``flowdeck connections``: add, list, test, share, unshare, remove and rotate the key of stored connections."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from flowdeck.cli.common import cells, console, esc, fail, parse_value
from flowdeck.cli.sharing import (
    Acting,
    ConnectionUser,
    SharedGroups,
    SharedWithUser,
    UnsharedGroups,
    UnsharedWithUser,
    connection_parties,
    require_whom,
)

app = typer.Typer(
    help="Named database connections (secrets are stored encrypted and never shown).", no_args_is_help=True
)

User = Annotated[str | None, typer.Option("--user", "-u", help="Who acts (the owner for add and remove).")]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The connection's name.")],
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            "-t",
            help="postgresql, mysql, mariadb, sqlite, mssql, databricks, snowflake, s3, api or other.",
        ),
    ],
    user: User = None,
    host: Annotated[str | None, typer.Option(help="Server host.")] = None,
    port: Annotated[int | None, typer.Option(help="Server port.")] = None,
    database: Annotated[str | None, typer.Option(help="Database (a file path for sqlite).")] = None,
    username: Annotated[str | None, typer.Option(help="Login name.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE extra (repeatable).")] = None,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin", help="Read the secret from standard input.")] = False,
    no_secret: Annotated[bool, typer.Option("--no-secret", help="The connection needs no secret.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="An admin adding it for the owner (needed for file-path params).")
    ] = None,
) -> None:
    """Store a connection; the secret is read from stdin or a hidden prompt, never from the command line.

    Params whose names look secret (sslpassword, token, ...) are encrypted like the secret;
    pass them with --param only where the command line is private, or add them from Python.
    """
    from flowdeck.store.connections import add_connection

    params = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param takes KEY=VALUE, got {item!r}")
        if key in ("name", "type", "owner", "host", "port", "database", "username", "password", "user", "restricted"):
            raise typer.BadParameter(f"--param {key}=... is not a connection param; use the option of its own")
        params[key] = parse_value(value)
    if secret_stdin and no_secret:
        fail("--secret-stdin and --no-secret contradict each other; give one", 2)
    secret = None
    if not no_secret:
        secret = _read_secret(explicit_stdin=secret_stdin)
    info = add_connection(
        name,
        type_,
        owner=user,
        host=host,
        port=port,
        database=database,
        username=username,
        password=secret,
        user=by,
        **params,
    )
    console.print(f"added connection [bold]{esc(info.name)}[/] ({info.type.value}) for {esc(info.owner)}")


def _read_secret(*, explicit_stdin: bool) -> str | None:
    """The connection's secret: the first line of standard input when asked for or when it is not a
    terminal (``echo "$PW" | flowdeck connections add ...``), else a hidden prompt (empty: no secret)."""
    if explicit_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        secret = line.rstrip("\r\n")
        if not secret:
            fail(
                'no secret on standard input: pipe it in (echo "$PASSWORD" | flowdeck connections add ...), '
                "or pass --no-secret for a connection that needs none",
                2,
            )
        return secret
    return typer.prompt("Secret", hide_input=True, default="", show_default=False) or None


@app.command("list")
def list_(user: User = None) -> None:
    """List the connections a user may use (no secrets)."""
    from flowdeck.store.connections import list_connections

    table = Table("name", "owner", "type", "host", "port", "database", "username", "secret", "shared with")
    for info in list_connections(user):
        table.add_row(
            *cells(
                info.name,
                info.owner,
                info.type.value,
                info.host or "",
                str(info.port or ""),
                info.database or "",
                info.username or "",
                "stored" if info.has_secret else "-",
                ", ".join(info.shared_with),
            )
        )
    console.print(table)


@app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="The connection's name.")],
    user: User = None,
    owner: Annotated[str | None, typer.Option(help="The connection's owner, if not the user.")] = None,
) -> None:
    """Connect and report the server's version (exit code 1, with the database's reason, when it fails)."""
    from flowdeck.errors import FlowdeckError
    from flowdeck.store.connections import test_connection

    try:
        version = test_connection(name, user, owner)
    except FlowdeckError:
        raise
    except Exception as exc:  # the driver's own error is the answer to the test
        fail(f"connection {name!r} does not work: {connection_failure(exc)}")
    console.print(f"connection [bold]{esc(name)}[/] works: {esc(version)}")


def connection_failure(exc: BaseException) -> str:
    """The reason a database driver gave for a failed connection, on one line and without SQLAlchemy's links."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    reason = getattr(exc, "orig", None) or exc
    text = " ".join(line.strip() for line in str(reason).splitlines() if line.strip())
    text = text.split("(Background on this error at:")[0].strip()
    return f"{type(reason).__name__}: {text}" if text else type(reason).__name__


Owner = Annotated[
    str | None,
    typer.Option("--owner", help="The connection's owner, when an admin acts on someone else's connection."),
]
_WHOM = "--with-user NAME and/or --group NAME (or --user NAME together with --as WHO)"


@app.command("share")
def share(
    name: Annotated[str, typer.Argument(help="The connection's name.")],
    user: ConnectionUser = None,
    with_user: SharedWithUser = None,
    with_group: SharedGroups = None,
    acting: Acting = None,
    owner: Owner = None,
) -> None:
    """Let other users and groups use a connection.

    Who acts: --as, the connection's owner or an admin (--owner names the owner when an admin acts on
    someone else's connection).

    Shared with: the users named by --with-user and the groups named by --group (both repeatable);
    they must exist already.

    --user keeps its older meaning here, who acts, unless --as is given: then it names a user to
    share with, as in 'flowdeck share' and 'flowdeck assets share'.
    """
    from flowdeck.store.connections import share_connection

    who, users = connection_parties(user, with_user, acting)
    require_whom(users, with_group, revoke=False, how=_WHOM)
    info = share_connection(
        name, owner=owner or who, users=users, groups=with_group or [], user=who, register_users=False
    )
    console.print(f"connection [bold]{esc(info.name)}[/] is shared with {esc(', '.join(info.shared_with) or 'nobody')}")


@app.command("unshare")
def unshare(
    name: Annotated[str, typer.Argument(help="The connection's name.")],
    user: ConnectionUser = None,
    with_user: UnsharedWithUser = None,
    with_group: UnsharedGroups = None,
    acting: Acting = None,
    owner: Owner = None,
) -> None:
    """Stop letting users and groups use a connection.

    Who acts: --as, the connection's owner or an admin (--owner names the owner when an admin acts on
    someone else's connection).

    No longer shared with: the users named by --with-user and the groups named by --group (both
    repeatable).

    --user keeps its older meaning here, who acts, unless --as is given: then it names a user to
    stop sharing with, as in 'flowdeck unshare' and 'flowdeck assets unshare'.
    """
    from flowdeck.store.connections import unshare_connection

    who, users = connection_parties(user, with_user, acting)
    require_whom(users, with_group, revoke=True, how=_WHOM)
    info = unshare_connection(name, owner or who, users=users, groups=with_group or [], user=who)
    console.print(f"connection [bold]{esc(info.name)}[/] is shared with {esc(', '.join(info.shared_with) or 'nobody')}")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The connection's name.")], user: User = None) -> None:
    """Delete a connection."""
    from flowdeck.store.connections import remove_connection

    remove_connection(name, owner=user)
    console.print(f"removed connection [bold]{esc(name)}[/]")


@app.command("rotate-key")
def rotate_key_command(
    retire_old: Annotated[bool, typer.Option("--retire-old", help="Drop the old keys afterwards.")] = False,
) -> None:
    """Make a new deployment key the newest (the same as 'flowdeck keys rotate')."""
    from flowdeck.cli.admin import report_rotation
    from flowdeck.store.connections import rotate_key

    report_rotation(rotate_key(retire_old=retire_old))


def register(root: typer.Typer) -> None:
    """Add ``connections`` to the root app."""
    root.add_typer(app, name="connections")
