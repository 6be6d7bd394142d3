"""``flowdeck serve``: the REST API, server-sent progress events and the web UI."""

from __future__ import annotations

from flowdeck.server.app import create_app

__all__ = ["create_app"]
