"""Firing the callbacks of a page: page updates, standard events, drilldowns, toggles, downloads.

A callback runs for a user who acts on the page of a run's current step (sets an input, uploads a
file, presses a card's "Update" button, clicks a button, selects or edits table rows, opens a row
action, refreshes the page, opens or closes a container). :func:`fire` carries one such
:class:`CallbackEvent` out and answers with a :class:`CallbackOutcome` that says what changed.

Every callback goes through the run lifecycle (:mod:`flowdeck.store.lifecycle`): it is claimed as
the run's ``callback`` action (one action at a time per run, so another action meanwhile gives
``StepStateError``), runs as the acting user (its ``StoreInterface`` acts as that user), never
changes a step's state and never runs ``Step.run``. A callback that raises leaves the page exactly
as it was (every page version, upload and output it stored is dropped) and reaches the caller as
:class:`~flowdeck.errors.CallbackError` with the traceback kept. With ``FLOWDECK_EXECUTOR=celery``
the callback runs on a worker (a JSON-only task) and :func:`fire` waits for its outcome.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import logging
import time
import traceback as tb_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowdeck import errors
from flowdeck.auth.users import Principal, acting_as, lowered_to, resolve_principal
from flowdeck.config import get_settings
from flowdeck.elements.base import check_value_depth
from flowdeck.elements.callbacks import (
    AssetDownloadCallback,
    CallbackRef,
    CallbackType,
    ContainerToggleCallback,
    DrilldownSize,
    DrilldownType,
)
from flowdeck.errors import (
    CallbackError,
    ConfigurationError,
    NotFoundError,
    StepCancelledError,
    ValidationError,
)
from flowdeck.store import callback_results, callback_scope, lifecycle
from flowdeck.store import notices as notice_service
from flowdeck.store import outputs as output_service
from flowdeck.store import pages as page_service
from flowdeck.store import progress as progress_service
from flowdeck.store import runs as run_service
from flowdeck.store.callback_scope import CallbackScope
from flowdeck.store.store_interface import StoreInterface

if TYPE_CHECKING:
    from flowdeck.page import Card, Page

__all__ = [
    "EVENT_KINDS",
    "OUTCOME_KINDS",
    "CallbackEvent",
    "CallbackOutcome",
    "DrilldownStoreInterface",
    "carry_out",
    "fire",
    "fire_callback",
    "perform_callback",
]

log = logging.getLogger("flowdeck.callbacks")

#: What a user can do to a page that runs a callback.
EVENT_KINDS = (
    "set_value",
    "upload",
    "update_card",
    "click",
    "drilldown",
    "select_rows",
    "edit_cell",
    "refresh",
    "filter",
    "toggle",
)
#: What a fired callback did: changed the page, returned a message, filled a drilldown card,
#: opened/closed a container, offered a download, or nothing (an input without a callback).
OUTCOME_KINDS = ("page_update", "standard", "drilldown", "toggle", "download", "none")


# --- events and outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackEvent:
    """One thing a user did to the page of a run's current step.

    ``kind`` is one of :data:`EVENT_KINDS`; ``target`` the title or id of the element (or card, for
    ``update_card``/``filter``/``toggle``) acted on, None for ``refresh``. ``value`` is the new value
    for ``set_value``, the row positions for ``select_rows``, ``{"row", "column", "value"}`` for
    ``edit_cell``, ``{filter title or id: value}`` for ``filter``, ``True``/``False`` (open/close) for
    ``toggle``, and ``{"filename", "data_base64"}`` (or None: the newest upload) for ``upload``.
    ``input_data`` goes to the callback (e.g. ``{"row": 17}`` for a table row's drilldown; a row
    action is chosen by its title with ``{"action": title}``).
    """

    kind: str
    target: str | None = None
    value: Any = None
    input_data: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValidationError(f"unknown callback event kind {self.kind!r}; use one of {list(EVENT_KINDS)}")
        if self.target is not None and not isinstance(self.target, str):
            raise ValidationError(f"a callback event's target is a title or id (text), got {self.target!r}")
        if self.kind != "refresh" and not self.target:
            raise ValidationError(f"a {self.kind!r} callback event needs a target (an element or card title or id)")
        if self.input_data is not None and not isinstance(self.input_data, Mapping):
            raise ValidationError(f"a callback event's input_data must be an object, got {self.input_data!r}")
        check_value_depth(self.value, "a callback event's value")
        check_value_depth(self.input_data, "a callback event's input_data")

    def to_json(self) -> dict[str, Any]:
        """The JSON form (what the REST API takes and Celery tasks carry)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "value": self.value,
            "input_data": None if self.input_data is None else dict(self.input_data),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallbackEvent:
        """The event a JSON form describes (``ValidationError`` for a malformed one)."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"a callback event must be an object, got {type(data).__name__}")
        unknown = set(data) - {"kind", "target", "value", "input_data"}
        if unknown:
            raise ValidationError(
                f"unknown callback event fields {sorted(unknown)}; use kind, target, value, input_data"
            )
        if "kind" not in data:
            raise ValidationError("a callback event needs a kind, e.g. {'kind': 'click', 'target': 'Notify'}")
        input_data = data.get("input_data")
        return cls(
            data["kind"], data.get("target"), data.get("value"), dict(input_data) if input_data is not None else None
        )


@dataclass(frozen=True)
class CallbackOutcome:
    """What a fired callback did.

    ``changed_cards`` holds the JSON (``Card.to_json()``) of each card of the page that changed or
    appeared, in page order; ``removed_cards`` the ids of cards no longer on the page. ``message``
    is a standard event's message, ``drilldown`` ``{"card", "type", "size"}`` a drilldown's
    temporary card (never saved on the page), ``download`` ``{"asset_id", "filename",
    "mime_type"}`` for an asset download. ``page_title`` is set when the page's title changed;
    ``next_disabled`` names the cards that still hold ``next()`` back (``disable_next=True``).
    """

    kind: str
    changed_cards: tuple[dict, ...] = ()
    removed_cards: tuple[str, ...] = ()
    message: str | None = None
    drilldown: dict | None = None
    page_title: str | None = None
    next_disabled: tuple[str, ...] = ()
    download: dict | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (what the REST API answers)."""
        return {
            "kind": self.kind,
            "changed_cards": list(self.changed_cards),
            "removed_cards": list(self.removed_cards),
            "message": self.message,
            "drilldown": self.drilldown,
            "page_title": self.page_title,
            "next_disabled": list(self.next_disabled),
            "download": self.download,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallbackOutcome:
        """The outcome a JSON form describes."""
        return cls(
            data["kind"],
            tuple(data.get("changed_cards") or ()),
            tuple(data.get("removed_cards") or ()),
            data.get("message"),
            data.get("drilldown"),
            data.get("page_title"),
            tuple(data.get("next_disabled") or ()),
            data.get("download"),
        )

    def drilldown_card(self) -> Card | None:
        """The drilldown's temporary card as a :class:`~flowdeck.page.Card`, if any."""
        if self.drilldown is None:
            return None
        from flowdeck.page import Card

        return Card.from_json(self.drilldown["card"])


# --- the store a drilldown gets ------------------------------------------------------------------


class DrilldownStoreInterface(StoreInterface):
    """What a drilldown callback is given: a store acting for the user, plus the temporary ``card``.

    ``add_element`` adds to that card; the card is shown once and never saved on the page.
    """

    def __init__(self, flow_id: str, user_id: str, step_name: str, card: Card) -> None:
        """Wrap the drilldown ``card`` of step ``step_name`` of run ``flow_id`` for ``user_id``."""
        super().__init__(flow_id, user=user_id, step_name=step_name)
        self.user_id = user_id
        self.card = card

    def add_element(self, *, elements: Any, ratio: list[int | float] | None = None, index: int | None = None) -> None:
        """Add ``elements`` (in a Row when ``ratio`` is given) to the drilldown card."""
        self.card.add_content(elements, ratio, index)

    @staticmethod
    def update_progress(completion: float | int, message: str) -> None:  # type: ignore[override]
        """Accepted and ignored: a drilldown shows no progress bar."""

    @staticmethod
    async def aupdate_progress(completion: float | int, message: str) -> None:  # type: ignore[override]
        """Accepted and ignored: a drilldown shows no progress bar."""


# --- carrying a callback out ---------------------------------------------------------------------


class _Raised(Exception):
    """The callback's own code raised ``original``."""

    def __init__(self, original: BaseException, what: str) -> None:
        super().__init__(str(original))
        self.original = original
        self.what = what


@dataclass
class _Result:
    kind: str
    message: str | None = None
    drilldown: dict | None = None
    download: dict | None = None
    keep_page: bool = field(default=True)


def _resolve(callback: Any) -> Callable[..., Any]:
    return callback.resolve() if isinstance(callback, CallbackRef) else callback


def _meta(callback: Any) -> dict[str, Any]:
    if isinstance(callback, CallbackRef):
        return dict(callback.meta)
    return dict(getattr(callback, "__flowdeck_callback__", {}) or {})


def _is_table(element: Any) -> bool:
    from flowdeck.elements import Table

    return isinstance(element, Table)


def _check_row(table: Any, row: Any) -> None:
    """``ValidationError`` unless ``row`` is the position of a row of ``table``."""
    count = len(table.content)
    if not isinstance(row, int) or isinstance(row, bool):
        raise ValidationError(f"table {table.title!r}: a row is given by its position (0 to {count - 1}), got {row!r}")
    if not 0 <= row < count:
        raise ValidationError(f"table {table.title!r}: row {row!r} is out of range (it has {count} rows)")


def _name(callback: Any) -> str:
    return getattr(callback, "qualname", None) or getattr(callback, "__qualname__", None) or repr(callback)


@functools.lru_cache(maxsize=512)
def _input_data_as(func: Callable[..., Any]) -> str:
    """How ``func`` takes input data: ``keyword`` (``input_data=``), ``positional`` (its 2nd parameter), or ``none``."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return "keyword"
    if any(p.name == "input_data" and p.kind != p.POSITIONAL_ONLY for p in parameters):
        return "keyword"
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return "positional"
    return "none"


def filter_card_of(page: Any, element: Any) -> Card | None:
    """The card of ``page`` that has ``element`` among its filters and a ``filter_update``, or None."""
    return next(
        (c for c in page.cards if c.filter_update is not None and any(f.id == element.id for f in c.filters)),
        None,
    )


def reacts_to_value(page: Any, element: Any) -> bool:
    """Whether setting ``element``'s value runs a callback: its ``page_update``, or its card's ``filter_update``."""
    return getattr(element, "page_update", None) is not None or filter_card_of(page, element) is not None


def _card_matches(card: Card, target: str) -> bool:
    return target in (card.id, card.title)


class _Firing:
    """One callback event carried out under its claim, in its :class:`CallbackScope`."""

    def __init__(self, claim: lifecycle.Claim, who: Principal, event: CallbackEvent, scope: CallbackScope) -> None:
        self.claim = claim
        self.who = who
        self.event = event
        self.step_name = claim.step_name
        self.scope = scope

    # reading and writing the page

    def view(self) -> run_service.RunView:
        return self.scope.view

    def page(self, fresh: bool = False) -> Page:
        """The step's newest page (the scope's: read with the claim, changed by the callback so far)."""
        page = self.scope.page()
        self.scope.keep(page)
        return page

    def save(self, page: Page, *, check: bool = True) -> None:
        self.scope.save(page, check=check)
        if not self.scope.pending or not self.scope.pending.big_tables:
            self.scope.keep(page)  # nobody else holds it: the callback's get_page() takes it as it is

    def store(self) -> StoreInterface:
        return StoreInterface(self.claim.flow_id, user=self.who.name, step_name=self.step_name)

    def element(self, page: Page, target: str) -> Any:
        found = page_service.find_element(page, target)
        if found is None:
            found = self._infograph_data(page, target)
        if found is None:
            titles = [e.title for e in page.elements if e.title]
            raise NotFoundError(f"step {self.step_name!r} has no element {target!r}; its elements are {titles}")
        return found

    @staticmethod
    def _infograph_data(page: Page, target: str) -> Any:
        from flowdeck.elements import Infographic

        for element in page.elements:
            if isinstance(element, Infographic):
                event = getattr(element, "event", None)
                for item in [*element.data, *element.recommendation, *([event] if event is not None else [])]:
                    if target in (item.id, getattr(item, "label", None), item.title):
                        return item
        return None

    def card(self, page: Page, target: str) -> Card:
        for card in page.cards:
            if _card_matches(card, target):
                return card
        raise NotFoundError(
            f"step {self.step_name!r} has no card {target!r}; its cards are {[c.title for c in page.cards]}"
        )

    def table(self, page: Page, target: str) -> Any:
        from flowdeck.elements import Table

        element = self.element(page, target)
        if not isinstance(element, Table):
            raise ValidationError(f"element {target!r} of step {self.step_name!r} is not a Table")
        return element

    # calling flow code

    def call(self, func: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
        try:
            return lifecycle.settle(func(*args, **kwargs))
        except StepCancelledError:
            raise
        except Exception as exc:
            raise _Raised(exc, what) from exc

    def page_update(self, callback: Any, input_data: dict[str, Any] | None, what: str) -> _Result:
        func = _resolve(callback)
        how = _input_data_as(func)
        if how == "keyword":
            returned = self.call(func, self.store(), input_data=input_data, what=what)
        elif how == "positional":
            returned = self.call(func, self.store(), input_data, what=what)
        else:
            returned = self.call(func, self.store(), what=what)
        # A page update returns nothing; text it returns anyway (an undecorated function meant as a
        # standard event) is shown as the event's message rather than dropped.
        return _Result("page_update", message=returned if isinstance(returned, str) and returned else None)

    def standard(self, callback: Any, what: str) -> _Result:
        message = self.call(_resolve(callback), self.store(), what=what)
        return _Result("standard", message=None if message is None else str(message))

    def drilldown(self, callback: Any, input_data: dict[str, Any] | None, title: str, what: str) -> _Result:
        from flowdeck.page import Card

        meta = _meta(callback)
        card = Card(meta.get("row_action_title") or title or "Details", [])
        store = DrilldownStoreInterface(self.claim.flow_id, self.who.name, self.step_name, card)
        self.call(_resolve(callback), card, dict(input_data or {}), store, what=what)
        kind = DrilldownType(meta.get("drilldown_type", DrilldownType.MODAL.value)).value
        size = DrilldownSize(meta.get("drilldown_size", DrilldownSize.MEDIUM.value)).value
        return _Result("drilldown", drilldown={"card": card.to_json(), "type": kind, "size": size}, keep_page=False)

    def action(self, callback: Any, input_data: dict[str, Any] | None, title: str, what: str) -> _Result:
        """Run an element's ``on_click`` (or a row action) by its type."""
        if isinstance(callback, ContainerToggleCallback):
            self.set_container(callback.container_id, callback.visibility)
            return _Result("toggle")
        if isinstance(callback, AssetDownloadCallback):
            return _Result("download", download=_download(callback))
        kind = _meta(callback).get("callback_type")
        if kind == CallbackType.STANDARD.value:
            return self.standard(callback, what)
        if kind == CallbackType.DRILLDOWN.value:
            return self.drilldown(callback, input_data, title, what)
        return self.page_update(callback, input_data, what)

    def set_container(self, container_id: str, visible: bool) -> Any:
        from flowdeck.page import Container

        page = self.page(fresh=True)
        target = next((c for c in page.cards if _card_matches(c, container_id)), None)
        if not isinstance(target, Container):
            raise NotFoundError(f"step {self.step_name!r} has no container {container_id!r}")
        target.set_visibility(visible)
        if visible:  # one container is shown at a time
            for card in page.cards:
                if isinstance(card, Container) and card is not target and card.visible:
                    card.set_visibility(False)
        self.save(page)
        return target

    # the kinds of event

    def run(self) -> _Result:
        handler = getattr(self, f"on_{self.event.kind}")
        return handler(self.event)

    def on_set_value(self, event: CallbackEvent) -> _Result:
        page = self.page()
        element = self.element(page, event.target or "")
        page_service.set_value_on(page, self.step_name, element.id, event.value)
        self.save(page, check=False)
        callback = getattr(element, "page_update", None)
        if callback is None:
            # A card's filter input without a page_update of its own: the card's filter_update runs,
            # as when the filter is changed in the web UI.
            card = filter_card_of(page, element)
            if card is None:
                return _Result("none")
            return self.filter_update(card, card.filter_update, [element], event)
        return self.page_update(callback, event.input_data, f"page_update of {element.title!r}")

    def on_upload(self, event: CallbackEvent) -> _Result:
        from flowdeck.elements import DataSource

        element = self.element(self.page(), event.target or "")
        if not isinstance(element, DataSource):
            raise ValidationError(f"element {element.title!r} is not a DataSource; set it with set_value")
        if event.value is not None:
            filename, data = _upload_value(event.value)
            self.scope.flush()
            page_service.upload(self.view(), self.step_name, element.id, filename, data, claim_token=self.claim.token)
            self.scope.reload()
        callback = element.on_upload_completion
        if callback is None:
            return _Result("none")
        return self.page_update(callback, event.input_data, f"on_upload_completion of {element.title!r}")

    def on_update_card(self, event: CallbackEvent) -> _Result:
        card = self.card(self.page(), event.target or "")
        if card.page_update is None and card.filter_update is not None:
            # A card whose filters have an update: its "Update" applies the filters as they are.
            return self.filter_update(card, card.filter_update, card.filters, event)
        if card.page_update is None:
            raise ValidationError(f"card {card.title!r} has no page_update callback (no Update button)")
        return self.page_update(card.page_update, event.input_data, f"page_update of card {card.title!r}")

    def on_filter(self, event: CallbackEvent) -> _Result:
        page = self.page()
        card = self.card(page, event.target or "")
        values = event.value or {}
        if not isinstance(values, Mapping):
            raise ValidationError(f"filter values must be an object {{filter title or id: value}}, got {values!r}")
        changed = []
        for key, value in values.items():
            element = next((f for f in card.filters if key in (f.id, f.title)), None)
            if element is None:
                titles = [f.title for f in card.filters]
                raise NotFoundError(f"card {card.title!r} has no filter {key!r}; its filters are {titles}")
            element.set_value(value)
            changed.append(element)
        self.save(page)
        callback = card.filter_update or card.page_update
        if callback is None:
            return _Result("none")
        return self.filter_update(card, callback, changed, event)

    def filter_update(self, card: Card, callback: Any, filters: Sequence[Any], event: CallbackEvent) -> _Result:
        """Run a card's filter callback with ``{"filters": {title: value}}`` of ``filters`` as its input data."""
        chosen = {f.title or f.id: f.typed_value() for f in filters}
        input_data = {"filters": chosen, **(event.input_data or {})}
        return self.page_update(callback, input_data, f"filter_update of card {card.title!r}")

    def on_click(self, event: CallbackEvent) -> _Result:
        element = self.element(self.page(), event.target or "")
        callback = getattr(element, "on_click", None)
        if callback is None:
            raise ValidationError(f"element {event.target!r} of step {self.step_name!r} has no on_click callback")
        title = element.title or getattr(element, "label", "") or ""
        return self.action(callback, event.input_data, title, f"on_click of {event.target!r}")

    def on_drilldown(self, event: CallbackEvent) -> _Result:
        element = self.element(self.page(), event.target or "")
        input_data = dict(event.input_data or {})
        wanted = input_data.get("action")
        actions = [a for a in getattr(element, "row_actions", []) if isinstance(a, CallbackRef)]
        chosen: Any = None
        if wanted is not None:
            chosen = next(
                (a for a in actions if wanted in (a.meta.get("row_action_title"), a.qualname.rpartition(".")[2])),
                None,
            )
            if chosen is None:
                titles = [a.meta.get("row_action_title") or a.qualname for a in actions]
                raise NotFoundError(
                    f"element {element.title!r} has no row action {wanted!r}; its row actions are {titles}"
                )
        elif actions:
            chosen = actions[0]
        else:
            chosen = getattr(element, "on_click", None)
        if chosen is None:
            raise ValidationError(f"element {event.target!r} of step {self.step_name!r} has no row action or drilldown")
        if "row" in input_data and _is_table(element):
            _check_row(element, input_data["row"])  # a row action's row is one the table has
        return self.action(chosen, input_data, element.title, f"drilldown {_name(chosen)!r} of {event.target!r}")

    def on_select_rows(self, event: CallbackEvent) -> _Result:
        page = self.page()
        table = self.table(page, event.target or "")
        rows = event.value
        if not isinstance(rows, list | tuple) or not all(isinstance(r, int) and not isinstance(r, bool) for r in rows):
            raise ValidationError(f"select_rows takes a list of row positions, got {rows!r}")
        table.set_selected_rows(list(rows))
        self.save(page)
        if table.on_row_select is None:
            return _Result("none")
        input_data = {"selected_rows": list(rows), **(event.input_data or {})}
        return self.page_update(table.on_row_select, input_data, f"on_row_select of {table.title!r}")

    def on_edit_cell(self, event: CallbackEvent) -> _Result:
        page = self.page()
        table = self.table(page, event.target or "")
        edit = event.value
        if not isinstance(edit, Mapping) or not {"row", "column", "value"} <= set(edit):
            raise ValidationError(f"edit_cell takes {{'row', 'column', 'value'}}, got {edit!r}")
        row, column = edit["row"], edit["column"]
        if isinstance(column, Mapping | list) or isinstance(edit["value"], Mapping | list):
            raise ValidationError(
                f"edit_cell of table {table.title!r} takes a column label and one value (text, a number, "
                "true/false or null), not a list or an object"
            )
        frame = table.content
        if column not in frame.columns:
            raise NotFoundError(
                f"table {table.title!r} has no column {column!r}; its columns are {list(frame.columns)}"
            )
        _check_row(table, row)
        editable = getattr(table, "editable_columns", True)
        if (
            not getattr(table, "editable", True)
            or editable is False
            or (isinstance(editable, list) and column not in editable)
        ):
            raise ValidationError(f"column {column!r} of table {table.title!r} is not editable")
        old = frame.iat[row, frame.columns.get_loc(column)]
        frame.iat[row, frame.columns.get_loc(column)] = edit["value"]
        self.save(page)
        if table.on_edit_update is None:
            return _Result("none")
        from flowdeck.elements.base import to_jsonable

        input_data = {"row": row, "column": column, "value": edit["value"], "old_value": to_jsonable(old)}
        input_data.update(event.input_data or {})
        return self.page_update(table.on_edit_update, input_data, f"on_edit_update of {table.title!r}")

    def on_refresh(self, event: CallbackEvent) -> _Result:
        page = self.page()
        if page.on_auto_refresh is None:
            raise ValidationError(f"the page of step {self.step_name!r} has no on_auto_refresh callback")
        return self.page_update(page.on_auto_refresh, event.input_data, "on_auto_refresh of the page")

    def on_toggle(self, event: CallbackEvent) -> _Result:
        visible = event.value
        if not isinstance(visible, bool):
            raise ValidationError(f"toggle takes True (open) or False (close), got {visible!r}")
        container = self.set_container(event.target or "", visible)
        on_close = getattr(container, "on_close", None)
        if not visible and on_close is not None:
            if isinstance(on_close, ContainerToggleCallback):
                if on_close.container_id not in (container.id, container.title) or on_close.visibility:
                    self.set_container(on_close.container_id, on_close.visibility)
            else:
                self.page_update(on_close, event.input_data, f"on_close of {container.title!r}")
        return _Result("toggle")


def _upload_value(value: Any) -> tuple[str, bytes]:
    if not isinstance(value, Mapping) or "filename" not in value:
        raise ValidationError(f"an upload event's value is {{'filename', 'data_base64'}}, got {type(value).__name__}")
    if "data" in value and isinstance(value["data"], bytes | bytearray):
        return str(value["filename"]), bytes(value["data"])
    try:
        return str(value["filename"]), base64.b64decode(value.get("data_base64") or "", validate=True)
    except ValueError as exc:
        raise ValidationError(f"an upload event's data_base64 is not base64: {exc}") from exc


def _download(callback: AssetDownloadCallback) -> dict[str, Any]:
    asset = callback.to_json()["asset"]
    base = callback.label or asset.get("label") or asset.get("name") or asset.get("asset_id") or "download"
    extension = (callback.extension or "").lstrip(".")
    return {
        "asset_id": asset.get("asset_id"),
        "filename": f"{base}.{extension}" if extension else str(base),
        "mime_type": callback.mime_type,
    }


def _cards(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [card for section in document.get("sections", []) for card in section.get("content", [])]


def _outcome(result: _Result, before: Mapping[str, Any], after: Mapping[str, Any]) -> CallbackOutcome:
    earlier = {card["id"]: card for card in _cards(before)}
    now = _cards(after)
    remaining = {card["id"] for card in now}
    return CallbackOutcome(
        kind=result.kind,
        changed_cards=tuple(card for card in now if earlier.get(card["id"]) != card),
        removed_cards=tuple(card_id for card_id in earlier if card_id not in remaining),
        message=result.message,
        drilldown=result.drilldown,
        page_title=after.get("title") if after.get("title") != before.get("title") else None,
        next_disabled=tuple(card.get("title") or card["id"] for card in now if card.get("disable_next")),
        download=result.download,
    )


def carry_out(
    claim: lifecycle.Claim,
    who: Principal,
    event: CallbackEvent,
    *,
    start: lifecycle.CallbackStart | None = None,
    notify: bool = False,
) -> CallbackOutcome:
    """Carry out ``event`` under its callback ``claim`` in this thread, then free the run.

    Takes the claim's lease (renewed meanwhile); the page is compared before and after. ``start``
    is what :func:`~flowdeck.store.lifecycle.claim_callback_reading` read with the claim (read now
    when None). The page the callback leaves is stored in the transaction that frees the run, with
    the run's ``callback`` notice when ``notify``. When the callback raises, nothing it changed on
    the page is stored (every page version, upload and output it stored already is dropped) and
    ``CallbackError`` (traceback kept) is raised; errors of the event itself (an unknown element, a
    bad value) are raised as they are, with the page restored too.
    """
    ended = False
    with lifecycle.carrying(claim):
        try:
            if start is None:
                view = run_service.load_run(claim.flow_id, who)
                text, snapshot = page_service.page_with_snapshot(view, claim.step_name)
            else:
                view, text, snapshot = start.view, start.document, start.snapshot
            scope = CallbackScope(view, who, claim.step_name, claim.token, text)
            before = json.loads(text)
            try:
                with callback_scope.entered(scope), acting_as(who):
                    result = _Firing(claim, who, event, scope).run()
                lifecycle.check_cancelled(claim.flow_id)
                outcome = None
                if result.keep_page:
                    after = before if scope.pending is None and not scope.stored_any else scope.document_json()
                    outcome = _outcome(result, before, after)
                else:
                    outcome = _outcome(result, before, before)  # a drilldown never changes the page
                    if scope.stored_any:
                        _restore(snapshot)
                ended = lifecycle.finish_callback(claim, _final_write(scope, result, outcome, who, notify))
                if not ended:
                    raise StepCancelledError(
                        f"the {event.kind} callback of run {claim.flow_id!r} was cancelled (or its lease ran out) "
                        "while it ran; the page is unchanged"
                    )
            except BaseException as exc:
                if scope.stored_any:
                    _restore(snapshot)
                if scope.outputs_before is not None:
                    output_service.drop_outputs_after(claim.flow_id, scope.outputs_before)
                # Progress it reported goes back to what the step showed before (a no-op when none).
                was = view.step(claim.step_name)
                progress_service.restore_progress(claim.flow_id, claim.step_name, was.progress, was.message)
                if isinstance(exc, _Raised):
                    original = exc.original
                    trace = "".join(tb_module.format_exception(original))
                    raise CallbackError(
                        f"callback {exc.what} (run {claim.flow_id!r}) raised "
                        f"{type(original).__name__}: {original}; the page is unchanged",
                        traceback=trace,
                        error_type=type(original).__name__,
                        flow_id=claim.flow_id,
                        target=event.target,
                        step_name=claim.step_name,
                    ) from original
                raise
            return outcome
        finally:
            if not ended:
                lifecycle.end_callback(claim)


def _final_write(
    scope: CallbackScope, result: _Result, outcome: CallbackOutcome, who: Principal, notify: bool
) -> Callable[[Any], None]:
    """What the transaction freeing the run writes: the page the callback left, and the run's notice."""

    def write(conn: Any) -> None:
        if result.keep_page and scope.pending is not None:
            page_service.write_page_text(conn, scope.view, scope.step_name, scope.pending)
        if notify:
            notice_service.record(
                conn, scope.flow_id, "callback", notice_service.callback_data(outcome.to_json(), who.name)
            )

    return write


def _restore(snapshot: page_service.PageSnapshot) -> None:
    try:
        page_service.restore_page(snapshot)
    except Exception:
        log.exception("could not restore the page of run %s after a failed callback", snapshot.run_id)
        raise


# --- firing: here, or on a worker ----------------------------------------------------------------


def _principal(user: str | Principal | None) -> Principal:
    return user if isinstance(user, Principal) else resolve_principal(user)


def fire(
    flow_id: str,
    user: str | Principal | None,
    event: CallbackEvent | Mapping[str, Any],
    *,
    queue: str | None = None,
    notify: bool = False,
) -> CallbackOutcome:
    """Fire the callback ``event`` asks for on the current page of run ``flow_id``, as ``user``.

    Runs on the configured executor: in this thread (``inline``), or on a Celery worker listening
    on ``queue`` (default ``flowdeck``) whose outcome this waits for, at most
    ``callback_timeout_seconds``. Raises ``NotFoundError`` (a run ``user`` may not see, an unknown
    element), ``AccessError`` (may see but not act), ``StepStateError`` (the run is busy with
    another action, or its step does not await input), ``ValidationError`` (a bad event or value)
    and ``CallbackError`` (the callback raised: the page is left exactly as it was).

    With ``notify`` the run's ``callback`` notice (for its event streams) is published with the
    outcome; in this thread, in the same transaction that stores the page and frees the run.
    """
    if not isinstance(event, CallbackEvent):
        event = CallbackEvent.from_json(event)
    who = _principal(user)
    if get_settings().executor == "celery":
        outcome = _fire_on_worker(flow_id, who, event, queue)
        if notify:
            notice_service.publish_callback(flow_id, outcome.to_json(), who.name)
        return outcome
    start = lifecycle.claim_callback_reading(flow_id, who)
    return carry_out(start.claim, who, event, start=start, notify=notify)


#: :func:`fire` under the name ``flowdeck`` exports it by.
fire_callback = fire


def _fire_on_worker(flow_id: str, who: Principal, event: CallbackEvent, queue: str | None) -> CallbackOutcome:
    from flowdeck.flow.celery_app import callback_task
    from flowdeck.flow.executors import DEFAULT_QUEUE, redact_url

    claim = lifecycle.claim_callback(flow_id, who, handoff=True)
    try:
        callback_task.apply_async(
            args=(flow_id, who.name, event.to_json(), claim.token, who.role),
            task_id=claim.token,
            queue=queue or DEFAULT_QUEUE,
            retry=False,
        )
    except Exception as exc:
        lifecycle.end_callback(claim)
        raise ConfigurationError(
            f"could not queue the {event.kind} callback of run {flow_id!r} on broker "
            f"{redact_url(get_settings().broker_url)}: {type(exc).__name__}: {exc}; "
            "start the broker or set FLOWDECK_BROKER_URL"
        ) from exc
    timeout = get_settings().callback_timeout_seconds
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        result = callback_results.take_result(claim.token)
        if result is not None:
            return _from_result(result, flow_id, event, claim.step_name)
        if time.monotonic() >= deadline:
            lifecycle.end_callback(claim)  # a worker still running it stops at its next store call
            raise CallbackError(
                f"no worker answered the {event.kind} callback of run {flow_id!r} within {timeout:g} s "
                f"(setting callback_timeout_seconds); is `flowdeck worker` running on queue "
                f"{queue or DEFAULT_QUEUE!r} with this deployment's settings?",
                flow_id=flow_id,
                target=event.target,
                step_name=claim.step_name,
            )
        time.sleep(pause)
        pause = min(pause * 1.5, 0.1)


#: Errors a worker reports that reach the caller as their own type.
_PASSED_ERRORS = (
    "AccessError",
    "CallbackLoadError",
    "NotFoundError",
    "StepStateError",
    "StepCancelledError",
    "ValidationError",
    "ConfigurationError",
)


def _from_result(
    result: callback_results.CallbackResult, flow_id: str, event: CallbackEvent, step_name: str | None = None
) -> CallbackOutcome:
    if result.outcome is not None:
        return CallbackOutcome.from_json(json.loads(result.outcome))
    message = result.error or "the callback failed on its worker"
    if result.error_type == "CallbackError":
        raise CallbackError(
            message, traceback=result.traceback, flow_id=flow_id, target=event.target, step_name=step_name
        )
    if result.error_type in _PASSED_ERRORS:
        raise getattr(errors, result.error_type)(message)
    raise CallbackError(
        f"the {event.kind} callback of run {flow_id!r} failed on its worker: {result.error_type}: {message}",
        traceback=result.traceback,
        error_type=result.error_type,
        flow_id=flow_id,
        target=event.target,
        step_name=step_name,
    )


def perform_callback(flow_id: str, user: str, event: Mapping[str, Any], token: str, role: str | None = None) -> None:
    """Carry out a claimed callback on a worker and record its outcome for the process that fired it.

    ``role`` is the role it was fired with, when lower than the user's stored one (see
    :func:`flowdeck.auth.users.lowered_to`).
    """
    claim = lifecycle.claim_of(flow_id, token)
    if claim is None or claim.action != lifecycle.CALLBACK_ACTION:
        log.warning("a callback of run %s is no longer in flight; dropped", flow_id)
        return
    try:
        outcome = carry_out(claim, lowered_to(resolve_principal(user), role), CallbackEvent.from_json(event))
    except CallbackError as exc:
        callback_results.keep_result(
            token, flow_id, error_type="CallbackError", error=str(exc), traceback=exc.traceback
        )
    except Exception as exc:
        if not isinstance(exc, errors.FlowdeckError):
            log.exception("a callback of run %s failed outside the callback's code", flow_id)
        callback_results.keep_result(
            token,
            flow_id,
            error_type=type(exc).__name__,
            error=str(exc),
            traceback="".join(tb_module.format_exception(exc)),
        )
    else:
        callback_results.keep_result(token, flow_id, outcome=json.dumps(outcome.to_json(), allow_nan=False))
