"""Deployment housekeeping: ``flowdeck gc`` and ``flowdeck keys``."""

from __future__ import annotations

from typing import Annotated

import typer

from flowdeck.cli.common import console

keys_app = typer.Typer(help="Deployment keys.", no_args_is_help=True)


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

    key = sys.stdin.readline().strip() if key_stdin else None
    report_rotation(rotate_key(key or None, retire_old=retire_old))


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
    grace: Annotated[float, typer.Option(help="Keep blobs younger than this many seconds.")] = 3600.0,
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


def register(app: typer.Typer) -> None:
    """Add the housekeeping commands to ``app``."""
    app.command("gc")(gc)
    app.add_typer(keys_app, name="keys")
