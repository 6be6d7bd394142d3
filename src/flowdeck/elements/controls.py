"""Buttons, segmented controls and layout: Row, Column and Dashboard."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from flowdeck.elements.base import (
    DEFAULT,
    Element,
    ElementHorizontalPosition,
    ElementType,
    ElementVerticalPosition,
    InputElement,
    OutputElement,
    StrictInit,
    _ReprEnum,
    check_bool,
    check_keywords,
    loading_saved,
    or_default,
)
from flowdeck.elements.callbacks import AssetDownloadCallback, callback_from_json, callback_to_json
from flowdeck.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from flowdeck.page.page import Segment

# The card classes a SegmentedControl holds. They live in flowdeck.page, which builds on the elements,
# so flowdeck.page registers them here when it is imported instead of being imported from here.
_CARD_CLASSES: dict[str, type] = {}


def register_card_classes(card: type, segment: type) -> None:
    """Tell the elements which classes are cards and segments (called by ``flowdeck.page``)."""
    _CARD_CLASSES.update(Card=card, Segment=segment)


def _card_class(name: str) -> Any:
    try:
        return _CARD_CLASSES[name]
    except KeyError:
        raise ValidationError(f"segments need flowdeck's pages: import flowdeck.page before using {name}") from None


__all__ = [
    "Button",
    "ButtonColor",
    "ButtonStyle",
    "Column",
    "Dashboard",
    "DashboardOrientation",
    "Row",
    "SegmentedControl",
    "iter_layout_elements",
    "layout_from_json",
    "layout_to_json",
]


def _as_list(items: Any, what: str, holds: str) -> list[Any]:
    """``items`` as a list; a ValidationError saying ``what`` takes a list of ``holds`` when it is not one."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise ValidationError(f"{what} must be a list of {holds}, got {type(items).__name__} {items!r}")
    return list(items)


class ButtonStyle(_ReprEnum):
    """How prominent a button is."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"
    GHOST = "ghost"


class ButtonColor(_ReprEnum):
    """A button's colour."""

    ACCENT = "accent"
    AMBER = "amber"
    BLUE = "blue"
    CYAN = "cyan"
    FUCHSIA = "fuchsia"
    GREEN = "green"
    GRASS = "grass"
    INDIGO = "indigo"
    NEUTRAL = "neutral"
    ORANGE = "orange"
    PURPLE = "purple"
    RED = "red"
    TEAL = "teal"
    VIOLET = "violet"
    YELLOW = "yellow"
    ALERT = "alert"


class Button(OutputElement):
    """A button; clicking it runs ``on_click`` (a callback, or an AssetDownloadCallback).

    As in the SDK: ``label`` (the text on the button) defaults to ``title``; ``confirmation_text``,
    when given, is shown as the description (replacing ``description``) and asked before the
    click runs; ``style`` defaults to ``ButtonStyle.SECONDARY``.
    """

    def __init__(
        self,
        *,
        title: str,
        confirmation_text: str | None = None,
        label: str | None = None,
        icon: str | None = None,
        icon_position: Literal["prefix", "suffix"] = "prefix",
        on_click: Any = None,
        style: ButtonStyle | None = DEFAULT,
        color: ButtonColor | None = DEFAULT,
        rounded: bool = False,
        horizontal_position: ElementHorizontalPosition = DEFAULT,
        vertical_position: ElementVerticalPosition = DEFAULT,
        tooltip: str | None = None,
        open_new_tab: bool = False,
        show_confirmation: bool = True,
        reference_id: str | None = "",
        **kwargs: Any,
    ) -> None:
        """Create a button titled ``title`` (its text is ``label``, else the title)."""
        check_keywords("Button", kwargs, ["description"], Button.__init__)
        super().__init__(
            ElementType.BUTTON,
            {},
            {},
            title,
            confirmation_text if confirmation_text else kwargs.get("description", ""),
            label=label or title or "",
            on_click=on_click,
            horizontal_position=horizontal_position,
            vertical_position=vertical_position,
            reference_id=reference_id or "",
        )
        if icon_position not in ("prefix", "suffix"):
            raise ValidationError(
                f"Button {title!r}: icon_position must be 'prefix' or 'suffix', got {icon_position!r}"
            )
        self.confirmation_text = confirmation_text
        self.icon = icon
        self.icon_position = icon_position
        self.style = ButtonStyle.parse(
            or_default(style, ButtonStyle.SECONDARY) or ButtonStyle.SECONDARY, "Button style"
        )
        self.color = ButtonColor.parse(or_default(color, ButtonColor.ACCENT) or ButtonColor.ACCENT, "Button color")
        owner = f"Button {self.title!r}"
        self.rounded = check_bool(rounded, "rounded", owner)
        self.tooltip = tooltip
        self.open_new_tab = check_bool(open_new_tab, "open_new_tab", owner)
        self.show_confirmation = check_bool(show_confirmation, "show_confirmation", owner)

    @staticmethod
    def get_asset_download_params(asset: Any, label: Any, extension: Any, mime_type: Any) -> dict[str, Any]:
        """The parameters a click sends to download ``asset`` as ``extension``."""
        return AssetDownloadCallback(asset, extension, mime_type, label).to_json()

    def extract_context(self) -> dict[str, Any]:
        """The button's text."""
        return {**super().extract_context(), "label": self.label or self.title}

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "confirmation_text": self.confirmation_text,
            "icon": self.icon,
            "icon_position": self.icon_position,
            "style": self.style.value,
            "color": self.color.value,
            "rounded": self.rounded,
            "tooltip": self.tooltip,
            "open_new_tab": self.open_new_tab,
            "show_confirmation": self.show_confirmation,
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            title=data.get("title", ""),
            confirmation_text=data.get("confirmation_text"),
            icon=data.get("icon"),
            icon_position=data.get("icon_position", "prefix"),
            style=data.get("style", "primary"),
            color=data.get("color", "accent"),
            rounded=data.get("rounded", False),
            tooltip=data.get("tooltip"),
            open_new_tab=data.get("open_new_tab", False),
            show_confirmation=data.get("show_confirmation", True),
        )


class SegmentedControl(OutputElement):
    """Tabs: one :class:`~flowdeck.page.page.Segment` (a card) shown at a time."""

    def __init__(
        self,
        *,
        title: str,
        segments: list[Segment],
        active_segment_index: int | None = 0,
        controls_position: ElementHorizontalPosition = DEFAULT,
        max_controls_width: int | None = None,
        reference_id: str | None = "",
        **kwargs: Any,
    ) -> None:
        """Create tabs of ``segments``, the one at ``active_segment_index`` shown."""
        check_keywords(
            "SegmentedControl", kwargs, ["description", "show_title", "show_description"], SegmentedControl.__init__
        )
        super().__init__(
            ElementType.SEGMENTED_CONTROL,
            {},
            {},
            title,
            kwargs.get("description", ""),
            kwargs.get("show_title", True),
            kwargs.get("show_description", True),
            reference_id=reference_id or "",
        )
        segment_class = _card_class("Segment")
        self.segments = _as_list(segments, f"SegmentedControl {title!r}: segments", "Segment cards")
        for segment in self.segments:
            if not isinstance(segment, segment_class):
                raise ValidationError(
                    f"SegmentedControl {title!r}: segments must be Segment cards, got {type(segment).__name__}"
                )
        if not self.segments:
            raise ValidationError(f"SegmentedControl {title!r} needs at least one Segment")
        self.controls_position = ElementHorizontalPosition.parse(
            or_default(controls_position, ElementHorizontalPosition.LEFT), "controls_position"
        )
        self.max_controls_width = max_controls_width
        self.active_segment_index = 0
        self.set_active_segment(active_segment_index or 0)

    def set_active_segment(self, index: int) -> None:
        """Show the segment at ``index``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.segments):
            raise ValidationError(
                f"SegmentedControl {self.title!r}: no segment at index {index!r} (it has {len(self.segments)})"
            )
        self.active_segment_index = index

    def get_elements(self) -> Iterator[Element]:
        """Every element of every segment."""
        for segment in self.segments:
            yield from segment.get_elements()

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "segments": [segment.to_json() for segment in self.segments],
            "active_segment_index": self.active_segment_index,
            "controls_position": self.controls_position.value,
            "max_controls_width": self.max_controls_width,
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        card_class = _card_class("Card")
        return cls(
            title=data.get("title", ""),
            segments=[card_class.from_json(segment) for segment in data["segments"]],  # type: ignore[misc]
            active_segment_index=data.get("active_segment_index", 0),
            controls_position=data.get("controls_position", "left"),
            max_controls_width=data.get("max_controls_width"),
        )


class _Layout(StrictInit):
    """Shared behaviour of Row and Column: elements (or nested layouts) with relative sizes.

    Sizes count grid cells, as in the SDK: an element is 1 wide and 1 high; a Row is as wide as its
    items together and as high as its Columns; a Column is as high as its items together and as wide
    as its Rows.
    """

    direction = "row"
    #: The size this layout's items add up along, and the one its inner layouts share across it.
    along: ClassVar[str] = "width"
    across: ClassVar[str] = "height"
    #: How the shared size is counted, for the error when the inner layouts differ.
    size_hint: ClassVar[str] = ""
    width: int
    height: int

    def __init__(self, elements: list[Any], ratio: list[int | float] | None = None) -> None:
        """Hold ``elements``; a ValidationError when the sizes of the inner layouts do not match."""
        self._setup(elements, ratio, check_sizes=not loading_saved())

    @classmethod
    def _unchecked(cls, elements: list[Any], ratio: list[int | float] | None = None) -> Self:
        """A layout built without the size rule: a saved one, or a Dashboard's own wrapper around its content."""
        layout = cls.__new__(cls)
        layout._setup(elements, ratio, check_sizes=False)
        return layout

    def _setup(self, elements: list[Any], ratio: list[int | float] | None, *, check_sizes: bool) -> None:
        name = type(self).__name__
        if isinstance(elements, Element | _Layout):
            elements = [elements]
        self.elements = _as_list(elements, f"{name} elements", "elements, Rows and Columns")
        for item in self.elements:
            if not isinstance(item, Element | _Layout):
                raise ValidationError(f"{name} holds elements, Rows and Columns, got {type(item).__name__}")
        if ratio is not None:
            ratio = _as_list(ratio, f"{name} ratio", "positive numbers, one per element")
            if len(ratio) != len(self.elements) or any(
                isinstance(r, bool) or not isinstance(r, int | float) or r <= 0 for r in ratio
            ):
                raise ValidationError(
                    f"{name} ratio must give one positive number per element ({len(self.elements)}), got {ratio!r}"
                )
        self.ratio = ratio
        self.type = self.direction
        # Inner layouts of the other direction share the size across this one (a Row's Columns their height).
        inner = [item for item in self.elements if isinstance(item, _Layout) and item.direction != self.direction]
        matched = [getattr(item, self.across) for item in inner]
        if check_sizes and len(set(matched)) > 1:
            kind = type(inner[0]).__name__
            raise ValidationError(
                f"all {kind}s in a {name} must have the same {self.across}, got {kind}s of "
                f"{self.across}s {', '.join(map(str, matched))}: {self.size_hint}"
            )
        setattr(self, self.along, sum(_size(item, self.along) for item in self.elements))
        setattr(self, self.across, matched[0] if matched else 1)

    def get_elements(self) -> Iterator[Element]:
        """Every element inside, in order."""
        return iter_layout_elements(self.elements)

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "kind": type(self).__name__,
            "ratio": self.ratio,
            "elements": [layout_to_json(i) for i in self.elements],
        }

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, _Layout) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.elements)} items)"


def _size(item: Element | _Layout, size: str) -> int:
    """``item``'s ``width`` or ``height`` in cells (an element is one cell)."""
    return getattr(item, size) if isinstance(item, _Layout) else 1


class Row(_Layout):
    """Elements side by side (``ratio`` gives their relative widths).

    The Columns in a Row must have the same height (ValidationError, a ValueError, otherwise), as in
    the SDK. ``width`` is the number of cells across, ``height`` that of its Columns (1 without).
    """

    direction = "row"
    along, across = "width", "height"
    size_hint = "a Column's height is the number of elements it stacks (a Row inside it adds that Row's height)"

    def __init__(self, elements: list[Element | Column], ratio: list[int | float] | None = None) -> None:
        """Lay ``elements`` out in a row."""
        super().__init__(elements, ratio)


class Column(_Layout):
    """Elements one above the other (``ratio`` gives their relative heights).

    The Rows in a Column must have the same width (ValidationError, a ValueError, otherwise), as in
    the SDK. ``height`` is the number of cells down, ``width`` that of its Rows (1 without).
    """

    direction = "column"
    along, across = "height", "width"
    size_hint = (
        "a Row's width is the number of elements side by side in it (a Column inside it adds that Column's width)"
    )

    def __init__(self, elements: list[Element | Row], ratio: list[int | float] | None = None) -> None:
        """Lay ``elements`` out in a column."""
        super().__init__(elements, ratio)


def layout_to_json(item: Element | _Layout) -> dict[str, Any]:
    """JSON of an element or a Row/Column."""
    return item.to_json()


def layout_from_json(data: Mapping[str, Any]) -> Element | _Layout:
    """An element or a Row/Column from its JSON."""
    cls = {"Row": Row, "Column": Column}.get(data.get("kind"))  # type: ignore[arg-type]
    if cls is None:
        return Element.from_json(data)
    # Layouts saved before Rows and Columns checked their sizes load as they were saved.
    return cls._unchecked([layout_from_json(item) for item in data["elements"]], data.get("ratio"))


def iter_layout_elements(items: Iterable[Any]) -> Iterator[Element]:
    """Every element in ``items``, looking inside Rows, Columns and Dashboards, in order."""
    for item in items:
        if isinstance(item, _Layout):
            yield from iter_layout_elements(item.elements)
        else:
            yield item


class DashboardOrientation(_ReprEnum):
    """Whether a Dashboard's top level is a row or a column."""

    ROW = "row"
    COLUMN = "column"


def _dashboard_rows(content: Iterable[Any]) -> list[Any]:
    """A Dashboard's content as the rows it is laid out in, as the SDK describes it.

    Each lone element gets a row of its own, a Row stays a row, and Columns next to each other
    share a row (so a list of Columns still stands side by side).
    """
    rows: list[Any] = []
    columns: list[Column] = []
    for item in content:
        if isinstance(item, Column):
            columns.append(item)
            continue
        if columns:
            rows.append(Row._unchecked(columns))
            columns = []
        rows.append(item if isinstance(item, Row) else Row._unchecked([item]))
    if columns:
        rows.append(Row._unchecked(columns))
    return rows


def _dashboard_element_types() -> tuple[type, ...]:
    from flowdeck.elements.outputs import Image, Infographic, PlotlyPlot, RichText, Table

    return (PlotlyPlot, Image, Table, Infographic, RichText)


class Dashboard(OutputElement):
    """Output elements laid out in Rows and Columns, with optional filter inputs and an updater.

    As in the SDK, ``content`` is a list of Rows, Columns and elements, and each lone element is
    put in a row of its own (Columns next to each other share one). Only PlotlyPlot, Image, Table,
    Infographic and RichText elements go in a dashboard; anything else, and a dashboard without any
    element, is refused (ValidationError, a ValueError). Dashboard is deprecated in the SDK in
    favour of Cards.
    """

    def __init__(
        self,
        content: list[Any],
        title: str = "",
        description: str = "",
        orientation: DashboardOrientation | None = None,
        show_title: bool = True,
        show_description: bool = True,
        filters: list[InputElement] | None = None,
        updater: Any = None,
    ) -> None:
        """Create a dashboard of ``content``."""
        super().__init__(ElementType.DASHBOARD, {}, {}, title, description, show_title, show_description)
        # The size rule is for Rows and Columns a flow writer builds; this one only holds the content.
        items = (
            [content]
            if isinstance(content, Element | _Layout)
            else _as_list(content, f"Dashboard {title!r}: content", "elements, Rows and Columns")
        )
        self.content: Row | Column = Column._unchecked(_dashboard_rows(items))
        if not loading_saved():
            if next(self.content.get_elements(), None) is None:
                raise ValidationError(
                    f"Dashboard {title!r} has no content: give it at least one element "
                    "(a PlotlyPlot, Image, Table, Infographic or RichText), alone or in Rows and Columns"
                )
            allowed = _dashboard_element_types()
            for element in self.content.get_elements():
                if not isinstance(element, allowed):
                    raise ValidationError(
                        f"Dashboard {title!r} cannot hold {type(element).__name__} {element.title!r}: a dashboard "
                        "shows PlotlyPlot, Image, Table, Infographic and RichText elements; put inputs in its "
                        "filters=, or use a Card"
                    )
        self.orientation = DashboardOrientation.parse(orientation or DashboardOrientation.ROW, "orientation")
        self.filters = [] if filters is None else _as_list(filters, f"Dashboard {title!r}: filters", "input elements")
        for item in self.filters:
            if not isinstance(item, InputElement):
                raise ValidationError(f"Dashboard {title!r}: filters must be input elements, got {type(item).__name__}")
        self.updater = updater

    @property
    def has_updater(self) -> bool:
        """Whether the dashboard has an updater callback."""
        return self.updater is not None

    @property
    def updater_name(self) -> str | None:
        """The updater's name, if any."""
        return None if self.updater is None else getattr(self.updater, "__name__", str(self.updater))

    def get_elements(self) -> Iterator[Element]:
        """Every element of the dashboard."""
        return self.content.get_elements()

    def get_filters(self) -> Iterator[InputElement]:
        """The filter inputs."""
        return iter(self.filters)

    def update_item(self, element_title: str, new_element: Element) -> None:
        """Put ``new_element`` in place of the element titled ``element_title``."""

        def replace(layout: _Layout) -> bool:
            for position, item in enumerate(layout.elements):
                if isinstance(item, _Layout):
                    if replace(item):
                        return True
                elif item.title == element_title:
                    layout.elements[position] = new_element
                    return True
            return False

        if not replace(self.content):
            raise NotFoundError(f"Dashboard {self.title!r} has no element titled {element_title!r}")

    def to_json(self, delta: set[str] | None = None) -> dict[str, Any]:
        """The JSON form (``delta`` is accepted for compatibility; the whole dashboard is written)."""
        return super().to_json()

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "content": self.content.to_json(),
            "orientation": self.orientation.value,
            "filters": [item.to_json() for item in self.filters],
            "updater": callback_to_json(self.updater),
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        layout = layout_from_json(data["content"])
        dashboard = cls(
            list(layout.elements) if isinstance(layout, _Layout) else [layout],
            orientation=data.get("orientation", "row"),
            filters=[Element.from_json(item) for item in data.get("filters", [])],  # type: ignore[misc]
        )
        if isinstance(layout, _Layout):
            dashboard.content = layout  # as stored, whichever layout the dashboard was saved with
        dashboard.updater = callback_from_json(data.get("updater"))
        return dashboard
