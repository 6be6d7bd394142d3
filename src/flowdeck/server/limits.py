"""How many long requests each user (and the whole process) has in flight, for 429 answers beyond a cap."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["InFlight", "too_many_requests"]


def too_many_requests(detail: str, retry_after: int) -> JSONResponse:
    """The 429 answer to a request over its cap: ``TooManyRequests`` with ``detail`` and ``Retry-After``."""
    return JSONResponse(
        {"error": "TooManyRequests", "detail": detail},
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )


class InFlight:
    """Counts the requests of one kind that are running, per user and in all."""

    def __init__(self) -> None:
        """Start with nothing in flight."""
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._total = 0

    def acquire(self, user: str, per_user: int, total: int | None = None) -> bool:
        """Count one more for ``user``; False (nothing counted) when they have ``per_user`` in flight
        already, or when ``total`` are in flight in all."""
        with self._lock:
            if self._counts.get(user, 0) >= per_user or (total is not None and self._total >= total):
                return False
            self._counts[user] = self._counts.get(user, 0) + 1
            self._total += 1
            return True

    def release(self, user: str, *_: Any) -> None:
        """One of ``user``'s ended (extra arguments are ignored, so that it can be a future's done callback)."""
        with self._lock:
            left = self._counts.get(user, 0) - 1
            if left > 0:
                self._counts[user] = left
            else:
                self._counts.pop(user, None)
            self._total = max(0, self._total - 1)

    def in_flight(self, user: str) -> int:
        """How many of ``user``'s are running."""
        with self._lock:
            return self._counts.get(user, 0)
