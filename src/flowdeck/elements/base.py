"""The element base classes: :class:`Element` and :class:`InputElement`, and their JSON form.

An element's JSON is a plain dict that ``json.dumps`` accepts. It carries ``schema_version`` and
``kind``; :meth:`Element.from_json` upgrades older versions step by step and returns an instance
of the class registered under ``kind``.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import math
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from flowdeck.elements.registry import element_class, register_element
from flowdeck.errors import ValidationError

__all__ = [
    "ELEMENT_UPGRADES",
    "SCHEMA_VERSION",
    "Element",
    "InputElement",
    "OutputElement",
    "new_element_id",
    "to_jsonable",
    "upgrade_element_json",
]

#: The version of the element JSON this code writes.
SCHEMA_VERSION = 1


def new_element_id() -> str:
    """Return a fresh element id (32 hexadecimal characters)."""
    return uuid.uuid4().hex


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
        out.setdefault("required", cls.default_required)
        if "selected" in out:
            out["value"] = out.pop("selected")
        if "min_selection" in out or "max_selection" in out:
            low, high = out.pop("min_selection", None), out.pop("max_selection", None)
            out["value"] = None if low is None and high is None else [low, high]
    out["schema_version"] = 1
    return out


ELEMENT_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _upgrade_v0_to_v1}


def upgrade_element_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return element JSON of any known schema version as the current version.

    JSON without ``schema_version`` is taken as version 0. JSON from a newer flowdeck is refused.
    """
    out = dict(data)
    version = out.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValidationError(
            f"element JSON has an invalid schema_version {version!r}; expected 0 to {SCHEMA_VERSION}"
        )
    if version > SCHEMA_VERSION:
        raise ValidationError(
            f"element {out.get('title')!r} was written with schema_version {version}, newer than this "
            f"flowdeck reads ({SCHEMA_VERSION}); upgrade flowdeck to load it"
        )
    while version < SCHEMA_VERSION:
        out = ELEMENT_UPGRADES[version](out)
        version = out["schema_version"]
    return out


class Element:
    """Something shown on a page: a title, a description, a stable ``id`` and kind-specific content.

    Keyword arguments a subclass does not know are kept in ``extra`` (and in the JSON), and read
    back as attributes, so options meant for other renderers are not lost.
    """

    #: Whether the element takes a value from the user.
    is_input: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_element(cls)

    def __init__(
        self, title: str = "", description: str = "", *, id: str | None = None, **extra: Any
    ) -> None:
        """Create an element; ``id`` is generated unless given (as when loading from JSON)."""
        self.title = _check_text(title, "title", type(self).__name__)
        self.description = _check_text(description, "description", type(self).__name__)
        if id is not None and (not isinstance(id, str) or not id):
            raise ValidationError(
                f"{type(self).__name__} {self.title!r}: id must be a non-empty string, got {id!r}"
            )
        self.id: str = id or new_element_id()
        self.extra: dict[str, Any] = dict(extra)

    @property
    def kind(self) -> str:
        """The name this element's class is registered under, written as ``kind`` in JSON."""
        return type(self).__name__

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # --- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Return the element as a JSON-safe dict with ``schema_version`` and ``kind``."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "description": self.description,
        }
        data.update(self._fields_to_json())
        data["extra"] = to_jsonable(self.extra)
        return data

    def _fields_to_json(self) -> dict[str, Any]:
        """The kind-specific fields of the JSON form."""
        return {}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        """Build an instance from current-version JSON (value not yet set)."""
        return cls(data["title"], data["description"], id=data["id"], **data["extra"])

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
            raise ValidationError(
                f"element JSON {current.get('title')!r} has no 'kind'; cannot tell its class"
            )
        target = element_class(kind)
        if not issubclass(target, cls):
            raise ValidationError(f"element JSON {current.get('title')!r} is a {kind}, not a {cls.__name__}")
        try:
            element = target._from_fields(current)
            element._load_value(current)
        except (KeyError, TypeError) as exc:
            raise ValidationError(
                f"{kind} JSON {current.get('title')!r} is malformed ({type(exc).__name__}: {exc})"
            ) from exc
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

    ``value`` is what the user chose, as stored; :meth:`typed_value` is what a later step reads
    with ``get_element_value``. Assigning ``value`` validates it like :meth:`set_value`.
    """

    is_input: ClassVar[bool] = True
    #: ``required`` when not given (and for JSON written before inputs stored it).
    default_required: ClassVar[bool] = False

    def __init__(
        self,
        title: str = "",
        description: str = "",
        *,
        required: bool | None = None,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create an input element with no value yet."""
        super().__init__(title, description, id=id, **extra)
        self.required = self.default_required if required is None else bool(required)
        self._value: Any = None

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

    def has_value(self) -> bool:
        """Whether the user gave a value (what a required input needs before the step can go on)."""
        return self._value is not None

    def value_from_text(self, text: str) -> Any:
        """Turn text typed by a person (a command-line ``--set``) into a value for :meth:`set_value`."""
        return text

    def _value_to_json(self) -> Any:
        return to_jsonable(self._value)

    def _fields_to_json(self) -> dict[str, Any]:
        return {"required": self.required, "value": self._value_to_json()}

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
