"""``flowdeck serve`` (the web UI and REST API) and ``flowdeck users token`` (API tokens for scripts)."""

from __future__ import annotations

from typing import Annotated

import typer

from flowdeck.cli.common import console, shell_command

__all__ = ["register"]


def serve(
    flows: Annotated[
        list[str] | None,
        typer.Option("--flows", "-f", help="A flow file (path.py[:attr]) or module (pkg.mod[:attr]); repeatable."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--step-workers", min=1, help="Threads that run steps.")] = 4,
    reload: Annotated[
        bool, typer.Option("--reload", help="Load a flow file again when it changes (new runs and re-runs use it).")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses of TLS proxies whose X-Forwarded-For/-Proto headers are trusted "
            "(setting forwarded_allow_ips; none by default).",
        ),
    ] = None,
) -> None:
    """Serve the web UI and REST API (OpenAPI at /docs).

    The web UI (and POST /api/runs) starts the flows of --flows and of the flows setting. Flows
    registered with 'flowdeck flows add' and not named there are started headless only: POST
    /api/flows/NAME/runs, triggers, or 'flowdeck run --headless NAME'. Runs of any flow, once
    started, are listed and continued in the web UI.
    """
    import uvicorn

    from flowdeck.auth.users import list_users
    from flowdeck.config import get_settings
    from flowdeck.flow.registry import list_registered_flows
    from flowdeck.server import create_app

    settings = get_settings()
    specs = list(flows or []) + [f for f in settings.flows if f not in (flows or [])]
    app = create_app(specs, max_workers=workers, reload=reload)
    offered = [registered.flow.name for registered in app.state.flowdeck.catalogue]
    headless_only = [info.name for info in list_registered_flows() if info.name not in offered]
    has_admin = any(user.is_admin for user in list_users())
    for line in startup_lines(f"http://{host}:{port}", offered, headless_only, has_admin=has_admin):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    uvicorn.run(app, **uvicorn_options(host, port, forwarded_allow_ips or settings.forwarded_allow_ips))


def _flows(count: int) -> str:
    return f"{count} flow{'' if count == 1 else 's'}"


def startup_lines(url: str, offered: list[str], headless_only: list[str], *, has_admin: bool = False) -> list[str]:
    """What ``flowdeck serve`` says as it starts: the flows the web UI starts, and registered ones it does not.

    ``offered`` are the names of the server's catalogue (``--flows`` and the ``flows`` setting);
    ``headless_only`` those of flows registered by name but not in the catalogue. Until the
    deployment has an admin (``has_admin``), the last line says how to make the first one.
    """
    if offered:
        lines = [f"flowdeck serving on {url}, with {_flows(len(offered))} to start in the web UI: {', '.join(offered)}"]
    else:
        lines = [
            f"flowdeck serving on {url}, with no flows to start in the web UI (name them with --flows or the "
            "flows setting)"
        ]
    if headless_only:
        one = len(headless_only) == 1
        lines.append(
            f"{_flows(len(headless_only))} registered with 'flowdeck flows add' {'is' if one else 'are'} not in the "
            f"web UI; {'it starts' if one else 'they start'} headless only (POST /api/flows/NAME/runs, triggers, "
            f"flowdeck run --headless NAME) unless named with --flows: {', '.join(headless_only)}"
        )
    if not has_admin:
        lines.append("create the first admin with: flowdeck users add NAME --admin --password")
    return lines


def uvicorn_options(host: str, port: int, forwarded_allow_ips: str | None) -> dict[str, object]:
    """The uvicorn settings of ``flowdeck serve``: read timeouts; forwarded headers from trusted proxies only.

    Behind a TLS proxy listed there, ``X-Forwarded-Proto: https`` makes the session cookie
    ``Secure`` and ``X-Forwarded-For`` gives the client address that login throttling counts;
    the same headers from anyone else are ignored.
    """
    from flowdeck.config import get_settings
    from flowdeck.server.protocol import timed_protocol

    settings = get_settings()
    trusted = ",".join(ip.strip() for ip in (forwarded_allow_ips or "").split(",") if ip.strip())
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "http": timed_protocol(settings.header_timeout, settings.body_timeout),
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or "",
        "timeout_keep_alive": 5,
    }


def token(
    name: Annotated[str, typer.Argument(help="The user the token acts for.")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="read, write or admin (repeatable; default read and write)."),
    ] = None,
) -> None:
    """Mint an API token for a user (printed once; send it as 'Authorization: Bearer <token>')."""
    from flowdeck.auth.users import list_users
    from flowdeck.errors import NotFoundError
    from flowdeck.server.auth import create_token

    found = next((p for p in list_users() if p.name == name), None)
    if found is None:
        raise NotFoundError(f"no user {name!r}; create it with: {shell_command('flowdeck', 'users', 'add', name)}")
    _, secret = create_token(found, label, scope or None)
    console.print(secret, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``flowdeck`` command and ``token`` to ``flowdeck users``."""
    app.command("serve")(serve)
    from flowdeck.cli.users import app as users_app

    users_app.command("token")(token)
