"""Pages: a step's screen, made of sections, which hold cards, which hold elements."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Self

from flowdeck.elements.base import DEFAULT, SDK_VERSION, Element, InputElement, StrictInit, check_bool, or_default
from flowdeck.elements.callbacks import (
    ContainerToggleCallback,
    DrilldownSize,
    callback_from_json,
    callback_to_json,
)
from flowdeck.elements.controls import (
    Dashboard,
    Row,
    SegmentedControl,
    _Layout,
    layout_from_json,
    register_card_classes,
)
from flowdeck.errors import NotFoundError, PredictValidationError, ValidationError
from flowdeck.page.comment import Comment, find_comment

__all__ = [
    "PAGE_SCHEMA_VERSION",
    "PAGE_UPGRADES",
    "Card",
    "CardType",
    "Container",
    "Page",
    "Section",
    "Segment",
    "default_container_on_close",
    "default_container_open",
    "upgrade_page_json",
]

#: The version of the page JSON this code writes (elements carry their own version).
PAGE_SCHEMA_VERSION = 2


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
def _upgrade_page_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 2 adds the SDK's card and section options; every one has a default, so the
    # version-1 form only needs its number raised (elements upgrade themselves).
    return {**data, "schema_version": 2}


PAGE_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _upgrade_page_v0_to_v1,
    1: _upgrade_page_v1_to_v2,
}


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


def _check_items(content: Any, allowed: tuple[type, ...], owner: str, item_name: str) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, allowed):
        return [content]
    if isinstance(content, str | bytes | Mapping) or not isinstance(content, Iterable):
        raise ValidationError(f"{owner}: content must be a list of {item_name}s, got {type(content).__name__}")
    items = list(content)
    for item in items:
        if not isinstance(item, allowed):
            raise ValidationError(f"{owner}: content must hold only {item_name}s, got {type(item).__name__} {item!r}")
    return items


def _walk(items: Iterable[Any]) -> Iterator[Element]:
    """Every element in ``items``: inside Rows and Columns, and the insides of Dashboards and tabs."""
    for item in items:
        if isinstance(item, _Layout):
            yield from _walk(item.elements)
            continue
        yield item
        if isinstance(item, Dashboard):
            yield from _walk(item.filters)
            yield from _walk(item.content.elements)
        elif isinstance(item, SegmentedControl):
            for segment in item.segments:
                yield from _walk(segment.content)


def _replace_in(items: list[Any], match: Callable[[Element], bool], new: Element | None) -> bool:
    """Replace (or, with ``new`` None, remove) the first element matching ``match``; True if found."""
    for position, item in enumerate(items):
        if isinstance(item, _Layout):
            if _replace_in(item.elements, match, new):
                return True
        elif match(item):
            if new is None:
                del items[position]
            else:
                items[position] = new
            return True
        elif (
            isinstance(item, Dashboard)
            and (_replace_in(item.content.elements, match, new) or _replace_in(item.filters, match, new))
        ) or (
            isinstance(item, SegmentedControl)
            and any(_replace_in(segment.content, match, new) for segment in item.segments)
        ):
            return True
    return False


class CardType(enum.Enum):
    """What a card is: a plain card, a container (a modal) or a segment (a tab)."""

    CARD = "card"
    CONTAINER = "container"
    SEGMENT = "segment"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Card(StrictInit):
    """A box on a page holding elements (and Rows of them), shown in order.

    ``page_update`` is the callback of the card's "Update" button (``updater_text`` its label),
    ``filters`` inputs that feed ``filter_update``; ``disable_next`` keeps the step from moving on
    until a callback clears it.
    """

    card_type: CardType = CardType.CARD

    def __init__(
        self,
        title: str,
        content: list[Element | Row],
        subtitle: str = "",
        description: str = "",
        _id: str | None = None,
        show_title: bool = True,
        show_description: bool = True,
        page_update: Any = None,
        disable_next: bool = False,
        updater_text: str | None = None,
        filters: list[InputElement] | None = None,
        filter_update: Callable[..., Any] | None = None,
        show_comments: bool = False,
        show_export: bool = False,
        show_share: bool = False,
        info_content: str | None = None,
    ) -> None:
        """Create a card titled ``title`` holding ``content``."""
        self.title = title or ""
        if not isinstance(self.title, str):
            raise ValidationError(f"a card title must be text, got {title!r}")
        self.id: str = _id or uuid.uuid4().hex
        owner = f"{type(self).__name__} {self.title!r}"
        self.content: list[Any] = _check_items(content, (Element, _Layout), owner, "element")
        self.subtitle = subtitle or ""
        self.description = description or ""
        self.show_title = check_bool(show_title, "show_title", owner)
        self.show_description = check_bool(show_description, "show_description", owner)
        self.page_update = page_update
        self.disable_next = check_bool(disable_next, "disable_next", owner)
        self.updater_text = updater_text
        self.filters: list[InputElement] = _check_items(filters, (InputElement,), owner, "input element")
        self.filter_update = filter_update
        self.show_comments = check_bool(show_comments, "show_comments", owner)
        self.show_export = check_bool(show_export, "show_export", owner)
        self.show_share = check_bool(show_share, "show_share", owner)
        self.info_content = info_content
        self.comments: list[Comment] = []
        self.hash_bump = 0
        self.version = SDK_VERSION
        self.virtualitics_sdk_version = SDK_VERSION
        self.params: dict[str, Any] = {}

    @property
    def filter_updater_name(self) -> str | None:
        """The name of the ``filter_update`` callback, if any."""
        return _callback_name(self.filter_update)

    @property
    def has_updater(self) -> bool:
        """Whether the card has an "Update" button (a ``page_update`` callback)."""
        return self.page_update is not None

    @property
    def has_filter_updater(self) -> bool:
        """Whether the card's filters run a ``filter_update`` callback."""
        return self.filter_update is not None

    @property
    def elements(self) -> list[Element]:
        """Every element of the card: its content in order (inside Rows too), then its filters."""
        return [*_walk(self.content), *_walk(self.filters)]

    def get_elements(self) -> Iterator[Element]:
        """The elements of the card's content, in order (inside Rows too); see :meth:`get_filters`."""
        return _walk(self.content)

    def get_filters(self) -> Iterator[InputElement]:
        """The card's filter inputs."""
        return iter(self.filters)

    def add_element(self, element: Element) -> Element:
        """Append ``element`` to the card and return it."""
        self.add_content(element)
        return element

    def add_content(
        self, content: Row | list[Element] | Element, ratio: list[int | float] | None = None, index: int | None = None
    ) -> None:
        """Add elements (in a Row when ``ratio`` is given) at ``index`` (default: the end)."""
        owner = f"{type(self).__name__} {self.title!r}"
        items = _check_items(content, (Element, _Layout), owner, "element")
        if ratio is not None:
            items = [Row(items, ratio)]
        position = len(self.content) if index is None else index
        self.content[position:position] = items

    def update_item(self, element_title: str, new_element: Element) -> None:
        """Put ``new_element`` in place of the element titled ``element_title``."""
        if not _replace_in(self.content, lambda element: element.title == element_title, new_element):
            raise NotFoundError(f"card {self.title!r} has no element titled {element_title!r}")

    def remove_item(self, element_title: str, quiet: bool = False) -> None:
        """Remove the element titled ``element_title`` (NotFoundError unless ``quiet``)."""
        if not _replace_in(self.content, lambda element: element.title == element_title, None) and not quiet:
            raise NotFoundError(f"card {self.title!r} has no element titled {element_title!r}")

    def add_comment(self, comment: Comment) -> None:
        """Attach a comment to the card."""
        if not isinstance(comment, Comment):
            raise ValidationError(f"add_comment takes a Comment, got {type(comment).__name__}")
        self.comments.append(comment)

    def get_comment(self, comment_id: str) -> Comment:
        """The comment with id ``comment_id``."""
        return find_comment(self.comments, comment_id, f"card {self.title!r}")

    def edit_comment(self, comment_id: str, new_comment_message: str, editor: str) -> Comment:
        """Change a comment's message (``editor`` must be its author) and return it."""
        comment = self.get_comment(comment_id)
        comment.edit(new_comment_message, editor)
        return comment

    def delete_comment(self, comment_id: str) -> None:
        """Remove the comment with id ``comment_id``."""
        self.comments.remove(self.get_comment(comment_id))

    def force_update(self) -> None:
        """Mark the card changed so that a page showing it redraws it."""
        self.hash_bump += 1

    def to_json(self) -> dict[str, Any]:
        """Return the card as a JSON-safe dict."""
        return {
            "kind": type(self).__name__,
            "card_type": self.card_type.value,
            "id": self.id,
            "title": self.title,
            "subtitle": self.subtitle,
            "description": self.description,
            "show_title": self.show_title,
            "show_description": self.show_description,
            "page_update": callback_to_json(self.page_update),
            "disable_next": self.disable_next,
            "updater_text": self.updater_text,
            "filters": [element.to_json() for element in self.filters],
            "filter_update": callback_to_json(self.filter_update),
            "show_comments": self.show_comments,
            "show_export": self.show_export,
            "show_share": self.show_share,
            "info_content": self.info_content,
            "comments": [comment.to_json() for comment in self.comments],
            "hash_bump": self.hash_bump,
            "content": [item.to_json() for item in self.content],
        }

    @classmethod
    def _new_from_json(cls, data: Mapping[str, Any], content: list[Any]) -> Card:
        return cls(data.get("title", ""), content)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Card:
        """Return the card described by current-version JSON (a Container or Segment as such)."""
        target = {"Container": Container, "Segment": Segment}.get(data.get("kind", "Card"), Card)
        content = [layout_from_json(item) for item in data.get("content", [])]
        card = target._new_from_json(data, content)
        card.id = data.get("id") or card.id
        card.subtitle = data.get("subtitle", "")
        card.description = data.get("description", "")
        card.show_title = data.get("show_title", True)
        card.show_description = data.get("show_description", True)
        card.page_update = callback_from_json(data.get("page_update"))
        card.disable_next = data.get("disable_next", False)
        card.updater_text = data.get("updater_text")
        card.filters = [Element.from_json(item) for item in data.get("filters", [])]  # type: ignore[misc]
        card.filter_update = callback_from_json(data.get("filter_update"))
        card.show_comments = data.get("show_comments", False)
        card.show_export = data.get("show_export", False)
        card.show_share = data.get("show_share", False)
        card.info_content = data.get("info_content")
        card.comments = [Comment.from_json(item) for item in data.get("comments", [])]
        card.hash_bump = data.get("hash_bump", 0)
        return card

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Card) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(title={self.title!r}, elements={len(self.elements)})"


def _callback_name(callback: Any) -> str | None:
    if callback is None:
        return None
    return getattr(callback, "qualname", None) or getattr(callback, "__name__", None) or type(callback).__name__


def default_container_open(container_id: str) -> ContainerToggleCallback:
    """A callback that shows the container ``container_id``."""
    return ContainerToggleCallback(True, container_id)


def default_container_on_close(container_id: str) -> ContainerToggleCallback:
    """A callback that hides the container ``container_id`` (for ``Container(on_close=)``)."""
    return ContainerToggleCallback(False, container_id)


class Container(Card):
    """A card shown as a modal: hidden until a callback makes it ``visible``."""

    card_type = CardType.CONTAINER

    def __init__(
        self,
        title: str,
        content: list[Element | Row],
        subtitle: str = "",
        description: str = "",
        _id: str | None = None,
        show_description: bool = True,
        page_update: Callable[..., Any] | None = None,
        disable_next: bool = False,
        updater_text: str | None = None,
        filters: list[InputElement] | None = None,
        filter_update: Callable[..., Any] | None = None,
        show_comments: bool = False,
        show_export: bool = False,
        show_share: bool = False,
        size: DrilldownSize = DEFAULT,
        visible: bool = False,
        on_close: Any = None,
    ) -> None:
        """Create a container (hidden unless ``visible``)."""
        super().__init__(
            title,
            content,
            subtitle,
            description,
            _id,
            True,
            show_description,
            page_update,
            disable_next,
            updater_text,
            filters,
            filter_update,
            show_comments,
            show_export,
            show_share,
        )
        self.size = DrilldownSize(or_default(size, DrilldownSize.MEDIUM))
        self.visible = visible
        self.visible_changed_at: str | None = None
        self.on_close = on_close

    @property
    def has_on_close(self) -> bool:
        """Whether closing the container runs a callback."""
        return self.on_close is not None

    @property
    def visible(self) -> bool:
        """Whether the container is shown; a change records ``visible_changed_at``."""
        return self._visible

    @visible.setter
    def visible(self, visible: bool) -> None:
        previous = getattr(self, "_visible", None)
        self._visible = check_bool(visible, "visible", f"Container {self.title!r}")
        if previous is not None and previous != self._visible:
            self.visible_changed_at = dt.datetime.now(dt.UTC).isoformat()

    def set_visibility(self, visible: bool) -> None:
        """Show or hide the container, and mark it changed (:meth:`force_update`), as the SDK does."""
        self.visible = visible
        self.visible_changed_at = dt.datetime.now(dt.UTC).isoformat()
        self.force_update()

    def to_json(self) -> dict[str, Any]:
        """Return the container as a JSON-safe dict."""
        return {
            **super().to_json(),
            "size": self.size.value,
            "visible": self.visible,
            "visible_changed_at": self.visible_changed_at,
            "on_close": callback_to_json(self.on_close),
        }

    @classmethod
    def _new_from_json(cls, data: Mapping[str, Any], content: list[Any]) -> Card:
        container = cls(data.get("title", ""), content, size=DrilldownSize(data.get("size", "medium")))
        container.visible = data.get("visible", False)
        container.visible_changed_at = data.get("visible_changed_at")
        container.on_close = callback_from_json(data.get("on_close"))
        return container


class Segment(Card):
    """A card shown as one tab of a :class:`~flowdeck.elements.controls.SegmentedControl`."""

    card_type = CardType.SEGMENT

    def __init__(
        self,
        label: str,
        title: str,
        content: list[Element | Row],
        subtitle: str = "",
        description: str = "",
        _id: str | None = None,
        show_title: bool = True,
        show_description: bool = True,
        page_update: Any = None,
        disable_next: bool = False,
        updater_text: str | None = None,
        filters: list[InputElement] | None = None,
        filter_update: Callable[..., Any] | None = None,
        show_comments: bool = False,
        show_export: bool = False,
        show_share: bool = False,
        info_content: str | None = None,
    ) -> None:
        """Create a tab labelled ``label``."""
        super().__init__(
            title,
            content,
            subtitle,
            description,
            _id,
            show_title,
            show_description,
            page_update,
            disable_next,
            updater_text,
            filters,
            filter_update,
            show_comments,
            show_export,
            show_share,
            info_content,
        )
        self.label = label

    def to_json(self) -> dict[str, Any]:
        """Return the segment as a JSON-safe dict."""
        return {**super().to_json(), "label": self.label}

    @classmethod
    def _new_from_json(cls, data: Mapping[str, Any], content: list[Any]) -> Card:
        return cls(data.get("label", ""), data.get("title", ""), content)


class Section(StrictInit):
    """A titled part of a page holding cards, shown in order."""

    def __init__(
        self,
        title: str,
        content: list[Card],
        subtitle: str = "",
        description: str = "",
        _id: str | None = None,  # type: ignore[assignment]
        show_title: bool = True,
        show_description: bool = True,
    ) -> None:
        """Create a section titled ``title`` holding the cards in ``content``."""
        self.title = title or ""
        if not isinstance(self.title, str):
            raise ValidationError(f"a section title must be text, got {title!r}")
        self.id: str = _id or uuid.uuid4().hex
        self.subtitle = subtitle or ""
        self.description = description or ""
        self.show_title = check_bool(show_title, "show_title", f"Section {self.title!r}")
        self.show_description = check_bool(show_description, "show_description", f"Section {self.title!r}")
        self.content: list[Card] = _check_items(content, (Card,), f"Section {self.title!r}", "Card")

    @property
    def cards(self) -> list[Card]:
        """The section's cards (same list as ``content``)."""
        return self.content

    def add_card(self, card: Card, index: int | None = None) -> Card:
        """Add ``card`` at ``index`` (default: the end) and return it."""
        items = _check_items([card], (Card,), f"Section {self.title!r}", "Card")
        position = len(self.content) if index is None else index
        self.content[position:position] = items
        return card

    def add_card_w_content(
        self,
        elems: Element | list[Element] | list[Row],
        card_title: str = "",
        card_subtitle: str = "",
        card_description: str = "",
        card_id: str = "",
        show_card_title: bool = True,
        show_card_description: bool = True,
        page_update: Callable[..., Any] | None = None,
        filter_update: Callable[..., Any] | None = None,
        filters: list[InputElement] | None = None,
        updater_text: str | None = None,
        index: int | None = None,
    ) -> Card:
        """Add a new card holding ``elems`` and return it."""
        owner = f"Section {self.title!r}, card {card_title!r}"
        card = Card(
            card_title,
            _check_items(elems, (Element, _Layout), f"Section {self.title!r}", "element"),
            card_subtitle,
            card_description,
            card_id or None,
            check_bool(show_card_title, "show_card_title", owner),
            check_bool(show_card_description, "show_card_description", owner),
            page_update,
            updater_text=updater_text,
            filters=filters,
            filter_update=filter_update,
        )
        return self.add_card(card, index)

    def get_card_by_id(self, card_id: str) -> Card:
        """The card with id ``card_id`` (NotFoundError if none)."""
        for card in self.content:
            if card.id == card_id:
                return card
        raise NotFoundError(f"section {self.title!r} has no card with id {card_id!r}")

    @property
    def elements(self) -> list[Element]:
        """Every element of the section's cards, in order (each card's content, then its filters)."""
        return [element for card in self.content for element in card.elements]

    def to_json(self) -> dict[str, Any]:
        """Return the section as a JSON-safe dict."""
        return {
            "id": self.id,
            "title": self.title,
            "subtitle": self.subtitle,
            "description": self.description,
            "show_title": self.show_title,
            "show_description": self.show_description,
            "content": [card.to_json() for card in self.content],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Return the section described by current-version JSON."""
        return cls(
            data.get("title", ""),
            [Card.from_json(card) for card in data.get("content", [])],
            data.get("subtitle", ""),
            data.get("description", ""),
            data.get("id") or None,  # type: ignore[arg-type]
            data.get("show_title", True),
            data.get("show_description", True),
        )

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Section) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Section(title={self.title!r}, cards={len(self.content)})"


class Page(StrictInit):
    """What a step shows: a title and sections of cards of elements.

    Lookups (``get_element_by_title`` and the like) raise NotFoundError on a miss unless called
    with ``quiet=True`` (then None). Input element titles must be unique on a page (see
    :meth:`validate`), since later steps read values by title.
    """

    def __init__(self, title: str, sections: list[Section], on_auto_refresh: Any = None) -> None:
        """Create a page titled ``title`` with ``sections``."""
        self.title = title or ""
        if not isinstance(self.title, str):
            raise ValidationError(f"a page title must be text, got {title!r}")
        self._sections: list[Section] = _check_items(sections, (Section,), f"Page {self.title!r}", "Section")
        self.on_auto_refresh = on_auto_refresh
        self.hidden_elements: dict[str, Element] = {}
        self.removed_card_id: str | None = None
        self.virtualitics_sdk_sdk_version = SDK_VERSION

    @property
    def sections(self) -> list[Section]:
        """The page's sections, in order."""
        return self._sections

    @sections.setter
    def sections(self, sections: list[Section]) -> None:
        self._sections = _check_items(sections, (Section,), f"Page {self.title!r}", "Section")

    @property
    def section_map(self) -> dict[str, Section]:
        """The sections by title."""
        return {section.title: section for section in self._sections}

    @property
    def auto_refresh_rate(self) -> int | None:
        """Seconds between runs of ``on_auto_refresh`` (from its ``auto_refresh_callback`` decorator)."""
        if self.on_auto_refresh is None:
            return None
        meta = getattr(self.on_auto_refresh, "meta", None) or getattr(self.on_auto_refresh, "__flowdeck_callback__", {})
        return meta.get("refresh_rate_seconds", 500)

    # --- building --------------------------------------------------------------------------------
    def add_section(self, section: Section) -> Section:
        """Append ``section`` to the page and return it."""
        self._sections.extend(_check_items([section], (Section,), f"Page {self.title!r}", "Section"))
        return section

    def _section_or_new(self, section_title: str) -> Section:
        if section_title is None:  # a Section titled None is titled ""
            section_title = ""
        section = self._find_section(section_title)
        return section if section is not None else self.add_section(Section(section_title, []))

    def add_card_to_section(self, card: Card, section_title: str) -> None:
        """Append ``card`` to the section titled ``section_title`` (a new section at the end if none)."""
        if not isinstance(card, Card):
            raise ValidationError(f"Page {self.title!r}: add_card_to_section takes a Card, got {type(card).__name__}")
        self._section_or_new(section_title).add_card(card)

    def add_content_to_section(
        self,
        elems: Element | list[Element] | list[Row],
        section_title: str,
        card_title: str = "",
        card_subtitle: str = "",
        card_description: str = "",
        card_id: str = "",
        show_card_title: bool = True,
        show_card_description: bool = True,
        page_update: Callable[..., Any] | None = None,
        index: int | None = None,
    ) -> None:
        """Add a new card holding ``elems`` to the section ``section_title`` (NotFoundError if none)."""
        self.get_section_by_title(section_title).add_card_w_content(
            elems,
            card_title,
            card_subtitle,
            card_description,
            card_id,
            show_card_title,
            show_card_description,
            page_update,
            index=index,
        )

    def replace_content_in_section(
        self,
        elems: Element | list[Element] | list[Row],
        section_title: str,
        card_title: str,
        card_subtitle: str = "",
        card_description: str = "",
        show_card_title: bool = True,
        show_card_description: bool = True,
        page_update: Callable[..., Any] | None = None,
        filter_update: Callable[..., Any] | None = None,
        filters: list[InputElement] | None = None,
        updater_text: str | None = None,
    ) -> None:
        """Replace the content of the card ``card_title`` in the section (a new card if there is none).

        Options not given keep the old card's values.
        """
        owner = f"Section {section_title!r}, card {card_title!r}"
        show_card_title = check_bool(show_card_title, "show_card_title", owner)
        show_card_description = check_bool(show_card_description, "show_card_description", owner)
        section = self._section_or_new(section_title)
        old = next((card for card in section.content if card.title == card_title), None)
        if old is None:
            section.add_card_w_content(
                elems,
                card_title,
                card_subtitle,
                card_description,
                "",
                show_card_title,
                show_card_description,
                page_update,
                filter_update,
                filters,
                updater_text,
            )
            return
        old.content = _check_items(elems, (Element, _Layout), f"card {card_title!r}", "element")
        old.subtitle = card_subtitle or old.subtitle
        old.description = card_description or old.description
        old.show_title = show_card_title
        old.show_description = show_card_description
        old.page_update = page_update if page_update is not None else old.page_update
        old.filter_update = filter_update if filter_update is not None else old.filter_update
        if filters is not None:
            old.filters = _check_items(filters, (InputElement,), f"card {card_title!r}", "input element")
        old.updater_text = updater_text if updater_text is not None else old.updater_text

    def remove_card(self, section_title: str, card_title: str) -> None:
        """Remove the card ``card_title`` from the section ``section_title`` (no card: nothing changes).

        NotFoundError when the page has no such section.
        """
        section = self.get_section_by_title(section_title)
        for position, card in enumerate(section.content):
            if card.title == card_title:
                self.removed_card_id = card.id
                del section.content[position]
                return

    def remove_all_cards(self, section_title: str, index: int = 0) -> None:
        """Remove the cards of the section ``section_title`` from position ``index`` on."""
        del self.get_section_by_title(section_title).content[index:]

    def update_card_title(self, new_card_title: str, card_title: str | None = None, card_id: str | None = None) -> None:
        """Rename the card found by ``card_id`` (or else ``card_title``).

        Neither given: PredictValidationError (a PredictException, as the SDK documents, and a
        ValidationError).
        """
        if card_id is not None:
            card = self.get_card_by_id(card_id)
        elif card_title is not None:
            card = self.get_card_by_title(card_title)
        else:
            raise PredictValidationError(
                f"update_card_title({new_card_title!r}) needs card_title or card_id to find the card to rename"
            )
        card.title = new_card_title

    def add_hidden_element(self, element: Element) -> None:
        """Keep ``element`` with the page without showing it (its value can still be read)."""
        if not isinstance(element, Element):
            raise ValidationError(f"add_hidden_element takes an element, got {type(element).__name__}")
        self.hidden_elements[element.id] = element

    def replace_element(self, element: Element) -> None:
        """Put ``element`` in place of the page's element with the same id."""
        for section in self._sections:
            for card in section.content:
                if _replace_in(card.content, lambda existing: existing.id == element.id, element):
                    return
                if isinstance(element, InputElement) and _replace_in(
                    card.filters, lambda existing: existing.id == element.id, element
                ):
                    return
        if element.id in self.hidden_elements:
            self.hidden_elements[element.id] = element
            return
        raise NotFoundError(f"Page {self.title!r} has no element with id {element.id!r} to replace")

    def force_update_elements(self, elements: list[Element]) -> None:
        """Mark ``elements`` changed so that the page redraws them."""
        for element in elements:
            element.force_update()

    # --- lookups ---------------------------------------------------------------------------------
    @staticmethod
    def _miss(quiet: bool, message: str) -> None:
        if not quiet:
            raise NotFoundError(message)

    def get_section_by_title(self, section_title: str) -> Section:
        """The first section titled ``section_title`` (NotFoundError if none)."""
        found = self._find_section(section_title)
        if found is None:
            raise NotFoundError(f"page {self.title!r} has no section {section_title!r}")
        return found

    def _find_section(self, section_title: str) -> Section | None:
        return next((section for section in self._sections if section.title == section_title), None)

    @property
    def cards(self) -> list[Card]:
        """Every card of the page, in order."""
        return [card for section in self._sections for card in section.content]

    def get_card_by_title(self, card_title: str, quiet: bool = False) -> Card:
        """The first card titled ``card_title`` (NotFoundError if none, None when ``quiet``)."""
        found = next((card for card in self.cards if card.title == card_title), None)
        if found is None:
            self._miss(quiet, f"page {self.title!r} has no card {card_title!r}")
        return found  # type: ignore[return-value]

    def get_card_by_id(self, card_id: str) -> Card:
        """The card with id ``card_id`` (NotFoundError if none)."""
        found = next((card for card in self.cards if card.id == card_id), None)
        if found is None:
            raise NotFoundError(f"page {self.title!r} has no card with id {card_id!r}")
        return found

    @property
    def elements(self) -> list[Element]:
        """Every element of the page, in order (sections, then cards, then elements); hidden ones last.

        A card's filters are elements of the page too (after the card's content): they are inputs,
        found by title or id and read with ``get_element_value`` like any other.
        """
        shown = [element for section in self._sections for element in section.elements]
        return shown + list(self.hidden_elements.values())

    @property
    def input_elements(self) -> list[InputElement]:
        """Every input element of the page, in order."""
        return [element for element in self.elements if isinstance(element, InputElement)]

    @property
    def has_required_input(self) -> bool:
        """Whether the page holds an input the user must fill in."""
        return any(element.required for element in self.input_elements)

    def get_element_by_title(self, elem_title: str, quiet: bool = False) -> Element:
        """The first element titled ``elem_title`` (an input before an output of that title).

        NotFoundError if none, None when ``quiet``.
        """
        matches = [element for element in self.elements if element.title == elem_title]
        found = next((e for e in matches if isinstance(e, InputElement)), matches[0] if matches else None)
        if found is None:
            self._miss(quiet, f"page {self.title!r} has no element titled {elem_title!r}")
        return found  # type: ignore[return-value]

    def get_element_by_reference_id(self, elem_reference_id: str, quiet: bool = False) -> Element:
        """The element with this ``reference_id`` (NotFoundError if none, None when ``quiet``)."""
        found = next((e for e in self.elements if elem_reference_id and e.reference_id == elem_reference_id), None)
        if found is None:
            self._miss(quiet, f"page {self.title!r} has no element with reference_id {elem_reference_id!r}")
        return found  # type: ignore[return-value]

    def get_element_by_id(self, elem_id: str, quiet: bool = False) -> Element:
        """The element with id ``elem_id`` (NotFoundError if none, None when ``quiet``)."""
        found = next((element for element in self.elements if element.id == elem_id), None)
        if found is None:
            self._miss(quiet, f"page {self.title!r} has no element with id {elem_id!r}")
        return found  # type: ignore[return-value]

    def get_input_element(self, title_or_id: str) -> InputElement | None:
        """Return the input element with this id, or else with this title, or None."""
        inputs = self.input_elements
        by_id = next((element for element in inputs if element.id == title_or_id), None)
        return by_id or next((element for element in inputs if element.title == title_or_id), None)

    def get_element_data_grouped_by_type(self) -> dict[str, list[dict[str, Any]]]:
        """Each element's :meth:`~Element.extract_context`, grouped by element type."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for element in self.elements:
            grouped.setdefault(element.type.value, []).append(element.extract_context())
        return grouped

    # --- checks ----------------------------------------------------------------------------------
    def check_unique_reference_ids_element(self) -> None:
        """Raise ValidationError when two elements share a non-empty ``reference_id``."""
        seen: set[str] = set()
        for element in self.elements:
            if element.reference_id:
                if element.reference_id in seen:
                    raise ValidationError(
                        f"Page {self.title!r} has two elements with reference_id {element.reference_id!r}; "
                        "reference ids must be unique on a page"
                    )
                seen.add(element.reference_id)

    def check_one_container_visible(self) -> None:
        """Keep only the most recently changed visible Container visible (as the SDK does).

        "Most recently changed" is the latest ``visible_changed_at``; among containers never
        changed (or changed at the same moment), the last on the page.
        """
        visible = [card for card in self.cards if isinstance(card, Container) and card.visible]
        if len(visible) > 1:
            order = {id(card): position for position, card in enumerate(visible)}
            keep = max(visible, key=lambda card: (card.visible_changed_at or "", order[id(card)]))
            for card in visible:
                if card is not keep:
                    card.set_visibility(False)

    def validate(self) -> None:
        """Raise ValidationError when two inputs share a title, or two elements an id or reference_id.

        A card's filters are inputs too: their titles are unique among the page's inputs.
        """
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
        self.check_unique_reference_ids_element()
        self.check_one_container_visible()

    # --- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Return the page as a JSON-safe dict with ``schema_version``."""
        return {
            "schema_version": PAGE_SCHEMA_VERSION,
            "kind": "Page",
            "title": self.title,
            "on_auto_refresh": callback_to_json(self.on_auto_refresh),
            "hidden_elements": [element.to_json() for element in self.hidden_elements.values()],
            "sections": [section.to_json() for section in self._sections],
        }

    def serialize(self) -> dict[str, Any]:
        """The page's JSON form (same as :meth:`to_json`)."""
        return self.to_json()

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
            page = cls(
                current.get("title", ""),
                [Section.from_json(section) for section in current["sections"]],
                callback_from_json(current.get("on_auto_refresh")),
            )
            for item in current.get("hidden_elements", []):
                page.add_hidden_element(Element.from_json(item))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValidationError(
                f"page JSON {current.get('title')!r} is malformed ({type(exc).__name__}: {exc})"
            ) from exc
        return page

    def copy(self) -> Self:
        """Return a deep copy (element ids are kept)."""
        return type(self).from_json(self.to_json())

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, Page) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Page(title={self.title!r}, sections={len(self._sections)}, elements={len(self.elements)})"


register_card_classes(Card, Segment)
