"""The trigger model: what a trigger watches, how it decides to fire, and how it is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flowdeck.auth.users import Principal
from flowdeck.elements.base import StrictInit
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


class _Done(str):
    """What :meth:`Trigger.start` returns: the trigger's name, which may also be awaited (the SDK's
    ``start`` is a coroutine), so ``trigger.start()`` and ``await trigger.start()`` both work."""

    def __await__(self) -> Generator[Any, None, str]:
        yield from ()
        return str(self)


class _Nothing:
    """What :meth:`Trigger.stop` returns: nothing, which may also be awaited (as the SDK's ``stop``)."""

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()

    def __repr__(self) -> str:
        return "None"


class Trigger(StrictInit):
    """A condition that starts a registered flow without a person.

    Constructed as in the SDK (``virtualitics-sdk`` 1.62): every kind takes ``name`` first and the
    SDK's runtime parameters (``app_id``, ``flow_id``, ``user_id``, ``callback``...), which may also
    be given later with :meth:`configure`. ``trigger.start()`` stores it (active) and
    ``trigger.stop()`` pauses it; both may also be awaited, as the SDK's coroutines. ``callback`` is
    called each time it fires (see :meth:`configure`). ``dry_run=True`` records each firing without
    starting a run; a run that fails to start is tried again up to ``max_retries`` times with a
    growing back-off. ``interval_seconds`` (flowdeck's) is how often it is checked.
    ``organization_id`` is accepted and ignored (one organisation per deployment);
    ``trigger_metadata`` (a JSON-able dict) is kept with the trigger; ``trigger_id`` names it when
    ``name`` is not given.
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _KINDS[cls.kind] = cls

    def __init__(
        self,
        name: str | None = None,
        app_id: str | None = None,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        organization_id: str | None = None,
        trigger_metadata: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        max_retries: int = 3,
        step_name: str | None = None,
        dry_run: bool = False,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        *,
        interval_seconds: float = 30.0,
    ) -> None:
        """Set up the trigger's common options (see the class docstring)."""
        name = name if name is not None else trigger_id
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
            raise ValidationError(
                f"a trigger name must be a non-empty string of at most 200 characters, got {name!r} "
                f"(the name comes first, as in the SDK: {type(self).__name__}(name, ...))"
            )
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValidationError(f"max_retries must be a whole number ≥ 0, got {max_retries!r}")
        if not isinstance(interval_seconds, int | float) or interval_seconds <= 0:
            raise ValidationError(f"interval_seconds must be positive, got {interval_seconds!r}")
        del organization_id
        self.name = name
        self.dry_run = bool(dry_run)
        self.max_retries = max_retries
        self.interval_seconds = float(interval_seconds)
        self.trigger_metadata = _json_dict(trigger_metadata, "trigger_metadata")
        self.app_id: str | None = None
        self.flow_id: str | None = None
        self.user_id: str | None = None
        self.callback: Any = None
        self.callback_kwargs: dict[str, Any] = {}
        self.pass_store_interface = bool(pass_store_interface)
        self.step_name = step_name
        self.input_parameters: dict[str, Any] = {}
        self._set_callback(callback, callback_kwargs)
        if app_id is not None:
            self._set_target(app_id, flow_id, user_id)
        else:
            self.flow_id, self.user_id = flow_id, user_id

    def _common_spec(self) -> dict[str, Any]:
        """Settings every kind stores beside its own (only those that were given)."""
        return {"trigger_metadata": self.trigger_metadata} if self.trigger_metadata else {}

    def _set_target(self, app_id: Any, flow_id: str | None, user_id: str | None) -> None:
        if not isinstance(app_id, str) or not app_id:
            raise ValidationError("app_id takes the name of a registered flow (configure(app_id=FLOW_NAME, ...))")
        self.app_id, self.flow_id, self.user_id = app_id, flow_id, user_id

    # --- the SDK's set-up -----------------------------------------------------------------------

    def configure(
        self,
        app_id: str,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        organization_id: str | None = None,
        trigger_id: str | None = None,
        step_name: str | None = None,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool | None = None,
        *,
        input_parameters: Mapping[str, Any] | None = None,
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
        if input_parameters is not None and not isinstance(input_parameters, Mapping):
            raise ValidationError(
                "input_parameters must be a dict like {'steps': {step: {title: {'value': v}}}}, "
                f"got {type(input_parameters).__name__}"
            )
        self._set_target(app_id, flow_id, user_id)
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
        """Store the trigger, active (replacing an earlier definition of that name); returns its name.

        The trigger is stored when this is called; the name returned may also be awaited, so the
        SDK's ``await trigger.start()`` works too.
        """
        from flowdeck.triggers.service import save_trigger

        return _Done(save_trigger(self, active=True))

    def stop(self) -> Any:
        """Pause the trigger (its state and history are kept; ``start`` or ``resume`` checks it again).

        Paused when this is called; returns None, which may also be awaited (``await trigger.stop()``).
        """
        from flowdeck.triggers.service import pause_trigger

        pause_trigger(self._stored_name(), user=self.user_id)
        return _Nothing()

    # --- the SDK's inspection ------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The trigger's name (None until named, by ``name``/``trigger_id`` or by :meth:`configure`)."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value

    @property
    def id(self) -> str | None:
        """The trigger's identity: its name (None until it is named, by ``name`` or :meth:`configure`)."""
        return self.name

    def is_configured(self) -> bool:
        """Whether the trigger knows which flow to start (``app_id``), so :meth:`start` can store it."""
        return self.app_id is not None and self.name is not None

    def to_dict(self) -> dict[str, Any]:
        """The trigger's definition as a JSON-able dict: kind, name, target, options and settings."""
        callback = self.callback_spec()
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "app_id": self.app_id,
            "flow_id": self.flow_id,
            "user_id": self.user_id,
            "step_name": self.step_name,
            "dry_run": self.dry_run,
            "max_retries": self.max_retries,
            "interval_seconds": self.interval_seconds,
            "trigger_metadata": dict(self.trigger_metadata),
            "callback": None if callback is None else callback["callback"],
            "callback_kwargs": dict(self.callback_kwargs),
            "pass_store_interface": self.pass_store_interface,
            "spec": self.spec(),
        }

    def get_state(self) -> dict[str, Any] | None:
        """What the stored trigger remembers between checks (seen keys, cursor, last hash); None
        when it is not stored."""
        from flowdeck.triggers.service import stored_trigger

        info = stored_trigger(self.name, self.user_id) if self.name is not None else None
        return None if info is None else dict(info.state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace what the stored trigger remembers between checks (a JSON-able dict): ``{}``
        makes its next check a first look again, which records what is there without firing."""
        from flowdeck.triggers.service import set_trigger_state

        set_trigger_state(self._stored_name(), _json_dict(state, "state"), self.user_id)

    def get_metrics(self) -> dict[str, Any]:
        """How the stored trigger has fared: its firings counted by outcome, when it was last
        checked and what that check saw, and whether it is active."""
        from flowdeck.triggers.service import trigger_metrics

        return trigger_metrics(self._stored_name(), self.user_id)

    @property
    def is_running(self) -> bool:
        """Whether the trigger is stored and active (checked by the scheduler)."""
        from flowdeck.triggers.service import stored_trigger

        info = stored_trigger(self.name, self.user_id) if self.name is not None else None
        return bool(info is not None and info.active)

    @property
    def should_retry(self) -> bool:
        """Whether a firing whose run fails to start is tried again (``max_retries`` > 0)."""
        return self.max_retries > 0

    def _stored_name(self) -> str:
        if self.name is None:
            raise ValidationError("this trigger was never started; configure() and start() it first")
        return self.name

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


def _json_dict(value: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """``value`` as a dict that is stored as JSON; ValidationError naming ``what`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is stored as JSON: {exc}") from exc
    return dict(value)


def trigger_from_spec(kind: str, spec: Mapping[str, Any]) -> Trigger:
    """Rebuild a stored trigger of ``kind``."""
    import flowdeck.triggers.kinds  # noqa: F401  (registers the kinds)

    cls = _KINDS.get(kind)
    if cls is None:
        raise ValidationError(f"unknown trigger kind {kind!r}; known kinds are {sorted(_KINDS)}")
    return cls.from_spec(spec)
