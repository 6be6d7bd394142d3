"""``flowdeck connections``: add, list, test, share, unshare, remove and rotate the key of stored connections."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from flowdeck.cli.common import cells, console, esc, fail, parse_value

app = typer.Typer(
    help="Named database connections (secrets are stored encrypted and never shown).", no_args_is_help=True
)

User = Annotated[str | None, typer.Option("--user", "-u", help="Who acts (the owner for add/share/remove).")]


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

    Params whose names look secret (``sslpassword``, ``token``, ...) are encrypted like the secret;
    pass them with ``--param`` only where the command line is private, or add them from Python.
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


@app.command("share")
def share(
    name: Annotated[str, typer.Argument(help="The connection's name.")],
    user: User = None,
    with_user: Annotated[list[str] | None, typer.Option("--with-user", help="A user to share with.")] = None,
    with_group: Annotated[list[str] | None, typer.Option("--with-group", help="A group to share with.")] = None,
) -> None:
    """Let other users or groups use a connection."""
    from flowdeck.store.connections import share_connection

    if not with_user and not with_group:
        fail("say whom to share with: --with-user NAME and/or --with-group NAME", 2)
    info = share_connection(name, owner=user, users=with_user or [], groups=with_group or [], register_users=False)
    console.print(f"connection [bold]{esc(info.name)}[/] is shared with {esc(', '.join(info.shared_with) or 'nobody')}")


@app.command("unshare")
def unshare(
    name: Annotated[str, typer.Argument(help="The connection's name.")],
    user: User = None,
    with_user: Annotated[list[str] | None, typer.Option("--with-user", help="A user to stop sharing with.")] = None,
    with_group: Annotated[list[str] | None, typer.Option("--with-group", help="A group to stop sharing with.")] = None,
    owner: Annotated[str | None, typer.Option(help="The connection's owner, if not the user (admins).")] = None,
) -> None:
    """Stop letting users or groups use a connection."""
    from flowdeck.store.connections import unshare_connection

    if not with_user and not with_group:
        fail("say whom: --with-user NAME and/or --with-group NAME", 2)
    info = unshare_connection(name, owner or user, users=with_user or [], groups=with_group or [], user=user)
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
    """Make a new deployment key the newest (the same as ``flowdeck keys rotate``)."""
    from flowdeck.cli.admin import report_rotation
    from flowdeck.store.connections import rotate_key

    report_rotation(rotate_key(retire_old=retire_old))


def register(root: typer.Typer) -> None:
    """Add ``connections`` to the root app."""
    root.add_typer(app, name="connections")
