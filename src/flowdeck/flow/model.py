"""Flows and steps as the flow writer defines them."""

from __future__ import annotations

import copy as copy_module
import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowdeck.elements.base import StrictInit
from flowdeck.errors import NotFoundError, PredictValidationError, ValidationError

if TYPE_CHECKING:
    from flowdeck.page import Page

__all__ = ["App", "Flow", "FlowMetadata", "SingletonApp", "Step", "StepType"]


class StepType(str, enum.Enum):
    """What kind of step it is: a hint for the UI only."""

    INPUT = "input"
    RESULTS = "results"
    DASHBOARD = "dashboard"
    DATA_LAB = "data_lab"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class FlowMetadata(dict):
    """What a step is told when it runs: ``flow_id``, ``step_name``, ``user``, ``is_action``.

    It is a plain ``dict`` so that ``StoreInterface(**flow_metadata)`` works; the keys are also
    readable as attributes. As with the SDK's ``TypedDict``, it may also be made from a mapping of
    those keys: ``FlowMetadata({"flow_id": ..., "step_name": ..., "user": ...})``.
    """

    flow_id: str
    step_name: str
    user: str
    is_action: bool

    def __init__(
        self,
        flow_id: str | Mapping[str, Any],
        step_name: str | None = None,
        user: str | None = None,
        is_action: bool = False,
    ) -> None:
        """Describe step ``step_name`` of run ``flow_id`` for ``user`` (or copy a mapping of these keys)."""
        if isinstance(flow_id, Mapping):
            if step_name is not None or user is not None:
                raise TypeError("FlowMetadata takes a mapping or the values, not both")
            fields = dict(flow_id)
            unknown = sorted(set(fields) - {"flow_id", "step_name", "user", "is_action"})
            missing = [key for key in ("flow_id", "step_name", "user") if key not in fields]
            if unknown or missing:
                raise TypeError(
                    "FlowMetadata takes the keys flow_id, step_name, user and is_action"
                    + (f"; unknown: {', '.join(map(repr, unknown))}" if unknown else "")
                    + (f"; missing: {', '.join(map(repr, missing))}" if missing else "")
                )
            flow_id, step_name, user = fields["flow_id"], fields["step_name"], fields["user"]
            is_action = fields.get("is_action", False)
        elif step_name is None or user is None:
            raise TypeError("FlowMetadata needs flow_id, step_name and user")
        super().__init__(flow_id=flow_id, step_name=step_name, user=user, is_action=is_action)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def check_step_page(title: str, page: Any) -> None:
    """``ValidationError`` unless ``page`` (a step's initial page) is a Page."""
    from flowdeck.page import Page

    if not isinstance(page, Page):
        raise ValidationError(
            f"step {title!r}: page must be a Page, got {type(page).__name__}; "
            f"wrap cards in sections of a page: Page({title!r}, [Section('', [card, ...])])"
        )


def _default_hook(method: Any) -> Any:
    """Mark a hook of :class:`Step` that does nothing: the run lifecycle skips it unless overridden."""
    method.default_hook = True
    return method


class Step:
    """One step of a flow: its ``run()`` builds a page; ``next()`` runs its action.

    Subclass it and override :meth:`run` (and :meth:`action_override` with
    ``overrides_action=True``). ``overrides_action`` and ``override_skips_default`` may also be set
    as class attributes. ``name`` (default: the title) is taken as a keyword; other keywords are
    kept in ``extra_keyword_args`` and set as attributes, as the SDK does. The hooks
    (``on_run_success``, ``on_action_success``, ``on_failure``, ``on_cancel``) do nothing unless
    overridden.
    """

    overrides_action: bool = False
    override_skips_default: bool = False

    def __init__(
        self,
        title: str,
        description: str = "",
        parent: str | None = None,
        type: StepType = StepType.INPUT,
        page: Page | None = None,
        allow_filters: bool = False,
        uses_pyspark: bool = False,
        uses_snowflake: bool = False,
        overrides_action: bool = False,
        await_actions: bool = True,
        override_skips_default: bool = False,
        alerts: list[Any] | None = None,
        default_max_memory_usage: int | None = None,  # type: ignore[assignment]
        agent: Any = None,
        show_title: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Create a step titled ``title`` showing ``page`` (an empty page by default).

        A title holding ``'/'`` raises PredictValidationError (a PredictException and a ValidationError).
        """
        if not isinstance(title, str) or not title:
            raise ValidationError(f"a step needs a non-empty title, got {title!r}")
        if "/" in title:
            raise PredictValidationError(
                f"a step title may not contain '/', got {title!r}; the title names the step "
                "(the SDK raises PredictException for it too)"
            )
        self.title = title
        self.description = description or ""
        self.parent = parent
        try:
            self.type = StepType(type.value if isinstance(type, enum.Enum) else type)
        except ValueError:
            raise ValidationError(f"unknown step type {type!r}; use one of {[t.name for t in StepType]}") from None
        name = kwargs.pop("name", None)
        self.name = name or title
        from flowdeck.page import Page, Section

        if page is None:
            page = Page(title, [Section("", [])])
        check_step_page(title, page)
        self.page = page
        for flag, value in (("overrides_action", overrides_action), ("override_skips_default", override_skips_default)):
            if value not in (None, True, False):
                raise ValidationError(f"step {title!r}: {flag} must be True or False, got {value!r}")
            if value:
                setattr(self, flag, True)
        self.allow_filters = bool(allow_filters)
        self.uses_pyspark = bool(uses_pyspark)
        self.pyspark_config: dict[str, Any] | None = None
        self.spark_session: Any = None
        self.uses_snowflake = bool(uses_snowflake)
        self.await_actions = bool(await_actions)
        self.alerts = list(alerts or [])
        self.default_max_memory_usage = default_max_memory_usage
        self.agent = agent
        self.show_title = bool(show_title)
        self.state: str | None = None
        self.last_step = False
        self.extra_keyword_args = dict(kwargs)
        self.extra_args = list(args)
        for key, value in kwargs.items():
            setattr(self, key, value)
        self._progress = 0
        self._message = ""

    @property
    def extra(self) -> dict[str, Any]:
        """The keywords the step was given beyond its parameters."""
        return self.extra_keyword_args

    def copy(self) -> Step:
        """A copy of the step with its own copy of the page."""
        clone = copy_module.copy(self)
        clone.page = self.page.copy()
        clone.extra_keyword_args = dict(self.extra_keyword_args)
        return clone

    @property
    def progress(self) -> int:
        """The progress last reported through :meth:`progress_update` (0 to 100)."""
        return self._progress

    @progress.setter
    def progress(self, val: int) -> None:
        if isinstance(val, bool) or not isinstance(val, int | float) or not 0 <= val <= 100:
            raise ValidationError(f"step {self.name!r}: progress must be between 0 and 100, got {val!r}")
        self._progress = int(val)

    @property
    def message(self) -> str:
        """The message last reported through :meth:`progress_update`."""
        return self._message

    @message.setter
    def message(self, val: str) -> None:
        self._message = "" if val is None else str(val)

    def progress_update(self, progress: int, message: str) -> None:
        """Record progress on the step object (``StoreInterface.update_progress`` reports it to users)."""
        self.progress = progress
        self.message = message

    def run(self, flow_metadata: FlowMetadata, spark_session: Any = None, *args: Any, **kwargs: Any) -> None:
        """Build this step's page (and save outputs). The default does nothing."""

    def action_override(self, flow_metadata: FlowMetadata) -> None:
        """The step's own action, run by ``next()`` when ``overrides_action`` is set."""

    # Hooks, called by the run lifecycle with a StoreInterface on the step; the defaults do nothing.
    # Each may be a plain or an ``async`` method (the SDK declares ``on_failure`` async).

    @_default_hook
    def on_run_success(self, store_interface: Any, *args: Any, **kwargs: Any) -> None:
        """After :meth:`run` returned (raising here fails the step)."""

    @_default_hook
    def on_action_success(self, store_interface: Any, *args: Any, **kwargs: Any) -> None:
        """After the step's action finished, before the next step runs (raising here fails the step)."""

    @_default_hook
    def on_cancel(self, store_interface: Any) -> None:
        """Once, in the process that cancelled the step, after it was marked ``cancelled``."""

    @_default_hook
    async def on_failure(self, store_interface: Any) -> None:
        """When :meth:`run` or the action raised, before the step is recorded as failed."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Flow(StrictInit):
    """A named chain of steps (the SDK calls it App)."""

    def __init__(
        self,
        name: str,
        description: str,
        image_path: str | None = None,
        is_shareable: bool = False,
        sort_key: str | None = None,
        agent: Any = None,
    ) -> None:
        """Create an empty flow called ``name``; :meth:`chain` adds its steps."""
        if not isinstance(name, str) or not name:
            raise ValidationError(f"a flow needs a non-empty name, got {name!r}")
        self.name = name
        self.title = name
        self.id = name
        self.description = description or ""
        self.image = image_path
        self.is_shareable = bool(is_shareable)
        self.sort_key = sort_key
        self.agent = agent
        self.steps: list[Step] = []
        self.is_locked = False
        self.is_complete = False
        self.last_run_step: str | None = None

    @property
    def step_map(self) -> dict[str, Step]:
        """The steps by name."""
        return {step.name: step for step in self.steps}

    def chain(self, ordered_steps: list[Step], lock: bool = True) -> Flow:
        """Add ``ordered_steps`` to the flow, in order, and lock it unless ``lock=False``.

        As in the SDK, a flow is chained with all its steps in one call, which locks it: a locked
        flow takes no more steps, so calling ``chain()`` on it again is a ValidationError (nothing
        is added). ``chain(steps, lock=False)`` leaves the flow open: a later ``chain()`` appends
        its steps after those. Every step is checked before any is added (each must be a Step;
        names unique in the flow); a refused call leaves the flow as it was.
        """
        if isinstance(ordered_steps, Step):
            ordered_steps = [ordered_steps]
        self._check_unlocked()
        try:
            steps = list(ordered_steps)
        except TypeError:
            raise ValidationError(
                f"flow {self.name!r}: chain() takes a list of Steps, got {type(ordered_steps).__name__}"
            ) from None
        names = [s.name for s in self.steps]
        for step in steps:
            self._check_new_step(step, names)
            names.append(step.name)
        for step in steps:
            if step.parent is None:
                step.parent = self.name
            self.steps.append(step)
        for position, step in enumerate(self.steps):
            step.last_step = position == len(self.steps) - 1
        self.is_locked = bool(lock)
        return self

    def add_step(self, step: Step) -> Flow:
        """Append one step (a ValidationError on a locked flow, see :meth:`chain`)."""
        return self.chain([step], lock=False)

    def _check_unlocked(self) -> None:
        if self.is_locked:
            raise ValidationError(
                f"flow {self.name!r} is locked: chain() adds all of a flow's steps in one call and locks "
                f"it (steps {self.step_names}); pass every step to one chain([...]), or call "
                "chain(steps, lock=False) to add more steps later"
            )

    def _check_new_step(self, step: Any, names: list[str]) -> None:
        if not isinstance(step, Step):
            raise ValidationError(f"flow {self.name!r} can only chain Step objects, got {type(step).__name__}")
        if step.name in names:
            raise ValidationError(
                f"flow {self.name!r} has a step named {step.name!r} already; give the step a unique name="
            )

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        for step in self.steps:
            if step.name == name:
                return step
        raise NotFoundError(f"flow {self.name!r} has no step {name!r}; its steps are {[s.name for s in self.steps]}")

    @property
    def step_names(self) -> list[str]:
        """Step names in order."""
        return [s.name for s in self.steps]

    def get_data(self, app_id: str | None = None) -> dict[str, Any]:
        """A JSON-safe description of the flow and its steps (``app_id`` names it, default its name)."""
        return {
            "id": app_id or self.id,
            "name": self.name,
            "description": self.description,
            "image_path": self.image,
            "is_shareable": self.is_shareable,
            "sort_key": self.sort_key,
            "is_locked": self.is_locked,
            "steps": [
                {
                    "name": step.name,
                    "title": step.title,
                    "description": step.description,
                    "type": step.type.value,
                    "overrides_action": step.overrides_action,
                }
                for step in self.steps
            ],
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, steps={self.step_names})"


App = Flow


class SingletonApp(Flow):
    """A flow meant to have one run at a time, optionally started by a ``trigger``.

    Registering the app (``flowdeck.register_flow(app)``, ``flowdeck serve --flows``, ``flowdeck
    flows add PATH``) sets its trigger up: it is configured with ``app_id`` = the app's name and
    ``user_id`` = its own ``user_id`` if it has one, else the user registering the app (when none
    is named, the owner of the trigger stored already, else the deployment's only user), and
    stored active in the transaction that stores the registration (both or neither). Registering
    the app again replaces the trigger's definition but keeps its state and whether it is paused.
    A trigger configured for another flow is refused (``ValidationError``). Define the app at
    module level of a module or a .py file: other processes load it from there.
    """

    def __init__(
        self,
        name: str,
        description: str,
        image_path: str | None = None,
        is_shareable: bool = False,
        sort_key: str | None = None,
        agent: Any = None,
        trigger: Any = None,
    ) -> None:
        """Create a singleton flow; its ``trigger`` (a flowdeck Trigger) is set up when the app is registered."""
        super().__init__(name, description, image_path, is_shareable, sort_key, agent)
        self.trigger = trigger
        #: (the trigger, the user_id it was given) once registering the app configured it: registering
        #: the app again configures it again (see flowdeck.triggers.apps.register_flow).
        self._configured_trigger: tuple[Any, str | None] | None = None
