"""The FastAPI app of ``flowdeck serve``: the REST API, live events and the web UI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowdeck.config import get_settings
from flowdeck.errors import (
    AccessError,
    AlreadyExistsError,
    FlowdeckError,
    IntegrityError,
    MissingInputError,
    NotFoundError,
    StepFailedError,
    StepStateError,
    ValidationError,
)
from flowdeck.server import routes_assets, routes_auth, routes_connections, routes_runs
from flowdeck.server.auth import AuthError
from flowdeck.server.catalogue import FlowCatalogue
from flowdeck.server.deps import ServerState
from flowdeck.server.executor import StepExecutor

__all__ = ["create_app"]

log = logging.getLogger("flowdeck.server")
STATIC_DIR = Path(__file__).parent / "static"

# Everything the UI needs is served from this origin; nothing may be framed or loaded from elsewhere.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the content security policy and related headers (the OpenAPI pages keep their own)."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding headers to the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = list(_SECURITY_HEADERS)
        if not (path.startswith("/docs") or path.startswith("/redoc")):
            extra.append((b"content-security-policy", _CSP.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, exc: Exception, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": type(exc).__name__, "detail": str(exc), **extra}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    """Map the library's errors to HTTP statuses (bad input is never a 500)."""

    async def auth_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        return _error(exc.status, exc)

    async def missing_input(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MissingInputError)
        return _error(422, exc, missing=exc.missing)

    async def too_large(_: Request, exc: Exception) -> JSONResponse:
        return _error(413, exc)

    def fixed(status: int):
        async def handler(_: Request, exc: Exception) -> JSONResponse:
            return _error(status, exc)

        return handler

    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(MissingInputError, missing_input)
    app.add_exception_handler(routes_runs.PayloadTooLarge, too_large)
    app.add_exception_handler(NotFoundError, fixed(404))
    app.add_exception_handler(AccessError, fixed(403))
    app.add_exception_handler(ValidationError, fixed(422))
    app.add_exception_handler(AlreadyExistsError, fixed(409))
    app.add_exception_handler(StepStateError, fixed(409))
    app.add_exception_handler(StepFailedError, fixed(409))
    app.add_exception_handler(IntegrityError, fixed(500))
    app.add_exception_handler(FlowdeckError, fixed(422))
    # Services written against the reference API raise the built-in types for bad arguments.
    app.add_exception_handler(ValueError, fixed(422))
    app.add_exception_handler(PermissionError, fixed(403))

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in exc.errors()]
        return JSONResponse(
            {"error": "RequestValidationError", "detail": "; ".join(problems) or "invalid request"},
            status_code=422,
        )

    app.add_exception_handler(RequestValidationError, validation)


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _install_ui(app: FastAPI) -> None:
    """The web UI: one HTML shell whose script renders each page, plus static files and plotly.js."""
    index = STATIC_DIR / "index.html"
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            _plotly_js(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    def shell() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-store"})

    for path in (
        "/",
        "/login",
        "/assets",
        "/connections",
        "/account",
        "/runs/{run_id}",
        "/runs/{run_id}/steps/{step_name}",
    ):
        app.add_api_route(path, shell, methods=["GET"], include_in_schema=False)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg")


def create_app(flows: list[str] | None = None, *, max_workers: int = 4, reload: bool = False) -> FastAPI:
    """The server app offering ``flows`` (files ``path.py[:attr]`` or modules ``pkg.mod[:attr]``).

    ``flows=None`` takes them from the ``flows`` setting (``FLOWDECK_FLOWS``). Steps run in a pool
    of ``max_workers`` threads. ``reload=True`` watches the flow files and loads a changed file
    again: new runs and re-runs use the new code.
    """
    settings = get_settings()
    specs = list(settings.flows if flows is None else flows)
    state = ServerState(FlowCatalogue(specs), StepExecutor(max_workers), settings.max_upload_bytes)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher = None
        if reload:
            from flowdeck.server.reload import FlowFileWatcher

            watcher = FlowFileWatcher(state.catalogue)
            watcher.start()
        yield
        if watcher is not None:
            watcher.stop()
        state.executor.shutdown(wait=True)

    app = FastAPI(
        title="flowdeck",
        summary="Run step-by-step analytics flows; browse assets and connections.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.flowdeck = state
    _install_error_handlers(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_runs.router)
    app.include_router(routes_assets.router)
    app.include_router(routes_connections.router)
    _install_ui(app)
    app.add_middleware(SecurityHeaders)
    return app
