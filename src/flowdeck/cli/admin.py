"""Deployment housekeeping: ``flowdeck gc``, ``flowdeck keys`` and ``flowdeck smtp``."""

from __future__ import annotations

from typing import Annotated

import typer

from flowdeck.cli.common import console, fail

keys_app = typer.Typer(help="Deployment keys.", no_args_is_help=True)
smtp_app = typer.Typer(help="The SMTP server e-mail notifications go through.", no_args_is_help=True)
AdminUser = Annotated[str | None, typer.Option("--user", "-u", help="The admin who acts (default: the only user).")]


@keys_app.command("new")
def keys_new() -> None:
    """Print a new secret key for FLOWDECK_SECRET_KEY."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())


@keys_app.command("rotate")
def keys_rotate(
    retire_old: Annotated[
        bool, typer.Option("--retire-old", help="Drop the old keys once every secret and signature uses the new one.")
    ] = False,
    key_stdin: Annotated[
        bool, typer.Option("--key-stdin", help="Read the new key from standard input (default: make one).")
    ] = False,
) -> None:
    """Make a new key the newest: re-encrypt every stored secret and re-sign every signed value with it.

    Stop servers and workers of the deployment while retiring old keys, then start them with the new key.
    """
    import sys

    from flowdeck.store.connections import rotate_key

    key = None
    if key_stdin:
        key = sys.stdin.readline().strip()
        if not key:
            fail(
                "--key-stdin: no key on standard input; pipe one in "
                "(flowdeck keys new | flowdeck keys rotate --key-stdin)",
                2,
            )
        if not _is_fernet_key(key):
            fail(
                "--key-stdin: the key on standard input is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with `flowdeck keys new`",
                2,
            )
    report_rotation(rotate_key(key, retire_old=retire_old))


def _is_fernet_key(key: str) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return False
    return True


def report_rotation(result: object) -> None:
    """Print the outcome of a key rotation (a :class:`flowdeck.store.connections.KeyRotation`)."""
    from flowdeck.store.connections import KeyRotation

    assert isinstance(result, KeyRotation)
    console.print(
        f"re-encrypted {result.reencrypted} connection secrets and re-signed {result.resigned} stored values "
        "under a new key"
    )
    if result.unverified:
        console.print(
            f"left {len(result.unverified)} values whose signature no key verifies (they stay refused): "
            + ", ".join(result.unverified[:20]),
            markup=False,
        )
    if result.retired:
        console.print(f"retired {result.retired} old keys: only the new key is configured now")
    if result.key_file is not None:
        kept = "" if result.retired else " (newest first; the old keys stay for older values)"
        console.print(f"the keys are in {result.key_file}{kept}", markup=False)
    else:
        console.print("FLOWDECK_SECRET_KEY comes from the environment: set it to this value now:")
        typer.echo(result.secret_key_setting)


def gc(
    grace: Annotated[float, typer.Option(min=0, help="Keep blobs younger than this many seconds.")] = 3600.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
) -> None:
    """Remove stored blobs that no output, upload or asset refers to."""
    from flowdeck.store.maintenance import collect_garbage

    report = collect_garbage(grace_seconds=grace, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"examined {report.examined} blobs, {verb} {report.removed}, kept {report.kept_recent} too recent to judge"
    )
    if report.partial_writes_removed:
        console.print(f"removed {report.partial_writes_removed} partial writes left by interrupted saves")


@smtp_app.command("set")
def smtp_set(
    host: Annotated[str, typer.Argument(help="The SMTP server's host name.")],
    port: Annotated[int, typer.Option(help="Its port (587 for STARTTLS, 465 for TLS from the start).")] = 587,
    security: Annotated[str, typer.Option(help="starttls, ssl or none (loopback or a trusted relay).")] = "starttls",
    username: Annotated[str | None, typer.Option(help="The user name to log in with, if any.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (never an argument).")
    ] = False,
    sender: Annotated[str, typer.Option(help="The From address of the e-mails.")] = "flowdeck@localhost",
    user: AdminUser = None,
) -> None:
    """Store the SMTP server (admins only); it takes precedence over FLOWDECK_SMTP_URL.

    The password is encrypted at rest and never printed. With --username it is read from standard
    input (--password-stdin, or whenever standard input is not a terminal), else prompted for (hidden).
    """
    import sys

    from flowdeck.store.notifications import set_smtp_server

    password = None
    if password_stdin or (username and not sys.stdin.isatty()):
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail('no SMTP password on standard input; pipe it in (echo "$PASSWORD" | flowdeck smtp set ...)', 2)
    elif username:
        password = typer.prompt("SMTP password", hide_input=True, default="", show_default=False) or None
    server = set_smtp_server(
        host, port, username=username, password=password, sender=sender, security=security, user=user
    )
    _print_smtp(server, "stored the SMTP server: ")


@smtp_app.command("show")
def smtp_show(user: AdminUser = None) -> None:
    """Show the stored SMTP server (never its password)."""
    from flowdeck.store.notifications import get_smtp_server

    server = get_smtp_server(user=user)
    if server is None:
        console.print("no SMTP server is stored (FLOWDECK_SMTP_URL applies when set); see: flowdeck smtp set --help")
        return
    _print_smtp(server, "")


@smtp_app.command("remove")
def smtp_remove(user: AdminUser = None) -> None:
    """Forget the stored SMTP server (admins only); FLOWDECK_SMTP_URL applies again."""
    from flowdeck.store.notifications import remove_smtp_server

    remove_smtp_server(user=user)
    console.print("removed the stored SMTP server")


def _print_smtp(server: object, lead: str) -> None:
    from flowdeck.store.notifications import SmtpServer

    assert isinstance(server, SmtpServer)
    login = f", logs in as {server.username}" + (" with a stored password" if server.has_password else "")
    console.print(
        f"{lead}{server.host}:{server.port} ({server.security}), sender {server.sender}"
        + (login if server.username else "")
        + (f", set by {server.updated_by}" if server.updated_by else ""),
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the housekeeping commands to ``app``."""
    app.command("gc")(gc)
    app.add_typer(keys_app, name="keys")
    app.add_typer(smtp_app, name="smtp")
