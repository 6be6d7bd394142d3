"""Outcomes of callbacks carried out by workers, kept until the process that fired them reads them."""

from __future__ import annotations

from dataclasses import dataclass

from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import callbacks as callback_records

__all__ = ["CallbackResult", "keep_result", "take_result"]


@dataclass(frozen=True)
class CallbackResult:
    """What a worker recorded for one callback: its outcome (JSON text), or its error."""

    token: str
    outcome: str | None
    error_type: str | None
    error: str | None
    traceback: str | None


def keep_result(
    token: str,
    flow_id: str,
    *,
    outcome: str | None = None,
    error_type: str | None = None,
    error: str | None = None,
    traceback: str | None = None,
) -> None:
    """Record the outcome (JSON text) or error of the callback ``token`` of run ``flow_id``."""
    with get_storage().db.write() as conn:
        callback_records.insert_result(
            conn, token, flow_id, outcome=outcome, error_type=error_type, error=error, traceback=traceback
        )


def take_result(token: str) -> CallbackResult | None:
    """The result of callback ``token`` (removed as it is read), or None while there is none."""
    with get_storage().db.write() as conn:
        row = callback_records.pop_result(conn, token)
    if row is None:
        return None
    return CallbackResult(row.token, row.outcome, row.error_type, row.error, row.traceback)
