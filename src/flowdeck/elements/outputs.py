"""Output elements: what a step shows the user (tables, plots, images, text, key figures)."""

from __future__ import annotations

import base64
import io
import json
import mimetypes
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import pandas as pd
import plotly.graph_objects as go
import plotly.utils

from flowdeck.elements.base import OutputElement, to_jsonable
from flowdeck.errors import ValidationError

__all__ = ["Image", "Infographic", "PlotlyPlot", "RichText", "Table"]


class Table(OutputElement):
    """A DataFrame shown as a table, optionally downloadable.

    The JSON form keeps at most ``max_rows`` rows (``total_rows`` records how many there were), so
    a large frame does not bloat the page; save the full frame as an output to keep it whole.
    """

    DEFAULT_MAX_ROWS: ClassVar[int] = 10_000

    def __init__(
        self,
        content: pd.DataFrame | pd.Series | None = None,
        title: str = "",
        downloadable: bool = False,
        links: list[str] | None = None,
        description: str = "",
        *,
        max_rows: int | None = None,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a table showing ``content`` (an empty frame when None)."""
        super().__init__(title, description, id=id, **extra)
        if content is None:
            content = pd.DataFrame()
        elif isinstance(content, pd.Series):
            content = content.to_frame()
        elif not isinstance(content, pd.DataFrame):
            raise ValidationError(
                f"Table {self.title!r}: content must be a pandas DataFrame, got {type(content).__name__}; "
                "wrap it with pandas.DataFrame(...)"
            )
        self.content: pd.DataFrame = content
        self.downloadable = bool(downloadable)
        if links is not None and (isinstance(links, str) or not all(isinstance(link, str) for link in links)):
            raise ValidationError(
                f"Table {self.title!r}: links must be a list of link strings, got {links!r}"
            )
        self.links: list[str] | None = None if links is None else list(links)
        if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 0):
            raise ValidationError(
                f"Table {self.title!r}: max_rows must be a whole number >= 0, got {max_rows!r}"
            )
        self.max_rows = self.DEFAULT_MAX_ROWS if max_rows is None else max_rows
        self.total_rows = len(content)

    @property
    def truncated(self) -> bool:
        """Whether the JSON form leaves rows out."""
        return self.total_rows > min(len(self.content), self.max_rows)

    def _fields_to_json(self) -> dict[str, Any]:
        frame = self.content.iloc[: self.max_rows]
        data: dict[str, Any] = {
            "columns": [to_jsonable(column) for column in frame.columns],
            "dtypes": [str(dtype) for dtype in frame.dtypes],
            "records": [
                [to_jsonable(cell) for cell in row] for row in frame.itertuples(index=False, name=None)
            ],
            "index": None,
            "downloadable": self.downloadable,
            "links": self.links,
            "max_rows": self.max_rows,
            "total_rows": self.total_rows,
        }
        index = frame.index
        if not (
            isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
        ):
            data["index"] = {
                "name": to_jsonable(index.name),
                "dtype": str(index.dtype),
                "values": [to_jsonable(value) for value in index],
            }
        return data

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        columns = data["columns"]
        dtypes = data["dtypes"]
        records = data["records"]
        series = [_restore_column([row[i] for row in records], dtypes[i]) for i in range(len(columns))]
        frame = (
            pd.concat(series, axis=1, ignore_index=True)
            if series
            else pd.DataFrame(index=range(len(records)))
        )
        frame.columns = pd.Index(columns)
        if data.get("index"):
            spec = data["index"]
            index = pd.Index(_restore_column(spec["values"], spec["dtype"]), name=spec["name"])
            frame.index = index
        table = cls(
            frame,
            data["title"],
            data["downloadable"],
            data["links"],
            data["description"],
            max_rows=data["max_rows"],
            id=data["id"],
            **data["extra"],
        )
        table.total_rows = data["total_rows"]
        return table


def _restore_column(values: list[Any], dtype: str) -> pd.Series:
    """Rebuild a column of the given dtype from its JSON values (best effort for unusual dtypes)."""
    raw = pd.Series(values, dtype=object)
    try:
        if dtype.startswith("datetime64"):
            aware = "," in dtype
            parsed = pd.to_datetime(raw, format="ISO8601", utc=aware)
            return parsed.astype(dtype)
        if dtype.startswith("timedelta64"):
            return pd.to_timedelta(raw).astype(dtype)
        if dtype in {"float64", "float32", "float16"}:
            return raw.map(lambda v: float("nan") if v is None else float(v)).astype(dtype)
        return raw.astype(dtype)
    except (TypeError, ValueError):
        # An exotic dtype (a period, an interval, a custom extension) comes back as objects.
        return raw


class PlotlyPlot(OutputElement):
    """A Plotly figure (a ``plotly.graph_objects.Figure`` or its dict form)."""

    def __init__(
        self,
        figure: go.Figure | Mapping[str, Any] | None = None,
        title: str = "",
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a plot of ``figure`` (an empty figure when None)."""
        super().__init__(title, description, id=id, **extra)
        if figure is None:
            figure = {"data": [], "layout": {}}
        if isinstance(figure, go.Figure):
            plain = figure.to_plotly_json()
        elif isinstance(figure, Mapping):
            try:
                go.Figure(dict(figure))
            except (ValueError, TypeError) as exc:
                raise ValidationError(
                    f"PlotlyPlot {self.title!r}: the figure dict is not a valid figure: {exc}"
                ) from exc
            plain = dict(figure)
        elif hasattr(figure, "to_plotly_json"):
            plain = figure.to_plotly_json()
        else:
            raise ValidationError(
                f"PlotlyPlot {self.title!r}: figure must be a plotly Figure or a dict, "
                f"got {type(figure).__name__}"
            )
        self.figure = figure
        # The JSON-safe form (numpy arrays, dates, NaN handled by plotly's own encoder).
        self.figure_json: dict[str, Any] = json.loads(json.dumps(plain, cls=plotly.utils.PlotlyJSONEncoder))

    def to_figure(self) -> go.Figure:
        """Return the figure as a ``plotly.graph_objects.Figure``."""
        return go.Figure(self.figure_json)

    @property
    def trace_types(self) -> list[str]:
        """The type of each trace, in order (``scatter`` when a trace does not say)."""
        return [trace.get("type", "scatter") for trace in self.figure_json.get("data", [])]

    def _fields_to_json(self) -> dict[str, Any]:
        return {"figure": self.figure_json}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(data["figure"], data["title"], data["description"], id=data["id"], **data["extra"])


_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)


def detect_image_mime(data: bytes, filename: str | None = None) -> str:
    """Return the MIME type of image bytes, from their content (the file name only as a fallback)."""
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    if filename:
        guessed, _ = mimetypes.guess_type(filename)
        if guessed and guessed.startswith("image/"):
            return guessed
    return "application/octet-stream"


class Image(OutputElement):
    """An image, from bytes, a file path or a figure with ``savefig`` (matplotlib); kept as bytes."""

    def __init__(
        self,
        content: bytes | str | os.PathLike[str] | Any = b"",
        title: str = "",
        alt: str = "",
        description: str = "",
        *,
        mime: str | None = None,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create an image; ``mime`` is detected from the content unless given."""
        super().__init__(title, description, id=id, **extra)
        filename: str | None = None
        if isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
        elif isinstance(content, io.BytesIO):
            data = content.getvalue()
        elif isinstance(content, str | os.PathLike):
            path = Path(content)
            if not path.is_file():
                raise ValidationError(f"Image {self.title!r}: no image file at {str(path)!r}")
            data, filename = path.read_bytes(), path.name
        elif hasattr(content, "savefig"):
            buffer = io.BytesIO()
            content.savefig(buffer, format="png")
            data = buffer.getvalue()
        else:
            raise ValidationError(
                f"Image {self.title!r}: content must be bytes, a file path or a figure, "
                f"got {type(content).__name__}"
            )
        self.content: bytes = data
        self.alt = alt or ""
        self.mime = mime or detect_image_mime(data, filename)

    def data_uri(self) -> str:
        """Return the image as a ``data:`` URI for an ``<img src=...>``."""
        return f"data:{self.mime};base64,{base64.b64encode(self.content).decode('ascii')}"

    def _fields_to_json(self) -> dict[str, Any]:
        return {"mime": self.mime, "alt": self.alt, "data": base64.b64encode(self.content).decode("ascii")}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        try:
            content = base64.b64decode(data["data"], validate=True)
        except ValueError as exc:
            raise ValidationError(
                f"Image {data.get('title')!r}: the stored data is not valid base64"
            ) from exc
        return cls(
            content,
            data["title"],
            data["alt"],
            data["description"],
            mime=data["mime"],
            id=data["id"],
            **data["extra"],
        )


class RichText(OutputElement):
    """Text written in Markdown."""

    def __init__(
        self,
        markdown: str = "",
        title: str = "",
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a block of Markdown text."""
        super().__init__(title, description, id=id, **extra)
        if not isinstance(markdown, str):
            raise ValidationError(
                f"RichText {self.title!r}: markdown must be text, got {type(markdown).__name__}"
            )
        self.markdown = markdown

    def _fields_to_json(self) -> dict[str, Any]:
        return {"markdown": self.markdown}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(data["markdown"], data["title"], data["description"], id=data["id"], **data["extra"])


class Infographic(OutputElement):
    """A key figure: a value with an optional unit, caption and trend.

    ``trend`` is ``"up"``, ``"down"``, ``"flat"`` or a signed number (a change); None for none.
    """

    TRENDS: ClassVar[tuple[str, ...]] = ("up", "down", "flat")

    def __init__(
        self,
        title: str = "",
        value: Any = None,
        unit: str | None = None,
        caption: str | None = None,
        trend: str | float | None = None,
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a key figure showing ``value``."""
        super().__init__(title, description, id=id, **extra)
        plain = to_jsonable(value)
        if isinstance(plain, list | dict):
            raise ValidationError(
                f"Infographic {self.title!r}: value must be a number or text, got {value!r}"
            )
        self.value = plain
        self.unit = unit
        self.caption = caption
        trend_plain = to_jsonable(trend)
        if trend_plain is not None and not (
            trend_plain in self.TRENDS
            or (isinstance(trend_plain, int | float) and not isinstance(trend_plain, bool))
        ):
            raise ValidationError(
                f"Infographic {self.title!r}: trend must be one of {', '.join(self.TRENDS)} "
                f"or a number, got {trend!r}"
            )
        self.trend = trend_plain

    def _fields_to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "caption": self.caption, "trend": self.trend}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["title"],
            data["value"],
            data["unit"],
            data["caption"],
            data["trend"],
            data["description"],
            id=data["id"],
            **data["extra"],
        )
