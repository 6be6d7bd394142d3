"""A readable plain-text rendering of a page, for terminals (``flowdeck page``)."""

from __future__ import annotations

import io
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
    DataSource,
    DateTimeRange,
    Dropdown,
    Element,
    Image,
    Infographic,
    NumericRange,
    PlotlyPlot,
    RichText,
    Table,
    TextInput,
)
from flowdeck.page.page import Page

__all__ = ["describe_element", "render_page_text"]

_NO_VALUE = "(not set)"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _plain(value: Any) -> str:
    return _NO_VALUE if value is None else str(value)


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
        low, high = element.typed_value()
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
    if isinstance(element, Infographic):
        parts = [_plain(element.value) + (f" {element.unit}" if element.unit else "")]
        if element.trend is not None:
            arrows = {"up": "up", "down": "down", "flat": "flat"}
            trend = element.trend
            parts.append(f"trend {arrows.get(trend, f'{trend:+g}') if not isinstance(trend, str) else trend}")
        if element.caption:
            parts.append(element.caption)
        return ", ".join(parts)
    return element.kind


def _frame_table(frame: pd.DataFrame, max_rows: int) -> RichTable:
    table = RichTable(show_header=True, show_edge=False, pad_edge=False)
    show_index = not isinstance(frame.index, pd.RangeIndex)
    if show_index:
        table.add_column(str(frame.index.name or ""), style="dim")
    for column, dtype in zip(frame.columns, frame.dtypes, strict=True):
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        table.add_column(str(column), justify="right" if numeric else "left")
    for label, row in zip(frame.index[:max_rows], frame.head(max_rows).itertuples(index=False), strict=True):
        cells = ["" if pd.isna(cell) else str(cell) for cell in row]
        table.add_row(*([str(label)] if show_index else []), *cells)
    return table


def _element_renderable(element: Element, max_rows: int) -> RenderableType:
    kind = element.kind
    heading = Text.assemble((element.title or "(untitled)", "bold"), f"  [{kind}]")
    if getattr(element, "required", False):
        heading.append("  required")
    lines: list[RenderableType] = [heading]
    if element.description:
        lines.append(Text(element.description, style="italic"))
    if isinstance(element, RichText):
        lines.append(Padding(Markdown(element.markdown), (0, 0, 0, 2)))
    else:
        lines.append(Text("  " + describe_element(element)))
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
    console.print(Text(page.title or "(untitled page)", style="bold"))
    if not page.sections:
        console.print("(empty page)")
    for section in page.sections:
        console.print(Rule(Text(section.title), characters="="))
        if section.description:
            console.print(Text(section.description))
        for card in section.content:
            body: list[RenderableType] = [Text(card.description)] if card.description else []
            body.extend(_element_renderable(element, max_rows) for element in card.content)
            if not card.content:
                body.append(Text("(no elements)"))
            console.print(
                Panel(Group(*body), title=Text(card.title) if card.title else None, title_align="left")
            )
    return buffer.getvalue()
