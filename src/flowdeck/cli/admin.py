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
