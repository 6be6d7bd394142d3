"""``flowdeck serve`` (the web UI and REST API) and ``flowdeck users token`` (API tokens for scripts)."""

from __future__ import annotations

from typing import Annotated

import typer

from flowdeck.cli.common import console

__all__ = ["register"]


def serve(
    flows: Annotated[
        list[str] | None,
        typer.Option("--flows", "-f", help="A flow file (path.py[:attr]) or module (pkg.mod[:attr]); repeatable."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--step-workers", help="Threads that run steps.")] = 4,
    reload: Annotated[
        bool, typer.Option("--reload", help="Load a flow file again when it changes (new runs and re-runs use it).")
    ] = False,
) -> None:
    """Serve the web UI and REST API (OpenAPI at /docs). Flows also come from the flows setting."""
    import uvicorn

    from flowdeck.config import get_settings
    from flowdeck.server import create_app

    specs = list(flows or []) + [f for f in get_settings().flows if f not in (flows or [])]
    app = create_app(specs, max_workers=workers, reload=reload)
    console.print(
        f"flowdeck serving {len(specs)} flow(s) on [bold]http://{host}:{port}[/] "
        "(create the first admin with `flowdeck users add NAME --admin --password`)"
    )
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)


def token(
    name: Annotated[str, typer.Argument(help="The user the token acts for.")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
) -> None:
    """Mint an API token for a user (printed once; send it as 'Authorization: Bearer <token>')."""
    from flowdeck.auth.users import list_users
    from flowdeck.errors import NotFoundError
    from flowdeck.server.auth import create_token

    found = next((p for p in list_users() if p.name == name), None)
    if found is None:
        raise NotFoundError(f"no user {name!r}; create it with `flowdeck users add {name}`")
    _, secret = create_token(found, label)
    console.print(secret, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``flowdeck`` command and ``token`` to ``flowdeck users``."""
    app.command("serve")(serve)
    from flowdeck.cli.users import app as users_app

    users_app.command("token")(token)
