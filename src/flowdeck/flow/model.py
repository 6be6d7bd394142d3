"""Flows and steps as the flow writer defines them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowdeck.errors import ValidationError

if TYPE_CHECKING:
    from flowdeck.page import Page

__all__ = ["App", "Flow", "FlowMetadata", "Step", "StepType"]


class StepType(str, enum.Enum):
    """What kind of step it is: a hint for the UI only."""

    INPUT = "input"
    RESULTS = "results"
    DASHBOARD = "dashboard"
    DATA_LAB = "data_lab"


class FlowMetadata(dict):
    """What a step is told when it runs: ``flow_id``, ``step_name``, ``user``, ``is_action``.

    It is a plain ``dict`` so that ``StoreInterface(**flow_metadata)`` works; the keys are also
    readable as attributes.
    """

    def __init__(self, flow_id: str, step_name: str, user: str, is_action: bool = False) -> None:
        super().__init__(flow_id=flow_id, step_name=step_name, user=user, is_action=is_action)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Step:
    """One step of a flow: its ``run()`` builds a page; ``next()`` runs its action.

    Subclass it and override :meth:`run` (and :meth:`action_override` with
    ``overrides_action=True``). ``overrides_action`` and ``override_skips_default`` may also be set
    as class attributes.
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
        name: str | None = None,
        overrides_action: bool | None = None,
        override_skips_default: bool | None = None,
        **extra: Any,
    ) -> None:
        if not isinstance(title, str) or not title:
            raise ValidationError(f"a step needs a non-empty title, got {title!r}")
        self.title = title
        self.description = description
        self.parent = parent
        try:
            self.type = StepType(type)
        except ValueError:
            raise ValidationError(f"unknown step type {type!r}; use one of {[t.name for t in StepType]}") from None
        self.name = name or title
        if page is None:
            from flowdeck.page import Page, Section

            page = Page(title, [Section("", [])])
        self.page = page
        if overrides_action is not None:
            self.overrides_action = overrides_action
        if override_skips_default is not None:
            self.override_skips_default = override_skips_default
        self.extra = dict(extra)
        for key, value in extra.items():
            setattr(self, key, value)

    def run(self, flow_metadata: FlowMetadata) -> None:
        """Build this step's page (and save outputs). The default does nothing."""

    def action_override(self, flow_metadata: FlowMetadata) -> None:
        """The step's own action, run by ``next()`` when ``overrides_action`` is set."""

    # Hooks, called by the run lifecycle with a StoreInterface on the step; the defaults do nothing.

    def on_run_success(self, store_interface: Any) -> None:
        """After :meth:`run` returned (raising here fails the step)."""

    def on_action_success(self, store_interface: Any) -> None:
        """After the step's action finished, before the next step runs (raising here fails the step)."""

    def on_failure(self, store_interface: Any) -> None:
        """When :meth:`run` or the action raised, before the step is recorded as failed."""

    def on_cancel(self, store_interface: Any) -> None:
        """Once, in the process that cancelled the step, after it was marked ``cancelled``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Flow:
    """A named chain of steps."""

    def __init__(self, name: str, description: str = "", steps: Iterable[Step] | None = None, **extra: Any):
        if not isinstance(name, str) or not name:
            raise ValidationError(f"a flow needs a non-empty name, got {name!r}")
        self.name = name
        self.description = description
        self.extra = dict(extra)
        self.steps: list[Step] = []
        if steps is not None:
            self.chain(list(steps))

    def chain(self, steps: Iterable[Step]) -> Flow:
        """Append ``steps`` in order; step names must be unique within the flow."""
        for step in steps:
            self.add_step(step)
        return self

    def add_step(self, step: Step) -> Flow:
        """Append one step."""
        if not isinstance(step, Step):
            raise ValidationError(f"flow {self.name!r} can only chain Step objects, got {type(step).__name__}")
        if any(s.name == step.name for s in self.steps):
            raise ValidationError(
                f"flow {self.name!r} has a step named {step.name!r} already; give the step a unique name="
            )
        if step.parent is None:
            step.parent = self.name
        self.steps.append(step)
        return self

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        for step in self.steps:
            if step.name == name:
                return step
        from flowdeck.errors import NotFoundError

        raise NotFoundError(f"flow {self.name!r} has no step {name!r}; its steps are {[s.name for s in self.steps]}")

    @property
    def step_names(self) -> list[str]:
        """Step names in order."""
        return [s.name for s in self.steps]

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r}, steps={self.step_names})"


App = Flow
