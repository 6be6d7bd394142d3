"""The trigger model: what a trigger watches, how it decides to fire, and how it is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flowdeck.auth.users import Principal
from flowdeck.errors import ValidationError

__all__ = ["Check", "CheckContext", "Firing", "Trigger", "digest", "trigger_from_spec"]

_KINDS: dict[str, type[Trigger]] = {}


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value."""
    return hashlib.blake2b(json.dumps(value, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Firing:
    """One reason to start a run: ``key`` names it uniquely for its trigger (so it happens once)."""

    key: str
    reason: str


@dataclass
class Check:
    """The outcome of looking once: the firings found, the new state, and what was seen."""

    firings: list[Firing]
    state: dict[str, Any]
    reason: str
    next_check_at: dt.datetime | None = None


@dataclass(frozen=True)
class CheckContext:
    """Who the trigger acts for and when the check happens."""

    owner: Principal
    now: dt.datetime
    extra: dict[str, Any] = field(default_factory=dict)


class Trigger:
    """A condition that starts a registered flow without a person.

    Set it up as in the SDK: ``trigger.configure(app_id=flow_name, user_id=user)`` then
    ``trigger.start()`` stores it (active); ``trigger.stop()`` pauses it. ``callback`` (here or in
    ``configure``) is called each time it fires (see :meth:`configure`). ``dry_run=True``
    records each firing without starting a run; a run that fails to start is retried up to
    ``max_retries`` times with a growing back-off. ``interval_seconds`` is how often it is checked.
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _KINDS[cls.kind] = cls

    def __init__(
        self,
        name: str | None = None,
        *,
        dry_run: bool = False,
        max_retries: int = 0,
        interval_seconds: float = 30.0,
        callback: Any = None,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        step_name: str | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
            raise ValidationError(f"a trigger name must be a non-empty string of at most 200 characters, got {name!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError(f"max_retries must be a whole number ≥ 0, got {max_retries!r}")
        if not isinstance(interval_seconds, int | float) or interval_seconds <= 0:
            raise ValidationError(f"interval_seconds must be positive, got {interval_seconds!r}")
        self.name = name
        self.dry_run = bool(dry_run)
        self.max_retries = max_retries
        self.interval_seconds = float(interval_seconds)
        self.app_id: str | None = None
        self.flow_id: str | None = None
        self.user_id: str | None = None
        self.callback: Any = None
        self.callback_kwargs: dict[str, Any] = {}
        self.pass_store_interface = bool(pass_store_interface)
        self.step_name = step_name
        self.input_parameters: dict[str, Any] = {}
        self._set_callback(callback, callback_kwargs)

    # --- the SDK's set-up -----------------------------------------------------------------------

    def configure(
        self,
        app_id: str,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        input_parameters: Mapping[str, Any] | None = None,
        *,
        organization_id: str | None = None,
        trigger_id: str | None = None,
        step_name: str | None = None,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool | None = None,
    ) -> Trigger:
        """Say which registered flow (``app_id``, its name) to start, as which user, with which inputs.

        ``callback`` (a module-level function, sync or ``async``, kept by reference like flows) is
        called each time the trigger fires, as the SDK's page-update callback:
        ``callback(store_interface, input_data, **callback_kwargs)`` (only ``**callback_kwargs``
        when ``pass_store_interface=False``). ``input_data`` names the trigger, the firing and the
        run it started. With ``flow_id`` too (the SDK's form: a run that set the trigger up) the
        store interface is that run's, at ``step_name`` (default its current step), and no new run
        is started; otherwise it is the new run's. ``organization_id`` is accepted and ignored
        (one organisation per deployment); ``trigger_id`` names the trigger when it has no name.
        """
        if not isinstance(app_id, str) or not app_id:
            raise ValidationError("configure(app_id=...) takes the name of a registered flow")
        self.app_id, self.flow_id, self.user_id = app_id, flow_id, user_id
        if callback is not None or callback_kwargs is not None:
            self._set_callback(
                callback if callback is not None else self.callback,
                callback_kwargs if callback_kwargs is not None else self.callback_kwargs,
            )
        if step_name is not None:
            self.step_name = step_name
        if pass_store_interface is not None:
            self.pass_store_interface = bool(pass_store_interface)
        del organization_id
        self.input_parameters = dict(input_parameters or {})
        if self.name is None:
            self.name = trigger_id or f"{self.kind}:{app_id}:{digest(self.spec())[:8]}"
        return self

    def _set_callback(self, callback: Any, callback_kwargs: Mapping[str, Any] | None) -> None:
        """Check that the callback can be stored by reference and its arguments as JSON."""
        from flowdeck.elements.callbacks import CallbackRef

        if callback is not None and not isinstance(callback, CallbackRef):
            if not callable(callback):
                raise ValidationError(f"a trigger's callback must be a function, got {type(callback).__name__}")
            CallbackRef.of(callback)  # a lambda or nested function cannot be stored: say so now
        kwargs = dict(callback_kwargs or {})
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"callback_kwargs are stored as JSON: {exc}") from exc
        self.callback, self.callback_kwargs = callback, kwargs

    def callback_spec(self) -> dict[str, Any] | None:
        """What is stored of the callback: its reference, its arguments, the run and step it acts on."""
        from flowdeck.elements.callbacks import callback_to_json

        if self.callback is None:
            return None
        return {
            "callback": callback_to_json(self.callback),
            "kwargs": dict(self.callback_kwargs),
            "pass_store_interface": self.pass_store_interface,
            "flow_id": self.flow_id,
            "step_name": self.step_name,
        }

    def start(self) -> str:
        """Store the trigger, active (replacing an earlier definition of that name); returns its name."""
        from flowdeck.triggers.service import save_trigger

        return save_trigger(self, active=True)

    def stop(self) -> None:
        """Pause the trigger (its state and history are kept; ``resume`` starts it again)."""
        from flowdeck.triggers.service import pause_trigger

        if self.name is None:
            raise ValidationError("this trigger was never started; configure() and start() it first")
        pause_trigger(self.name, user=self.user_id)

    # --- what each kind defines ----------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """The kind's own settings, JSON-able (stored with the trigger)."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Trigger:
        """The trigger a stored ``spec`` describes."""
        raise NotImplementedError

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """Look once; return the firings (each new one starts a run) and the state to keep."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.spec()!r})"


def trigger_from_spec(kind: str, spec: Mapping[str, Any]) -> Trigger:
    """Rebuild a stored trigger of ``kind``."""
    import flowdeck.triggers.kinds  # noqa: F401  (registers the kinds)

    cls = _KINDS.get(kind)
    if cls is None:
        raise ValidationError(f"unknown trigger kind {kind!r}; known kinds are {sorted(_KINDS)}")
    return cls.from_spec(spec)
