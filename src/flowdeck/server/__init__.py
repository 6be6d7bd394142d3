"""``flowdeck serve``: the REST API, server-sent progress events and the web UI.

``create_app`` is imported on first use, so that importing a submodule (``flowdeck.server.deps``, ...)
does not import the whole application first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:  # pragma: no cover
    from flowdeck.server.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from flowdeck.server.app import create_app

        return create_app
    raise AttributeError(f"module 'flowdeck.server' has no attribute {name!r}")
