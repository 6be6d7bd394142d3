"""uvicorn's HTTP/1.1 protocol with read timeouts, so slow clients cannot hold connections forever.

uvicorn closes idle keep-alive connections, but a client that sends a request's headers or body
a byte at a time (slowloris) keeps its connection, and a little of the server's memory, for as
long as it likes. This protocol gives every request ``header_timeout`` seconds to deliver its
headers, counted from the connection (or the previous response), and its body ``body_timeout``
seconds between two chunks; the connection is closed when either runs out. Waiting while the
app itself has not read the body yet (flow control) does not count.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["TimedH11Protocol", "timed_protocol"]


class TimedH11Protocol(H11Protocol):
    """:class:`H11Protocol` with a header deadline and a body idle timeout (see the module)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As :class:`H11Protocol`."""
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._header_armed = False

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        self._header_armed = False

    def _arm(self, seconds: float, *, header: bool) -> None:
        self._cancel_read_timer()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)
        self._header_armed = header

    def _follow_state(self) -> None:
        """Arm the timer that fits what the client should be sending now."""
        if self.transport is None or self.transport.is_closing():
            self._cancel_read_timer()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if not self._header_armed:  # the deadline runs from the start: a drip does not extend it
                self._arm(self.header_timeout, header=True)
        elif state is h11.SEND_BODY:
            self._arm(self.body_timeout, header=False)  # reset by every chunk
        else:
            self._cancel_read_timer()

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY and self.flow is not None and self.flow.read_paused:
            self._arm(self.body_timeout, header=False)  # the app is not reading: not the client's fault
            return
        if state not in (h11.IDLE, h11.SEND_BODY):
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header deadline as the connection opens."""
        super().connection_made(transport)
        self._follow_state()

    def data_received(self, data: bytes) -> None:
        """Read as uvicorn does, then re-arm the timers for the request's new state."""
        super().data_received(data)
        self._follow_state()

    def on_response_complete(self) -> None:
        """The next request on this connection gets a fresh header deadline."""
        self._cancel_read_timer()
        super().on_response_complete()
        self._follow_state()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timer with the connection."""
        self._cancel_read_timer()
        super().connection_lost(exc)


def timed_protocol(header_timeout: float, body_timeout: float) -> type[TimedH11Protocol]:
    """A :class:`TimedH11Protocol` class with these timeouts, for ``uvicorn.run(..., http=...)``."""
    return type(
        "TimedH11Protocol",
        (TimedH11Protocol,),
        {"header_timeout": float(header_timeout), "body_timeout": float(body_timeout)},
    )
