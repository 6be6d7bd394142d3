"""The Celery app of ``FLOWDECK_EXECUTOR=celery``: one task per step action or callback, run by ``flowdeck worker``.

Messages are JSON only (a task carries a run id, a user name and an action, a callback event or
the inputs of a run a trigger started, never pickles) and are acknowledged after the action, so an
action whose worker dies is delivered again. Start a worker
with ``flowdeck worker`` or ``celery -A flowdeck.flow.celery_app worker``, with the same
``FLOWDECK_*`` settings as the processes that submit actions.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from flowdeck.config import Settings, get_settings, on_configure

__all__ = ["app", "callback_task", "configure_app", "headless_task", "perform_task"]

TASK_NAME = "flowdeck.perform"
CALLBACK_TASK_NAME = "flowdeck.callback"
HEADLESS_TASK_NAME = "flowdeck.headless"

app = Celery("flowdeck")


def configure_app(settings: Settings | None = None) -> Celery:
    """Point the Celery app at the deployment's broker (``broker_url``) and return it."""
    settings = settings or get_settings()
    app.conf.update(
        broker_url=settings.broker_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue="flowdeck",
        timezone="UTC",
        enable_utc=True,
    )
    return app


@app.task(name=TASK_NAME, ignore_result=True)
def perform_task(flow_id: str, user: str, action: str, token: str | None = None, role: str | None = None) -> None:
    """Carry out one claimed action of a run (see :func:`flowdeck.flow.executors.perform`)."""
    from flowdeck.flow.executors import perform

    perform(flow_id, user, action, token, role)


@app.task(name=CALLBACK_TASK_NAME, ignore_result=True)
def callback_task(flow_id: str, user: str, event: dict[str, Any], token: str, role: str | None = None) -> None:
    """Carry out one claimed callback of a run (see :func:`flowdeck.flow.callbacks.perform_callback`).

    The outcome goes to the database, where the process that fired the callback reads it.
    """
    from flowdeck.flow.callbacks import perform_callback

    perform_callback(flow_id, user, event, token, role)


@app.task(name=HEADLESS_TASK_NAME, ignore_result=True)
def headless_task(
    flow_id: str, user: str, token: str, inputs: dict[str, Any], callback: dict[str, Any] | None = None
) -> None:
    """Start a run a trigger fired, then drive it with its inputs.

    See :func:`flowdeck.flow.headless.perform_headless`.
    """
    from flowdeck.flow.headless import perform_headless

    perform_headless(flow_id, user, token, inputs, callback)


@worker_process_init.connect
def _fresh_storage(**_: Any) -> None:
    # A forked pool process must not share the parent's database connections.
    from flowdeck.storage.deployment import reset_storage

    reset_storage()


configure_app()
on_configure(configure_app)
