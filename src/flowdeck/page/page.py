"""Pages: a step's screen, made of sections, which hold cards, which hold elements."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from flowdeck.elements.base import Element, InputElement
from flowdeck.errors import NotFoundError, ValidationError

__all__ = ["PAGE_SCHEMA_VERSION", "PAGE_UPGRADES", "Card", "Page", "Section", "upgrade_page_json"]

#: The version of the page JSON this code writes (elements carry their own version).
PAGE_SCHEMA_VERSION = 1


def _upgrade_page_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    # Version 0 called a section's cards "cards" and a card's elements "elements", and had no
    # descriptions on sections and cards.
    sections = []
    for section in data.get("sections", []):
        cards = []
        for card in section.get("cards", section.get("content", [])):
            cards.append(
                {
                    "title": card.get("title", ""),
                    "description": card.get("description", ""),
                    "content": card.get("elements", card.get("content", [])),
                }
            )
        sections.append(
            {
                "title": section.get("title", ""),
                "description": section.get("description", ""),
                "content": cards,
            }
        )
    return {**data, "schema_version": 1, "sections": sections}


#: ``PAGE_UPGRADES[n]`` turns page JSON of version n into version n + 1.
PAGE_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _upgrade_page_v0_to_v1}


def upgrade_page_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return page JSON of any known schema version as the current version (missing version = 0)."""
    out = dict(data)
    version = out.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValidationError(
            f"page JSON has an invalid schema_version {version!r}; expected 0 to {PAGE_SCHEMA_VERSION}"
        )
    if version > PAGE_SCHEMA_VERSION:
        raise ValidationError(
            f"page {out.get('title')!r} was written with schema_version {version}, newer than this flowdeck "
            f"reads ({PAGE_SCHEMA_VERSION}); upgrade flowdeck to load it"
        )
    while version < PAGE_SCHEMA_VERSION:
        out = PAGE_UPGRADES[version](out)
        version = out["schema_version"]
    return out


def _as_list(content: Any, item_type: type, owner: str, item_name: str) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, item_type):
        return [content]
    if isinstance(content, str | bytes | Mapping) or not isinstance(content, Iterable):
        raise ValidationError(
            f"{owner}: content must be a list of {item_name}s, got {type(content).__name__}"
        )
    items = list(content)
    for item in items:
        if not isinstance(item, item_type):
            raise ValidationError(
                f"{owner}: content must hold only {item_name}s, got {type(item).__name__} {item!r}"
            )
    return items


class Card:
    """A box on a page holding elements, shown in order."""

    def __init__(
        self, title: str = "", content: Iterable[Element] | Element | None = None, description: str = ""
    ) -> None:
        """Create a card titled ``title`` holding the elements in ``content``."""
        self.title = title or ""
        self.description = description or ""
        self.content: list[Element] = _as_list(content, Element, f"Card {self.title!r}", "element")

    @property
    def elements(self) -> list[Element]:
        """The card's elements (same list as ``content``)."""
        return self.content

    def add_element(self, element: Element) -> Element:
        """Append ``element`` to the card and return it."""
        self.content.extend(_as_list([element], Element, f"Card {self.title!r}", "element"))
        return element

    def to_json(self) -> dict[str, Any]:
        """Return the card as a JSON-safe dict."""
        return {
            "title": self.title,
            "description": self.description,
            "content": [element.to_json() for element in self.content],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Return the card described by current-version JSON."""
        return cls(
            data.get("title", ""),
            [Element.from_json(element) for element in data.get("content", [])],
            data.get("description", ""),
        )

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Card) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Card(title={self.title!r}, elements={len(self.content)})"


class Section:
    """A titled part of a page holding cards, shown in order."""

    def __init__(
        self, title: str = "", content: Iterable[Card] | Card | None = None, description: str = ""
    ) -> None:
        """Create a section titled ``title`` holding the cards in ``content``."""
        self.title = title or ""
        self.description = description or ""
        self.content: list[Card] = _as_list(content, Card, f"Section {self.title!r}", "Card")

    @property
    def cards(self) -> list[Card]:
        """The section's cards (same list as ``content``)."""
        return self.content

    def add_card(self, card: Card) -> Card:
        """Append ``card`` to the section and return it."""
        self.content.extend(_as_list([card], Card, f"Section {self.title!r}", "Card"))
        return card

    @property
    def elements(self) -> list[Element]:
        """Every element of the section's cards, in order."""
        return [element for card in self.content for element in card.content]

    def to_json(self) -> dict[str, Any]:
        """Return the section as a JSON-safe dict."""
        return {
            "title": self.title,
            "description": self.description,
            "content": [card.to_json() for card in self.content],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Return the section described by current-version JSON."""
        return cls(
            data.get("title", ""),
            [Card.from_json(card) for card in data.get("content", [])],
            data.get("description", ""),
        )

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Section) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Section(title={self.title!r}, cards={len(self.content)})"


class Page:
    """What a step shows: a title and sections of cards of elements.

    The ``get_*`` lookups return None on a miss. Input element titles must be unique on a page
    (see :meth:`validate`), since later steps read values by title.
    """

    def __init__(self, title: str = "", sections: Iterable[Section] | Section | None = None) -> None:
        """Create a page titled ``title`` with ``sections``."""
        self.title = title or ""
        self.sections: list[Section] = _as_list(sections, Section, f"Page {self.title!r}", "Section")

    # --- building --------------------------------------------------------------------------------
    def add_section(self, section: Section) -> Section:
        """Append ``section`` to the page and return it."""
        self.sections.extend(_as_list([section], Section, f"Page {self.title!r}", "Section"))
        return section

    def add_card_to_section(self, card: Card, section_title: str) -> None:
        """Append ``card`` to the section titled ``section_title`` (a new section at the end if none)."""
        if not isinstance(card, Card):
            raise ValidationError(
                f"Page {self.title!r}: add_card_to_section takes a Card, got {type(card).__name__}"
            )
        section = self.get_section_by_title(section_title)
        if section is None:
            section = self.add_section(Section(section_title))
        section.add_card(card)

    def replace_element(self, element: Element) -> None:
        """Put ``element`` in place of the page's element with the same id."""
        for section in self.sections:
            for card in section.content:
                for position, existing in enumerate(card.content):
                    if existing.id == element.id:
                        card.content[position] = element
                        return
        raise NotFoundError(f"Page {self.title!r} has no element with id {element.id!r} to replace")

    # --- lookups ---------------------------------------------------------------------------------
    def get_section_by_title(self, title: str) -> Section | None:
        """Return the first section titled ``title``, or None."""
        return next((section for section in self.sections if section.title == title), None)

    def get_card_by_title(self, title: str) -> Card | None:
        """Return the first card titled ``title``, or None."""
        return next(
            (card for section in self.sections for card in section.content if card.title == title), None
        )

    @property
    def elements(self) -> list[Element]:
        """Every element of the page, in order (sections, then cards, then elements)."""
        return [element for section in self.sections for element in section.elements]

    @property
    def input_elements(self) -> list[InputElement]:
        """Every input element of the page, in order."""
        return [element for element in self.elements if isinstance(element, InputElement)]

    def get_element_by_title(self, title: str) -> Element | None:
        """Return the first element titled ``title`` (an input before an output of that title), or None."""
        matches = [element for element in self.elements if element.title == title]
        return next((e for e in matches if isinstance(e, InputElement)), matches[0] if matches else None)

    def get_element_by_id(self, element_id: str) -> Element | None:
        """Return the element with id ``element_id``, or None."""
        return next((element for element in self.elements if element.id == element_id), None)

    def get_input_element(self, title_or_id: str) -> InputElement | None:
        """Return the input element with this id, or else with this title, or None."""
        inputs = self.input_elements
        by_id = next((element for element in inputs if element.id == title_or_id), None)
        return by_id or next((element for element in inputs if element.title == title_or_id), None)

    def validate(self) -> None:
        """Raise ValidationError when two input elements share a title or two elements share an id."""
        seen_titles: set[str] = set()
        for element in self.input_elements:
            if element.title in seen_titles:
                raise ValidationError(
                    f"Page {self.title!r} has two input elements titled {element.title!r}; "
                    "give each input a unique title, since later steps read values by title"
                )
            seen_titles.add(element.title)
        seen_ids: set[str] = set()
        for element in self.elements:
            if element.id in seen_ids:
                raise ValidationError(
                    f"Page {self.title!r} holds the element {element.title!r} (id {element.id!r}) twice; "
                    "add a new element instead of the same object again"
                )
            seen_ids.add(element.id)

    # --- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Return the page as a JSON-safe dict with ``schema_version``."""
        return {
            "schema_version": PAGE_SCHEMA_VERSION,
            "kind": "Page",
            "title": self.title,
            "sections": [section.to_json() for section in self.sections],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Self:
        """Return the page described by ``data`` (a dict, or its JSON text); older versions are upgraded."""
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"page JSON is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
                ) from exc
        if not isinstance(data, Mapping):
            raise ValidationError(f"page JSON must be an object, got {type(data).__name__}")
        current = upgrade_page_json(data)
        try:
            return cls(
                current.get("title", ""), [Section.from_json(section) for section in current["sections"]]
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValidationError(
                f"page JSON {current.get('title')!r} is malformed ({type(exc).__name__}: {exc})"
            ) from exc

    def copy(self) -> Self:
        """Return a deep copy (element ids are kept)."""
        return type(self).from_json(self.to_json())

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Page) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Page(title={self.title!r}, sections={len(self.sections)}, elements={len(self.elements)})"
