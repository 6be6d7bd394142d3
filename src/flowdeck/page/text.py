"""A readable plain-text rendering of a page, for terminals (``flowdeck page``)."""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from flowdeck.elements import (
    Button,
    Dashboard,
    DataSource,
    DateTimeRange,
    Dropdown,
    Element,
    Image,
    InfographData,
    Infographic,
    NumericRange,
    PlotlyPlot,
    RichText,
    SegmentedControl,
    Table,
    TextInput,
)
from flowdeck.page.page import Card, Container, Page, _walk

__all__ = ["describe_element", "render_cards_text", "render_page_text", "terminal_safe"]

_NO_VALUE = "(not set)"

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional
# overrides and isolates that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on (escape sequences, controls) shown as ``\\xNN``.

    Page content is written by flows and their users; printed raw, an ``ESC [`` sequence could
    clear the screen, retitle the window or hide text.
    """
    return _UNSAFE.sub(_escape_char, text)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _plain(value: Any) -> str:
    return _NO_VALUE if value is None else str(value)


def _text(value: Any, style: str = "") -> Text:
    """User text as a literal rich ``Text`` (never markup), made terminal-safe."""
    return Text(terminal_safe(str(value)), style=style)


def describe_element(element: Element) -> str:
    """Return a one-line summary of an element's value or content (without its title)."""
    if isinstance(element, DataSource):
        upload = element.value
        accepts = ", ".join(element.options) or "any file"
        if upload is None:
            return f"no file uploaded (accepts {accepts})"
        size = _size(upload["size"])
        return f"{upload['filename']}, {size}, uploaded {upload['uploaded_at']} (accepts {accepts})"
    if isinstance(element, Dropdown):
        value = element.typed_value()
        shown = (", ".join(map(str, value)) or _NO_VALUE) if element.multiselect else _plain(value)
        return f"{shown}  (options: {', '.join(map(str, element.options)) or 'none'})"
    if isinstance(element, TextInput):
        return repr(element.value) if element.value else _NO_VALUE
    if isinstance(element, NumericRange | DateTimeRange):
        value = element.typed_value()
        low, high = value if isinstance(value, tuple) else (value, value)
        if isinstance(value, tuple) is False:
            return f"{low}  (range {element.min_range} to {element.max_range})"
        chosen = "" if element.value is not None else ", full range"
        return f"{low} to {high}  (range {element.min_range} to {element.max_range}{chosen})"
    if isinstance(element, Table):
        rows, columns = element.content.shape
        shown = f"{element.total_rows} rows x {columns} columns"
        return shown + (f", first {rows} kept" if element.truncated else "")
    if isinstance(element, PlotlyPlot):
        types = element.trace_types
        kinds = ", ".join(dict.fromkeys(types)) or "no traces"
        layout_title = element.figure_json.get("layout", {}).get("title")
        if isinstance(layout_title, dict):
            layout_title = layout_title.get("text")
        titled = f" titled {layout_title!r}" if layout_title else ""
        return f"plot{titled}: {len(types)} trace{'s' if len(types) != 1 else ''} ({kinds})"
    if isinstance(element, Image):
        alt = f", {element.alt!r}" if element.alt else ""
        return f"image {element.mime}, {_size(len(element.content))}{alt}"
    if isinstance(element, RichText):
        return element.markdown
    if isinstance(element, InfographData):
        parts = [f"{element.label}: {element.main_text}" + (f" {element.unit}" if element.unit else "")]
        if element.supporting_text:
            parts.append(element.supporting_text)
        parts.append(element.infograph_type.value)
        return ", ".join(parts)
    if isinstance(element, Infographic):
        items = [describe_element(item) for item in element.get_elements()]
        return "; ".join(items) or "no figures"
    if isinstance(element, Button):
        return f"button {element.label or element.title!r}"
    if isinstance(element, SegmentedControl):
        labels = [segment.label for segment in element.segments]
        active = labels[element.active_segment_index]
        return f"tabs {', '.join(map(repr, labels))} (showing {active!r})"
    if isinstance(element, Dashboard):
        return f"dashboard of {len(list(element.get_elements()))} elements"
    return element.kind


def _frame_table(frame: pd.DataFrame, max_rows: int) -> RichTable:
    table = RichTable(show_header=True, show_edge=False, pad_edge=False)
    show_index = not isinstance(frame.index, pd.RangeIndex)
    if show_index:
        table.add_column(_text(frame.index.name or ""), style="dim")
    for column, dtype in zip(frame.columns, frame.dtypes, strict=True):
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        table.add_column(_text(column), justify="right" if numeric else "left")
    for label, row in zip(frame.index[:max_rows], frame.head(max_rows).itertuples(index=False), strict=True):
        cells = [_text("" if pd.isna(cell) else cell) for cell in row]
        table.add_row(*([_text(label)] if show_index else []), *cells)
    return table


def _element_renderable(element: Element, max_rows: int) -> RenderableType:
    kind = element.kind
    heading = Text.assemble((terminal_safe(element.title or "(untitled)"), "bold"), f"  [{kind}]")
    if getattr(element, "required", False):
        heading.append("  required")
    lines: list[RenderableType] = [heading]
    if element.description:
        lines.append(_text(element.description, style="italic"))
    if isinstance(element, RichText):
        lines.append(Padding(Markdown(terminal_safe(element.markdown)), (0, 0, 0, 2)))
    else:
        lines.append(_text("  " + describe_element(element)))
    if isinstance(element, Table) and len(element.content.columns):
        lines.append(_frame_table(element.content, max_rows))
        hidden = element.total_rows - min(max_rows, len(element.content))
        if hidden > 0:
            lines.append(Text(f"  ... {hidden} more row{'s' if hidden != 1 else ''}"))
    return Group(*lines)


def render_page_text(page: Page, max_rows: int = 10, width: int = 100) -> str:
    """Return ``page`` as plain text: sections, cards, and each element with its title and value.

    Tables show at most ``max_rows`` rows; plots are summarised by their trace types.
    """
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, highlight=False)
    console.print(_text(page.title or "(untitled page)", style="bold"))
    if not page.sections:
        console.print("(empty page)")
    for section in page.sections:
        console.print(Rule(_text(section.title), characters="="))
        if section.description:
            console.print(_text(section.description))
        for card in section.content:
            console.print(_card_panel(card, max_rows))
    return terminal_safe(buffer.getvalue())  # what the renderables above did not cover, too


def _card_panel(card: Card, max_rows: int) -> Panel:
    body: list[RenderableType] = [_text(card.description)] if card.description else []
    if isinstance(card, Container):
        body.append(Text("(container, " + ("shown)" if card.visible else "hidden)")))
    body.extend(_element_renderable(element, max_rows) for element in _walk(card.content))
    if not card.content:
        body.append(Text("(no elements)"))
    return Panel(Group(*body), title=_text(card.title) if card.title else None, title_align="left")


def render_cards_text(cards: list[Card], max_rows: int = 10, width: int = 100) -> str:
    """Return ``cards`` as plain text, each as :func:`render_page_text` shows it on its page."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, highlight=False)
    for card in cards:
        console.print(_card_panel(card, max_rows))
    return terminal_safe(buffer.getvalue())
