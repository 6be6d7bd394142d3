"""The one exception hierarchy of flowdeck.

Every error flowdeck raises on purpose is a :class:`FlowdeckError`. The children also derive
from the matching built-in exception so that code written against the reference API
(``except ValueError``) keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowdeck.flow.runner import FlowRun

__all__ = [
    "AccessError",
    "AlreadyExistsError",
    "CallbackError",
    "CallbackLoadError",
    "ConfigurationError",
    "FlowdeckError",
    "IntegrityError",
    "MissingInputError",
    "NotFoundError",
    "PredictException",
    "PredictValidationError",
    "QuotaBusyError",
    "QuotaExceededError",
    "StepCancelledError",
    "StepFailedError",
    "StepStateError",
    "UnsupportedTypeError",
    "ValidationError",
]


class FlowdeckError(Exception):
    """Base class of every error flowdeck raises on purpose."""


class NotFoundError(FlowdeckError, ValueError, LookupError):
    """An unknown run, step, element, output, asset or connection.

    A thing the caller may not see is reported exactly like one that does not exist.
    """


class AccessError(FlowdeckError, PermissionError):
    """The caller sees the thing but may not do this to it."""


class ValidationError(FlowdeckError, ValueError):
    """A bad value: an option not offered, a range, a progress figure, an upload type, ..."""


class ConfigurationError(ValidationError):
    """A setting that cannot be used (a malformed secret key, an unknown executor, ...)."""


class QuotaExceededError(ValidationError):
    """Creating one more of something a user owns would go over its quota (a setting, per user).

    ``setting`` names the setting (``max_runs_per_user``, ...), ``limit`` its value and ``count``
    how many the owner (or, for shares, the resource) has now. The message says how to make room.
    """

    def __init__(self, message: str, *, setting: str, limit: int, count: int) -> None:
        """Create the error with its message and the quota it names."""
        super().__init__(message)
        self.setting = setting
        self.limit = limit
        self.count = count


class QuotaBusyError(FlowdeckError, TimeoutError):
    """A quota could not be checked in time: other creations of the same owner (or shares of the
    same resource) held its lock too long. Nothing was done; trying again later may succeed."""


class UnsupportedTypeError(ValidationError, NotImplementedError):
    """A value of a type the call does not take (a Table's content that is no DataFrame, ...).

    Also a ``NotImplementedError``, which is what the SDK documents for these cases.
    """


class MissingInputError(FlowdeckError, ValueError):
    """``next()`` was asked for while required inputs are still missing.

    ``missing`` holds the title of each missing input.
    """

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing: list[str] = list(missing or [])


class StepStateError(FlowdeckError, RuntimeError):
    """An action the run's state does not allow (``next()`` on a failed step, ``back()`` on the first)."""


class StepCancelledError(FlowdeckError):
    """The step's action was cancelled (or its lease lost) while its code ran.

    Raised inside step code at its next progress update or store call, so the step stops; it
    reaches the caller of the action that was running the step. ``flow_id`` and ``step_name`` name
    the run and the step whose code was running, when known.
    """

    def __init__(self, message: str, *, flow_id: str | None = None, step_name: str | None = None) -> None:
        """Create the error with its message, and the run and step it stopped."""
        super().__init__(message)
        self.flow_id = flow_id
        self.step_name = step_name


class AlreadyExistsError(FlowdeckError, ValueError):
    """Creating something that exists already (a table with ``if_exists='fail'``, a user, a connection)."""


class IntegrityError(FlowdeckError):
    """Stored bytes failed their checksum or signature; the value was not returned."""


class StepFailedError(FlowdeckError):
    """A step's own code raised. The original exception is chained as ``__cause__``.

    ``run``, ``flow_id`` and ``step_name`` let the caller go on, e.g. ``err.run.rerun()``.
    """

    def __init__(self, message: str, *, run: FlowRun | None, flow_id: str, step_name: str) -> None:
        super().__init__(message)
        self.run: Any = run
        self.flow_id = flow_id
        self.step_name = step_name


class CallbackError(FlowdeckError):
    """A callback of a page (a page update, a standard event, a drilldown, ...) raised.

    The page is left exactly as it was before the callback. The original exception is chained as
    ``__cause__`` when it was raised in this process; ``traceback`` keeps its formatted traceback
    either way (also when a worker ran the callback), and ``error_type`` its class name. Like
    :class:`StepFailedError`, ``run`` (the :class:`FlowRun` the callback was fired through, when
    it was), ``flow_id`` and ``step_name`` (the step whose page it acted on) let the caller go on;
    ``target`` is the element or card the event named.
    """

    def __init__(
        self,
        message: str,
        *,
        traceback: str | None = None,
        error_type: str | None = None,
        flow_id: str | None = None,
        target: str | None = None,
        step_name: str | None = None,
        run: FlowRun | None = None,
    ) -> None:
        super().__init__(message)
        self.traceback = traceback
        self.error_type = error_type
        self.flow_id = flow_id
        self.target = target
        self.step_name = step_name
        self.run: Any = run


class CallbackLoadError(NotFoundError):
    """A page's callback whose function can no longer be imported (its flow file or module changed).

    The message names the function and where it was looked for. ``public_message`` says what
    happened without them: the server answers with it, since whoever may view a run may not read
    the server's module names and file paths (the server's log keeps the whole message).
    """

    public_message = (
        "a callback of this page can no longer be loaded on the server: its flow changed since the page "
        "was made. Run the step again to rebuild its page; the server's log names the callback"
    )


class PredictException(FlowdeckError):
    """An error a flow writer raises to show ``message_override`` to the user (the SDK's name).

    Without a message (or with an empty one) the message is the SDK's default,
    ``"An exception has occurred"``.
    """

    default_message = "An exception has occurred"

    def __init__(self, message_override: str = "") -> None:
        """Create the error with the message shown to the user."""
        message = message_override or self.default_message
        super().__init__(message)
        self.message: str = message


class PredictValidationError(PredictException, ValidationError):
    """A bad value where the SDK documents a ``PredictException``.

    It is both, so that ``except PredictException`` (SDK code) and ``except ValidationError`` /
    ``except ValueError`` (flowdeck code) catch it: a step title holding ``'/'``, or
    ``Page.update_card_title`` given neither ``card_title`` nor ``card_id``.
    """
