"""The element base classes: :class:`Element` and :class:`InputElement`, and their JSON form.

An element's JSON is a plain dict that ``json.dumps`` accepts. It carries ``schema_version`` and
``kind``; :meth:`Element.from_json` upgrades older versions step by step and returns an instance
of the class registered under ``kind``.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import difflib
import enum
import functools
import inspect
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from flowdeck.elements.callbacks import callback_from_json, callback_to_json
from flowdeck.elements.registry import element_class, register_element
from flowdeck.errors import ValidationError

__all__ = [
    "DEFAULT",
    "ELEMENT_UPGRADES",
    "MAX_VALUE_DEPTH",
    "SCHEMA_VERSION",
    "Element",
    "ElementHorizontalPosition",
    "ElementOverflowBehavior",
    "ElementType",
    "ElementVerticalPosition",
    "InputElement",
    "OutputElement",
    "StrictInit",
    "check_bool",
    "check_keywords",
    "check_value_depth",
    "new_element_id",
    "or_default",
    "strict_init",
    "to_jsonable",
    "unknown_keyword_error",
    "upgrade_element_json",
]

#: The version of the element JSON this code writes.
SCHEMA_VERSION = 2

#: The SDK version whose element model this follows.
SDK_VERSION = "1.62.0"


class _DefaultType:
    """The marker of a parameter whose default is documented rather than spelled in the signature.

    It shows as ``...`` in signatures, as in the SDK's own stubs; the constructor replaces it
    with the documented default.
    """

    _instance: ClassVar[_DefaultType | None] = None

    def __new__(cls) -> _DefaultType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "..."

    def __reduce__(self) -> str:
        return "DEFAULT"


#: The default-marker (shown as ``...``): "use the documented default".
DEFAULT: Any = _DefaultType()


def or_default(value: Any, default: Any) -> Any:
    """Return ``default`` when ``value`` is the :data:`DEFAULT` marker, else ``value``."""
    return default if value is DEFAULT else value


class _ReprEnum(enum.Enum):
    """An Enum that shows as ``Class.MEMBER`` (how signatures and the SDK's stubs write defaults)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    @classmethod
    def parse(cls, value: Any, what: str) -> Any:
        """The member ``value`` is, or names (by value or name, any case); ValidationError otherwise."""
        if isinstance(value, cls):
            return value
        for member in cls:
            if isinstance(value, str) and value.lower() in (member.value, member.name.lower()):
                return member
        valid = ", ".join(f"{cls.__name__}.{member.name}" for member in cls)
        raise ValidationError(f"{what} must be one of {valid}, got {value!r}")


class ElementType(_ReprEnum):
    """The kind of an element, as the SDK names it."""

    TABLE = "table"
    DASHBOARD = "dashboard"
    IMAGE = "image"
    FILTERS = "filters"
    INPUT = "input"
    DROPDOWN = "dropdown"
    DATE_TIME_RANGE = "date_time_range"
    NUMERIC_RANGE = "numeric_range"
    DATA_SOURCE = "data_source"
    TEXT_INPUT = "text_input"
    PLOT = "plot"
    CUSTOM_EVENT = "custom_event"
    INFOGRAPHIC = "infographic"
    INFOGRAPH_DATA = "infograph_data"
    RICH_TEXT = "rich_text"
    XAI_DASHBOARD = "xai_dashboard"
    BUTTON = "button"
    BOX_PACKING_RENDERER = "box_packing_renderer"
    SEGMENTED_CONTROL = "segmented_control"


class ElementHorizontalPosition(_ReprEnum):
    """Where an element sits across its card."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class ElementVerticalPosition(_ReprEnum):
    """Where an element sits down its card."""

    TOP = "top"
    CENTER = "center"
    BOTTOM = "bottom"


class ElementOverflowBehavior(_ReprEnum):
    """What an element does when its content is larger than its box."""

    SCROLL = "scroll"
    FIT = "fit"
    FULLSIZE = "fullsize"


def _accepted_parameters(init: Callable[..., Any]) -> tuple[list[str], bool]:
    params = inspect.signature(init).parameters
    names = [
        name
        for name, param in params.items()
        if name != "self" and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
    ]
    return names, any(param.kind is param.VAR_KEYWORD for param in params.values())


def unknown_keyword_error(owner: str, keyword: str, accepted: Iterable[str]) -> TypeError:
    """The TypeError for an unknown keyword: names it, the closest accepted one and all of them."""
    accepted = [name for name in accepted if not name.startswith("_")] or list(accepted)
    close = difflib.get_close_matches(keyword, accepted, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return TypeError(
        f"{owner}() got an unexpected keyword argument {keyword!r}{hint} Accepted keywords: {', '.join(accepted)}"
    )


def check_keywords(
    owner: str, given: Mapping[str, Any], accepted: Iterable[str], init: Callable[..., Any] | None = None
) -> None:
    """Raise :func:`unknown_keyword_error` for the first key of ``given`` not in ``accepted``.

    ``init`` is the constructor taking ``**kwargs``: its named parameters are listed (and suggested)
    too.
    """
    allowed = list(accepted)
    named = _accepted_parameters(inspect.unwrap(init))[0] if init is not None else []
    for keyword in given:
        if keyword not in allowed:
            raise unknown_keyword_error(owner, keyword, [*named, *allowed])


def strict_init(init: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a constructor so an unknown keyword is a TypeError naming the closest accepted one.

    A constructor with ``**kwargs`` checks its extra keywords itself (:func:`check_keywords`).
    """
    if getattr(init, "__flowdeck_strict__", False):
        return init
    names, var_keyword = _accepted_parameters(init)
    if var_keyword:
        return init

    @functools.wraps(init)
    def checked(self: Any, *args: Any, **kwargs: Any) -> None:
        for keyword in kwargs:
            if keyword not in names:
                raise unknown_keyword_error(type(self).__name__, keyword, names)
        init(self, *args, **kwargs)

    checked.__flowdeck_strict__ = True  # type: ignore[attr-defined]
    return checked


class StrictInit:
    """A base class whose subclasses' constructors reject unknown keywords (see :func:`strict_init`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = strict_init(init)  # type: ignore[misc]


def check_bool(value: Any, name: str, owner: str, *, allow_none: bool = True, hint: str = "") -> bool:
    """Return the flag ``value`` as a ``bool``; a ``ValidationError`` unless it is True or False.

    numpy's booleans count as True and False. ``None`` reads as False when ``allow_none`` (how
    ``bool()`` read it before flags were checked), else it is refused too. Anything else (text
    such as ``"no"``, which ``bool()`` would read as True, numbers, lists) is refused with a message
    naming ``owner`` and ``name``; ``hint`` is added to it.
    """
    if value is None and allow_none:
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise ValidationError(f"{owner}: {name} must be True or False, got {value!r}{hint}")


# Set while elements are rebuilt from their stored JSON (Element.from_json).
_LOADING_SAVED: contextvars.ContextVar[bool] = contextvars.ContextVar("flowdeck_loading_saved", default=False)


def loading_saved() -> bool:
    """Whether an element is being rebuilt from stored JSON: rules for new elements (refusing an empty
    Dashboard or Infographic) do not apply to what was saved before them, which loads as saved."""
    return _LOADING_SAVED.get()


def new_element_id() -> str:
    """Return a fresh element id (32 hexadecimal characters)."""
    return uuid.uuid4().hex


#: How deeply lists and objects may nest in a value a user sends (an input's value, a callback's
#: ``value`` or ``input_data``). Real values nest a few levels; deeper ones only exhaust the stack
#: of the code that validates, copies and stores them.
MAX_VALUE_DEPTH = 32


def check_value_depth(value: Any, what: str, max_depth: int = MAX_VALUE_DEPTH) -> None:
    """Refuse ``value`` with a ``ValidationError`` when its lists and dicts nest deeper than ``max_depth``.

    Walks the value without recursion, so a value nested far deeper than the interpreter's stack
    is refused as cleanly as one just over the limit. ``what`` names the value in the message.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise ValidationError(
                f"{what} nests lists or objects more than {max_depth} levels deep; send a flatter value"
            )
        stack.extend((child, depth + 1) for child in children)


def to_jsonable(obj: Any) -> Any:
    """Return ``obj`` as a value ``json.dumps`` accepts and a browser can parse.

    Missing values (None, NaN, NaT, pd.NA) become None, infinities the strings ``"Infinity"`` and
    ``"-Infinity"``, dates and times ISO strings, bytes base64 text, containers lists and dicts
    with string keys, and anything else its ``str()``.
    """
    if obj is None or isinstance(obj, str | bool):
        return obj
    if isinstance(obj, int | np.integer) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, np.datetime64 | np.timedelta64):
        return to_jsonable(pd.Timestamp(obj) if isinstance(obj, np.datetime64) else pd.Timedelta(obj))
    if isinstance(obj, pd.Timedelta):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return pd.Timedelta(obj).isoformat()
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, Decimal):
        return to_jsonable(float(obj)) if not obj.is_finite() else str(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(item) for item in obj.tolist()]
    if isinstance(obj, list | tuple | set | frozenset | pd.Index | pd.Series):
        return [to_jsonable(item) for item in obj]
    return str(obj)


# --- schema upgrades ---------------------------------------------------------------------------
# ELEMENT_UPGRADES[n] turns the JSON of version n into version n + 1. Version 0 is the form pages
# were written in before versioning: no ``description`` or ``extra``, no ``required`` on inputs,
# and selections stored as ``selected`` (Dropdown) or ``min_selection``/``max_selection`` (ranges).


def _upgrade_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out.setdefault("description", "")
    out.setdefault("extra", {})
    kind = out.get("kind")
    cls = element_class(kind) if isinstance(kind, str) else None
    if cls is not None and issubclass(cls, InputElement):
        # Version-0 pages were written when only uploads were required unless told otherwise.
        out.setdefault("required", kind == "DataSource")
        if "selected" in out:
            out["value"] = out.pop("selected")
        if "min_selection" in out or "max_selection" in out:
            low, high = out.pop("min_selection", None), out.pop("max_selection", None)
            out["value"] = None if low is None and high is None else [low, high]
    out["schema_version"] = 1
    return out


#: Keys version 1 kept in ``extra`` that version 2 has as fields of every element.
_V2_COMMON = ("show_title", "show_description", "label", "placeholder", "reference_id")


def _infograph_type_of_trend(trend: Any) -> str:
    if trend == "up" or (isinstance(trend, int | float) and not isinstance(trend, bool) and trend > 0):
        return "positive"
    if trend == "down" or (isinstance(trend, int | float) and not isinstance(trend, bool) and trend < 0):
        return "negative"
    return "neutral"


def _upgrade_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 2 follows the SDK's element model: the options flowdeck 1 kept in ``extra`` are
    # fields, RichText's ``markdown`` is ``content``, NumericRange's ``step`` is ``step_size``,
    # and an Infographic holds InfographData items instead of one value.
    out = dict(data)
    extra = dict(out.get("extra") or {})
    for key in _V2_COMMON:
        if key in extra:
            out[key] = extra.pop(key)
    kind = out.get("kind")
    if kind == "RichText":
        out["content"] = out.pop("markdown", "")
    elif kind == "NumericRange":
        out["step_size"] = out.pop("step", None)
    elif kind == "Image":
        alt = out.pop("alt", "")
        if alt:
            extra["alt"] = alt
    elif kind == "Infographic":
        value, unit = out.pop("value", None), out.pop("unit", None)
        caption, trend = out.pop("caption", None), out.pop("trend", None)
        main = "" if value is None else str(value)
        if isinstance(trend, int | float) and not isinstance(trend, bool):
            caption = " ".join(part for part in (f"{trend:+g}", caption or "") if part)
        out["data"] = [
            {
                "schema_version": 2,
                "kind": "InfographData",
                "id": f"{out.get('id', '')}-0",
                "title": "",
                "description": "",
                "label": out.get("title", ""),
                "main_text": main,
                "supporting_text": caption or "",
                "unit": unit,
                "infograph_type": _infograph_type_of_trend(trend),
            }
        ]
    out["extra"] = extra
    out["schema_version"] = 2
    return out


ELEMENT_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _upgrade_v0_to_v1,
    1: _upgrade_v1_to_v2,
}


def upgrade_element_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return element JSON of any known schema version as the current version.

    JSON without ``schema_version`` is taken as version 0. JSON from a newer flowdeck is refused.
    """
    out = dict(data)
    version = out.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValidationError(f"element JSON has an invalid schema_version {version!r}; expected 0 to {SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise ValidationError(
            f"element {out.get('title')!r} was written with schema_version {version}, newer than this "
            f"flowdeck reads ({SCHEMA_VERSION}); upgrade flowdeck to load it"
        )
    while version < SCHEMA_VERSION:
        out = ELEMENT_UPGRADES[version](out)
        version = out["schema_version"]
    return out


class Element(StrictInit):
    """Something shown on a page, with the SDK's common options.

    Subclasses pass their ``_type`` (an :class:`ElementType`), ``params`` and ``content`` up; the
    element's stable ``id`` is generated unless ``_id`` is given. ``reference_id`` is a name the
    flow writer chooses to find the element again (``page.get_element_by_reference_id``).
    Constructors are strict: an unknown keyword is a TypeError naming the closest accepted one.
    """

    #: Whether the element takes a value from the user.
    is_input: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            register_element(cls)

    def __init__(
        self,
        _type: ElementType,
        params: dict[str, Any],
        content: dict | list | str,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        _id: str = "",
        label: str = "",
        placeholder: str = "",
        on_click: Any = None,
        horizontal_position: ElementHorizontalPosition = DEFAULT,
        vertical_position: ElementVerticalPosition = DEFAULT,
        overflow_behavior: ElementOverflowBehavior = DEFAULT,
        reference_id: str = "",
    ) -> None:
        """Set the options every element has (see the class docstring)."""
        owner = type(self).__name__
        self.type = ElementType.parse(_type, f"{owner} _type")
        if not isinstance(params, Mapping):
            raise ValidationError(f"{owner} params must be a dict, got {type(params).__name__}")
        self.params: dict[str, Any] = dict(params)
        self.content = content
        self.title = _check_text(title, "title", owner)
        self.description = _check_text(description, "description", owner)
        self.show_title = check_bool(show_title, "show_title", f"{owner} {self.title!r}")
        self.show_description = check_bool(show_description, "show_description", f"{owner} {self.title!r}")
        if _id is not None and not isinstance(_id, str):
            raise ValidationError(f"{owner} {self.title!r}: _id must be text, got {_id!r}")
        self.id: str = _id or new_element_id()
        self.label = _check_text(label, "label", owner)
        self.placeholder = _check_text(placeholder, "placeholder", owner)
        self.on_click = on_click
        self.horizontal_position = ElementHorizontalPosition.parse(
            or_default(horizontal_position, ElementHorizontalPosition.LEFT), f"{owner} horizontal_position"
        )
        self.vertical_position = ElementVerticalPosition.parse(
            or_default(vertical_position, ElementVerticalPosition.TOP), f"{owner} vertical_position"
        )
        self.overflow_behavior = ElementOverflowBehavior.parse(
            or_default(overflow_behavior, ElementOverflowBehavior.SCROLL), f"{owner} overflow_behavior"
        )
        self.reference_id = _check_text(reference_id, "reference_id", owner)
        self.card_id = ""
        self.comments: list[Any] = []
        self.hash_bump = 0
        #: Options kept from pages written by an older flowdeck that this version has no field for.
        self.extra: dict[str, Any] = {}
        self.virtualitics_sdk_version = SDK_VERSION

    @property
    def kind(self) -> str:
        """The name this element's class is registered under, written as ``kind`` in JSON."""
        return type(self).__name__

    # --- SDK methods ---------------------------------------------------------------------------
    def serialize_drilldown(self, func: Any) -> None:
        """Make ``func`` (a drilldown callback) what clicking the element runs."""
        self.on_click = func

    def add_comment(self, comment: Any) -> None:
        """Attach a :class:`~flowdeck.elements.comment.Comment` to the element."""
        from flowdeck.elements.comment import Comment

        if not isinstance(comment, Comment):
            raise ValidationError(f"add_comment takes a Comment, got {type(comment).__name__}")
        self.comments.append(comment)

    def get_comment(self, comment_id: str) -> Any:
        """The comment with id ``comment_id`` (NotFoundError when there is none)."""
        from flowdeck.elements.comment import find_comment

        return find_comment(self.comments, comment_id, f"{self.kind} {self.title!r}")

    def edit_comment(self, comment_id: str, new_comment_message: str, editor: str) -> Any:
        """Change a comment's message (``editor`` must be its author) and return it."""
        comment = self.get_comment(comment_id)
        comment.edit(new_comment_message, editor)
        return comment

    def delete_comment(self, comment_id: str) -> None:
        """Remove the comment with id ``comment_id``."""
        self.comments.remove(self.get_comment(comment_id))

    def extract_context(self) -> dict[str, Any]:
        """A short JSON-safe description of the element (what it is and shows)."""
        return {"type": self.type.value, "title": self.title, "description": self.description}

    def force_update(self) -> None:
        """Mark the element changed so that a page showing it redraws it."""
        self.hash_bump += 1

    # --- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Return the element as a JSON-safe dict with ``schema_version`` and ``kind``."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "type": self.type.value,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "show_title": self.show_title,
            "show_description": self.show_description,
            "label": self.label,
            "placeholder": self.placeholder,
            "reference_id": self.reference_id,
            "horizontal_position": self.horizontal_position.value,
            "vertical_position": self.vertical_position.value,
            "overflow_behavior": self.overflow_behavior.value,
            "on_click": callback_to_json(self.on_click),
        }
        data.update(self._fields_to_json())
        if self.comments:
            data["comments"] = [comment.to_json() for comment in self.comments]
        if self.hash_bump:
            data["hash_bump"] = self.hash_bump
        data["extra"] = to_jsonable(self.extra)
        return data

    def _fields_to_json(self) -> dict[str, Any]:
        """The kind-specific fields of the JSON form."""
        return {}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        """Build an instance from current-version JSON (common options are restored afterwards)."""
        raise ValidationError(f"{cls.__name__} cannot be loaded from JSON")

    def _restore_common(self, data: dict[str, Any]) -> None:
        from flowdeck.elements.comment import Comment

        self.id = data["id"]
        self.title = data.get("title", "")
        self.description = data.get("description", "")
        self.show_title = bool(data.get("show_title", True))
        self.show_description = bool(data.get("show_description", True))
        self.label = data.get("label", "") or ""
        self.placeholder = data.get("placeholder", "") or ""
        self.reference_id = data.get("reference_id", "") or ""
        self.horizontal_position = ElementHorizontalPosition.parse(
            data.get("horizontal_position", "left"), "horizontal_position"
        )
        self.vertical_position = ElementVerticalPosition.parse(
            data.get("vertical_position", "top"), "vertical_position"
        )
        self.overflow_behavior = ElementOverflowBehavior.parse(
            data.get("overflow_behavior", "scroll"), "overflow_behavior"
        )
        self.on_click = callback_from_json(data.get("on_click"))
        self.comments = [Comment.from_json(comment) for comment in data.get("comments", [])]
        self.hash_bump = int(data.get("hash_bump", 0))
        self.extra = dict(data.get("extra") or {})

    def _load_value(self, data: dict[str, Any]) -> None:
        """Restore the user's value from current-version JSON (inputs only)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Element:
        """Return the element described by ``data``, as the class registered under its ``kind``.

        Older schema versions are upgraded first. ``Table.from_json(d)`` also checks that ``d``
        describes a Table.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"element JSON must be an object, got {type(data).__name__}")
        current = upgrade_element_json(data)
        kind = current.get("kind")
        if not isinstance(kind, str):
            raise ValidationError(f"element JSON {current.get('title')!r} has no 'kind'; cannot tell its class")
        target = element_class(kind)
        if not issubclass(target, cls):
            raise ValidationError(f"element JSON {current.get('title')!r} is a {kind}, not a {cls.__name__}")
        token = _LOADING_SAVED.set(True)
        try:
            element = target._from_fields(current)
            element._restore_common(current)
            element._load_value(current)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValidationError(
                f"{kind} JSON {current.get('title')!r} is malformed ({type(exc).__name__}: {exc})"
            ) from exc
        finally:
            _LOADING_SAVED.reset(token)
        return element

    # --- comparison ----------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Element):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable; equality follows content

    def __repr__(self) -> str:
        return f"{type(self).__name__}(title={self.title!r}, id={self.id!r})"


class OutputElement(Element):
    """An element that shows something to the user and takes no value."""


class InputElement(Element):
    """An element the user gives a value to.

    ``value`` is what the user chose, as stored; :meth:`get_value` (also :meth:`typed_value`)
    is what a later step reads with ``get_element_value``. Assigning ``value`` validates it like
    :meth:`set_value`. ``page_update`` is the callback run when the user changes the value.
    """

    is_input: ClassVar[bool] = True
    #: ``required`` when not given (and for JSON written before inputs stored it).
    default_required: ClassVar[bool] = False

    def __init__(
        self,
        _type: ElementType,
        params: dict[str, Any],
        content: dict[str, Any],
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        label: str = "",
        placeholder: str = "",
        page_update: Any = None,
        on_click: Any = None,
        horizontal_position: ElementHorizontalPosition = DEFAULT,
        vertical_position: ElementVerticalPosition = DEFAULT,
        reference_id: str | None = "",
    ) -> None:
        """Create an input element with no value yet."""
        super().__init__(
            _type,
            params,
            content,
            title,
            description,
            show_title,
            show_description,
            "",
            label,
            placeholder,
            on_click,
            horizontal_position,
            vertical_position,
            DEFAULT,
            reference_id or "",
        )
        self.required = self.default_required
        self.page_update = page_update
        self._value: Any = None

    @property
    def has_updater(self) -> bool:
        """Whether changing the value runs a ``page_update`` callback."""
        return self.page_update is not None

    @property
    def value(self) -> Any:
        """The user's value as stored (None when nothing was given)."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self.set_value(value)

    def validate_value(self, value: Any) -> Any:
        """Return ``value`` in its stored form, or raise ValidationError when it is not acceptable."""
        return value

    def set_value(self, value: Any) -> None:
        """Validate ``value`` and store it."""
        self._value = self.validate_value(value)

    def typed_value(self) -> Any:
        """The value a later step reads for this element."""
        return self._value

    def get_value(self) -> Any:
        """The value a later step reads for this element (what ``get_element_value`` returns)."""
        return self.typed_value()

    def has_value(self) -> bool:
        """Whether the user gave a value (what a required input needs before the step can go on)."""
        return self._value is not None

    def value_from_text(self, text: str) -> Any:
        """Turn text typed by a person (a command-line ``--set``) into a value for :meth:`set_value`."""
        return text

    def extract_context(self) -> dict[str, Any]:
        """A short JSON-safe description of the input and its value."""
        return {**super().extract_context(), "value": to_jsonable(self.typed_value())}

    def _value_to_json(self) -> Any:
        return to_jsonable(self._value)

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "page_update": callback_to_json(self.page_update),
            "value": self._value_to_json(),
        }

    def _restore_common(self, data: dict[str, Any]) -> None:
        super()._restore_common(data)
        self.required = bool(data.get("required", self.default_required))
        self.page_update = callback_from_json(data.get("page_update"))

    def _load_value(self, data: dict[str, Any]) -> None:
        self.set_value(data.get("value"))

    def _describe(self) -> str:
        return f"{type(self).__name__} {self.title!r}"


def _check_text(value: Any, field: str, owner: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{owner} {field} must be text, got {type(value).__name__} {value!r}")
    return value
