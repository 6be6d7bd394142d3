"""The flow behind the element gallery of docs/elements.md: each element on a card of its own,
titled with the element's class name (``make_gallery.py`` photographs each card)."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from flowdeck import (
    Button,
    Card,
    Column,
    ConnectionType,
    Dashboard,
    DataSource,
    DataSourceDropdown,
    DateTimeRange,
    Dropdown,
    Flow,
    Image,
    InfographData,
    Infographic,
    MultiDropdown,
    NumericRange,
    NumericRangeSlider,
    NumericSlider,
    Page,
    PlotlyPlot,
    RichText,
    Section,
    Segment,
    SegmentedControl,
    SingleDropdown,
    Step,
    StepType,
    StoreInterface,
    Table,
    TextInput,
)

SALES = pd.DataFrame({"region": ["north", "south", "east", "west"], "amount": [100, 250, 40, 180]})


def _figure(title: str | None = None) -> go.Figure:
    figure = go.Figure([go.Bar(x=list(SALES["region"]), y=list(SALES["amount"]), marker_color="#4f6bed")])
    figure.update_layout(title=title, height=240, margin={"l": 40, "r": 10, "t": 30 if title else 10, "b": 30})
    return figure


def _picture(width: int = 240, height: int = 120) -> io.BytesIO:
    """A small PNG bar chart, drawn pixel by pixel (no imaging library needed)."""
    bars = [(20 + i * 55, 35 + i * 55, 110 - int(a) // 3) for i, a in enumerate(SALES["amount"])]
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            inside = any(left <= x < right and top <= y < 110 for left, right, top in bars)
            row += bytes((79, 107, 237)) if inside else bytes((238, 241, 251))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
    return io.BytesIO(png + chunk(b"IEND", b""))


def elements(user: str) -> list[Any]:
    """One element of every kind, in the order of docs/elements.md (``user``'s connections offered)."""
    return [
        DataSource(title="Sales file", options=["csv", "xlsx"], description="A CSV or Excel file"),
        Dropdown(["north", "south", "east"], ["south"], title="Region"),
        SingleDropdown(["daily", "weekly", "monthly"], "weekly", title="Period"),
        MultiDropdown(["north", "south", "east", "west"], ["north", "west"], title="Regions"),
        DataSourceDropdown(user, [ConnectionType.postgresql, ConnectionType.sqlite], title="Warehouse"),
        TextInput("Q3 review", "A name for the report", "Report name"),
        NumericRange(0, 100, 10, 90, title="Amount range"),
        NumericSlider(0, 10, 4, title="Months ahead"),
        NumericRangeSlider(0, 10, 2, 8, title="Score band"),
        DateTimeRange(dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 31), title="Dates"),
        Table(SALES, title="Sales"),
        PlotlyPlot(fig=_figure(), title="Sales by region"),
        Image(_picture(), title="A picture", extension="png"),
        RichText("**Rich** text in *Markdown*, with a [link](https://example.com).", title="Notes"),
        Infographic(
            "Key figures",
            data=[
                InfographData("Revenue", "570", "up 4%", unit="k$"),
                InfographData("Churn", "12", "down 1 pt", unit="%"),
            ],
        ),
        Infographic("One figure", data=[InfographData("Orders", "1,204", "this month")]),
        Button(title="Export", label="Export to Excel"),
        SegmentedControl(
            title="Views",
            segments=[
                Segment("Summary", "Summary", [RichText("The summary tab.")]),
                Segment("Details", "Details", [RichText("The details tab.")]),
            ],
        ),
        Dashboard([Column([PlotlyPlot(fig=_figure("Sales"))]), RichText("A note beside the plot.")], title="Overview"),
    ]


#: card title -> the element it shows (InfographData is shown inside an Infographic)
CARDS = [
    "DataSource", "Dropdown", "SingleDropdown", "MultiDropdown", "DataSourceDropdown", "TextInput", "NumericRange",
    "NumericSlider", "NumericRangeSlider", "DateTimeRange", "Table", "PlotlyPlot", "Image", "RichText", "Infographic",
    "InfographData", "Button", "SegmentedControl", "Dashboard",
]  # fmt: skip


class Gallery(Step):
    """Puts each element on its own card."""

    def run(self, flow_metadata: Any) -> None:
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        for title, element in zip(CARDS, elements(store.user), strict=True):
            page.add_card_to_section(Card(title, [element]), "Elements")
        store.update_page(page)


gallery = Flow(name="Element gallery", description="Each element on a card of its own")
gallery.chain([Gallery(title="Gallery", type=StepType.INPUT, page=Page("Gallery", [Section("Elements", [])]))])
