"""The registry that maps an element's ``kind`` (as written in JSON) to its class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowdeck.errors import ValidationError

if TYPE_CHECKING:
    from flowdeck.elements.base import Element

__all__ = ["element_class", "element_kinds", "register_element"]

_KINDS: dict[str, type[Element]] = {}


def register_element(cls: type[Element], kind: str | None = None) -> type[Element]:
    """Register ``cls`` under ``kind`` (its class name by default) so JSON of that kind loads as ``cls``.

    Registering a kind again replaces the earlier class, so reloading a module keeps working.
    """
    _KINDS[kind or cls.__name__] = cls
    return cls


def element_class(kind: str) -> type[Element]:
    """Return the element class registered under ``kind``."""
    try:
        return _KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise ValidationError(
            f"unknown element kind {kind!r}; known kinds are: {known}. "
            "Import the module that defines a custom element before loading pages that use it."
        ) from None


def element_kinds() -> list[str]:
    """Return the registered element kinds, sorted."""
    return sorted(_KINDS)
