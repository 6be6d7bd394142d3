"""``flowdeck assets``: list, show, export, delete and share catalogue assets.

``--user/-u`` (or ``--as``) says who acts, as in the other commands; ``share`` and ``unshare`` take
the options of every share command (:mod:`flowdeck.cli.sharing`): ``--user``/``--group`` name whom
it is shared with, so there the acting user is given with ``--as``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from flowdeck.cli.common import cells, console, esc
from flowdeck.cli.sharing import (
    Acting,
    SharedGroups,
    SharedUsers,
    UnsharedGroups,
    UnsharedUsers,
    print_shared,
    require_whom,
)

app = typer.Typer(help="List, show, export, delete and share assets.", no_args_is_help=True)

ActingUser = Annotated[str | None, typer.Option("--user", "-u", "--as", help="Who acts (default: the only user).")]


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else ""


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


@app.command("list")
def list_(
    label: Annotated[str | None, typer.Option("--label", "-l", help="Only this label.")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="Only this type (model, dataset, ...).")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only this name.")] = None,
    user: ActingUser = None,
) -> None:
    """List the asset versions a user may see, newest first."""
    from flowdeck.store import assets as asset_service

    found = asset_service.list_assets(user=user, label=label, type=type_, name=name)
    table = Table("label", "type", "name", "version", "owner", "created", "description")
    table.columns.insert(0, Column("id", no_wrap=True))
    for asset in found:
        table.add_row(
            *cells(
                asset.id,
                asset.label,
                asset.type.value,
                asset.name or "",
                str(asset.version),
                asset.owner or "",
                _when(asset.time_created),
                asset.description or "",
            )
        )
    console.print(table)
    console.print(f"{len(found)} asset version{'s' if len(found) != 1 else ''}")


@app.command("show")
def show(asset_id: Annotated[str, typer.Argument(help="The asset id.")], user: ActingUser = None) -> None:
    """Show one asset version: its metadata, how it is stored, and every version of its lineage."""
    import json

    from flowdeck.store import assets as asset_service

    details = asset_service.describe_asset(asset_id, user=user)
    asset = details.asset
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rows = [
        ("id", asset.id),
        ("label", asset.label),
        ("type", asset.type.value),
        ("name", asset.name or ""),
        ("version", str(asset.version)),
        ("class", type(asset).__name__),
        ("description", asset.description or ""),
        ("owner", asset.owner or ""),
        ("saved by", details.created_by),
        ("run", asset.flow_id or ""),
        ("step", asset.step_name or ""),
        ("created", _when(asset.time_created)),
        ("updated", _when(asset.time_updated)),
        ("object", details.python_type or ""),
        ("stored as", f"{details.storage_format}, {_size(details.size)}"),
    ]
    if details.shares is not None:
        shared = ", ".join(f"{kind} {who}" for kind, who in details.shares) or "nobody"
        rows.append(("shared with", shared))
    for key, value in rows:
        facts.add_row(*cells(key, value))
    console.print(facts)
    if asset.metadata:
        console.print("[bold]metadata[/]")
        console.print_json(json.dumps(asset.metadata, default=str))
    versions = Table(
        "version",
        Column("id", no_wrap=True),
        "created",
        "updated",
        "description",
        title="lineage",
        title_justify="left",
    )
    for version in details.versions:
        marker = " *" if version.id == asset.id else ""
        versions.add_row(
            *cells(
                f"{version.version}{marker}",
                version.id,
                _when(version.time_created),
                _when(version.time_updated),
                version.description or "",
            )
        )
    console.print(versions)


@app.command("export")
def export(
    asset_id: Annotated[str, typer.Argument(help="The asset id.")],
    path: Annotated[
        Path, typer.Argument(help="Where to write; for a DataFrame the suffix picks the format (see below).")
    ],
    user: ActingUser = None,
) -> None:
    """Write an asset's object to a file: a DataFrame in the format its suffix names, else its stored bytes.

    A DataFrame (or Series): .parquet/.pq, .csv, .json (one object per row), .xlsx (needs openpyxl)
    or .arrow/.feather/.ipc (its stored Arrow IPC file); another suffix is refused. Anything else
    is written as its stored bytes; a table suffix it is not stored in (.csv for a model) is refused.
    A refused export writes nothing.
    """
    from flowdeck.store import assets as asset_service

    written = asset_service.export_asset(asset_id, path, user=user)
    console.print(f"wrote asset {esc(asset_id)} to {esc(path)} ({written})")


@app.command("delete")
def delete(
    asset_id: Annotated[str, typer.Argument(help="The asset id.")],
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Delete the whole lineage.")] = False,
    user: ActingUser = None,
) -> None:
    """Delete an asset version (or its whole lineage); only its owner or an admin may."""
    from flowdeck.store import assets as asset_service

    count = asset_service.delete_asset(asset_id, user=user, all_versions=all_versions)
    console.print(f"deleted {count} version{'s' if count != 1 else ''} of asset {esc(asset_id)}")


@app.command("share")
def share(
    asset_id: Annotated[str, typer.Argument(help="The asset id (sharing covers every version of its lineage).")],
    with_user: SharedUsers = None,
    with_group: SharedGroups = None,
    acting: Acting = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Stop sharing with them instead.")] = False,
) -> None:
    """Share an asset with users and groups (or stop sharing with --revoke).

    Shared with: the users named by --user and the groups named by --group (both repeatable; --with-user
    and --with-group are the same); they must exist already.

    Who acts: --as, the asset's owner or an admin.
    """
    from flowdeck.store import assets as asset_service

    require_whom(with_user, with_group, revoke=revoke, how="--user NAME and/or --group NAME")
    if revoke:
        asset_service.unshare_asset(asset_id, owner=acting, users=with_user or [], groups=with_group or [])
    else:
        asset_service.share_asset(
            asset_id, owner=acting, users=with_user or [], groups=with_group or [], register_users=False
        )
    print_shared("asset", asset_id, with_user or [], with_group or [], revoke=revoke)


@app.command("unshare")
def unshare(
    asset_id: Annotated[str, typer.Argument(help="The asset id (covers every version of its lineage).")],
    with_user: UnsharedUsers = None,
    with_group: UnsharedGroups = None,
    acting: Acting = None,
) -> None:
    """Stop sharing an asset with users and groups (the same as share --revoke).

    No longer shared with: the users named by --user and the groups named by --group (both repeatable;
    --with-user and --with-group are the same).

    Who acts: --as, the asset's owner or an admin.
    """
    share(asset_id, with_user, with_group, acting, revoke=True)


def register(main_app: typer.Typer) -> None:
    """Add ``flowdeck assets`` to the main command."""
    main_app.add_typer(app, name="assets")
