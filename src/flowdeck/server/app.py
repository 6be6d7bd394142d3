"""The FastAPI app of ``flowdeck serve``: the REST API, live events and the web UI."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
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
    CallbackLoadError,
    FlowdeckError,
    IntegrityError,
    MissingInputError,
    NotFoundError,
    QuotaBusyError,
    StepFailedError,
    StepStateError,
    ValidationError,
)
from flowdeck.server import (
    routes_assets,
    routes_auth,
    routes_callbacks,
    routes_comments,
    routes_connections,
    routes_headless,
    routes_runs,
    routes_tables,
)
from flowdeck.server.auth import AuthError
from flowdeck.server.catalogue import FlowCatalogue
from flowdeck.server.deps import ServerState
from flowdeck.server.events import InvalidEventId
from flowdeck.server.executor import CallbackPool, StepExecutor
from flowdeck.triggers.apps import register_flow

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


# The OpenAPI page starts its (local) script inline.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: The one route whose bodies are uploads, limited by ``max_upload_bytes`` (plus multipart framing)
#: instead. Matched exactly, with its method: any other path ending in ``/upload`` (a comment whose id
#: is ``upload``) keeps the JSON limit, since its body is parsed before the caller is authenticated.
_UPLOAD_PATH = re.compile(r"/api/runs/[^/]+/steps/[^/]+/elements/[^/]+/upload")
_MULTIPART_SLACK = 64 * 1024


class BodyLimit:
    """Refuses request bodies over a limit with 413 before the app reads them into memory.

    A declared ``Content-Length`` over the limit is refused at once, without reading a byte; a
    body sent without one (chunked) is counted as it streams in and refused as soon as it passes
    the limit. Upload routes get ``max_upload_bytes`` plus multipart framing, every other route
    ``max_json_bytes``.
    """

    def __init__(self, app: ASGIApp, max_json_bytes: int, max_upload_bytes: int) -> None:
        """Wrap ``app``."""
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes + _MULTIPART_SLACK

    def _limit(self, scope: Scope) -> int:
        path: str = scope.get("path", "")
        upload = scope.get("method") == "POST" and _UPLOAD_PATH.fullmatch(path) is not None
        return self.max_upload_bytes if upload else self.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body counted; answer 413 instead once it is too large."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = value.decode("latin-1").strip()
                if not declared.isdigit():
                    await _too_large(send, "the Content-Length header is not a number", status=400)
                    return
                if int(declared) > limit:
                    await _too_large(send, f"the request body is {int(declared):,} bytes, over the limit of {limit:,}")
                    return
        received = 0
        refused = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not response_started:
                        await _too_large(send, f"the request body is over the limit of {limit:,} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 has been sent; the app's own answer is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


async def _too_large(send: Send, detail: str, status: int = 413) -> None:
    setting = " (setting max_json_bytes, or max_upload_bytes for uploads)" if status == 413 else ""
    body = JSONResponse(
        {"error": "PayloadTooLarge" if status == 413 else "BadRequest", "detail": detail + setting}
    ).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds the content security policy and related headers (the OpenAPI page allows its inline script)."""

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
        csp = _DOCS_CSP if path.startswith("/docs") else _CSP
        extra.append((b"content-security-policy", csp.encode()))

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
        response = _error(exc.status, exc)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def missing_input(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MissingInputError)
        return _error(422, exc, missing=exc.missing)

    async def too_large(_: Request, exc: Exception) -> JSONResponse:
        return _error(413, exc)

    async def callback_gone(_: Request, exc: Exception) -> JSONResponse:
        # Whoever may view a run may fire its callbacks: the answer must not name the server's
        # modules or file paths. The operator finds the whole message in the log.
        log.warning("%s", exc)
        return JSONResponse({"error": "NotFoundError", "detail": CallbackLoadError.public_message}, status_code=404)

    async def quota_busy(_: Request, exc: Exception) -> JSONResponse:
        response = _error(503, exc)
        response.headers["Retry-After"] = "5"
        return response

    def fixed(status: int):
        async def handler(_: Request, exc: Exception) -> JSONResponse:
            return _error(status, exc)

        return handler

    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(MissingInputError, missing_input)
    app.add_exception_handler(routes_runs.PayloadTooLarge, too_large)
    app.add_exception_handler(InvalidEventId, fixed(400))
    app.add_exception_handler(routes_callbacks.BadCallbackEvent, fixed(400))
    app.add_exception_handler(CallbackLoadError, callback_gone)
    app.add_exception_handler(NotFoundError, fixed(404))
    app.add_exception_handler(AccessError, fixed(403))
    app.add_exception_handler(ValidationError, fixed(422))
    app.add_exception_handler(AlreadyExistsError, fixed(409))
    app.add_exception_handler(StepStateError, fixed(409))
    app.add_exception_handler(StepFailedError, fixed(409))
    app.add_exception_handler(IntegrityError, fixed(500))
    app.add_exception_handler(QuotaBusyError, quota_busy)
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


def _docs_assets() -> Path:
    """Swagger UI as shipped by the fastapi-offline package (its static files only)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _install_docs(app: FastAPI) -> None:
    """The OpenAPI page at /docs (Swagger UI), its script and styles served from this server.

    FastAPI's default page loads them from a CDN; here they come from the installed fastapi-offline
    package under ``/vendor/api-docs/``, so nothing is loaded from another origin. ReDoc is not
    offered: it loads its logo from its vendor's site.
    """
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

    app.mount("/vendor/api-docs", StaticFiles(directory=_docs_assets()), name="api-docs")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title="flowdeck API",
            swagger_js_url="/vendor/api-docs/swagger-ui-bundle.js",
            swagger_css_url="/vendor/api-docs/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> Response:
        return get_swagger_ui_oauth2_redirect_html()


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
        "/triggers",
        "/account",
        "/runs/{run_id}",
        "/runs/{run_id}/steps/{step_name}",
    ):
        app.add_api_route(path, shell, methods=["GET"], include_in_schema=False)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg")


def create_app(
    flows: list[str] | None = None, *, max_workers: int = 4, reload: bool = False, scheduler: bool | None = None
) -> FastAPI:
    """The server app offering ``flows`` (files ``path.py[:attr]`` or modules ``pkg.mod[:attr]``).

    ``flows=None`` takes them from the ``flows`` setting (``FLOWDECK_FLOWS``). Steps run in a pool
    of ``max_workers`` threads. ``reload=True`` watches the flow files and loads a changed file
    again: new runs and re-runs use the new code. ``scheduler`` (default: on the embedded default
    only) runs the trigger scheduler and notifications in the server while it is up.
    """
    settings = get_settings()
    specs = list(settings.flows if flows is None else flows)
    state = ServerState(
        FlowCatalogue(specs),
        StepExecutor(max_workers),
        settings.max_upload_bytes,
        CallbackPool(max(4, max_workers), settings.step_workers_per_user or None),
    )
    for registered in state.catalogue:  # every process (schedulers, workers, the CLI) finds them by name
        register_flow(registered.ref)

    with_scheduler = settings.is_embedded if scheduler is None else scheduler

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if with_scheduler:
            from flowdeck.triggers import run_scheduler

            threading.Thread(target=run_scheduler, args=(1.0, stop), name="flowdeck-scheduler", daemon=True).start()
        watcher = None
        if reload:
            from flowdeck.server.reload import FlowFileWatcher

            watcher = FlowFileWatcher(state.catalogue)
            watcher.start()
        yield
        stop.set()
        if watcher is not None:
            watcher.stop()
        state.executor.shutdown(wait=True)
        state.callbacks.shutdown(wait=True)

    app = FastAPI(
        title="flowdeck",
        summary="Run step-by-step analytics flows; browse assets and connections.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.flowdeck = state
    # Logins queue for a password-check slot on the event loop (see routes_auth.login).
    app.state.login_slots = asyncio.Semaphore(max(1, settings.max_concurrent_hashes))
    _install_error_handlers(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_runs.router)
    app.include_router(routes_callbacks.router)
    app.include_router(routes_comments.router)
    app.include_router(routes_headless.router)
    app.include_router(routes_tables.router)
    app.include_router(routes_assets.router)
    app.include_router(routes_connections.router)
    _install_docs(app)
    _install_ui(app)
    app.add_middleware(SecurityHeaders)
    # Outermost: a body over the limit is refused before anything else reads it.
    app.add_middleware(BodyLimit, max_json_bytes=settings.max_json_bytes, max_upload_bytes=settings.max_upload_bytes)
    return app
