"""Output elements: what a step shows the user (tables, plots, images, text, key figures)."""

from __future__ import annotations

import base64
import html
import io
import json
import mimetypes
import numbers
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.utils

from flowdeck.elements.base import (
    DEFAULT,
    Element,
    ElementHorizontalPosition,
    ElementOverflowBehavior,
    ElementType,
    ElementVerticalPosition,
    OutputElement,
    StrictInit,
    _ReprEnum,
    check_bool,
    check_keywords,
    loading_saved,
    or_default,
    to_jsonable,
)
from flowdeck.elements.callbacks import callback_from_json, callback_to_json
from flowdeck.elements.lazy_names import data_grid_name, with_data_grid_names
from flowdeck.errors import NotFoundError, UnsupportedTypeError, ValidationError

if TYPE_CHECKING:
    from flowdeck.elements.data_grid import (
        ColumnField,
        ColumnGroup,
        ColumnGroupingModel,
        DataGridFeatures,
        GridColumn,
    )

__all__ = [
    "PREDICT_DEFAULT_CELL_COLOR",
    "PREDICT_DEFAULT_TEXT_COLOR",
    "PREDICT_ERROR_CELL_COLOR",
    "PREDICT_ERROR_TEXT_COLOR",
    "PREDICT_PLOT_DEFAULT_COLORWAY",
    "PREDICT_PLOT_DIVERGING_COLORSCALE",
    "PREDICT_PLOT_SEQUENTIAL_COLORSCALE",
    "PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE",
    "PREDICT_SUCCESS_CELL_COLOR",
    "PREDICT_SUCCESS_TEXT_COLOR",
    "PREDICT_WARNING_CELL_COLOR",
    "PREDICT_WARNING_TEXT_COLOR",
    "ColumnField",
    "ColumnGroup",
    "ColumnGroupingModel",
    "DataGridFeatures",
    "GridColumn",
    "Image",
    "ImageSize",
    "InfographData",
    "InfographDataType",
    "Infographic",
    "InfographicOrientation",
    "PlotlyPlot",
    "RichText",
    "RichTextClickable",
    "RowAction",
    "RowActionType",
    "Table",
    "TableSelectionType",
]


#: Cell and text colours of the platform's palette, for ``Table(cell_colors=, text_colors=)``.
PREDICT_SUCCESS_TEXT_COLOR = "#1B5E20"
PREDICT_SUCCESS_CELL_COLOR = "#E8F5E9"
PREDICT_ERROR_TEXT_COLOR = "#B71C1C"
PREDICT_ERROR_CELL_COLOR = "#FFEBEE"
PREDICT_WARNING_TEXT_COLOR = "#E65100"
PREDICT_WARNING_CELL_COLOR = "#FFF3E0"
PREDICT_DEFAULT_TEXT_COLOR = "#212121"
PREDICT_DEFAULT_CELL_COLOR = "#FFFFFF"


class RowActionType(_ReprEnum):
    """What a Table row action does."""

    UPDATE = "update"
    REDIRECT = "redirect"
    UPDATE_REDIRECT = "update_redirect"


class TableSelectionType(_ReprEnum):
    """How ``selected_rows`` reads: INCLUDE lists the selected rows, EXCLUDE the rows not selected."""

    INCLUDE = "include"
    EXCLUDE = "exclude"


class RowAction(StrictInit):
    """An action offered on each row of a Table."""

    def __init__(self, title: str, description: str, type: RowActionType) -> None:
        """Create a row action titled ``title``."""
        self.title = title
        self.description = description
        self.action_type = RowActionType.parse(type, "RowAction type")

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"title": self.title, "description": self.description, "type": self.action_type.value}

    def __eq__(self, other: object) -> bool:
        return self.to_json() == other.to_json() if isinstance(other, RowAction) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


def __getattr__(name: str) -> Any:
    """The data-grid models, imported on first use (see :mod:`flowdeck.elements.lazy_names`)."""
    return data_grid_name(__name__, name)


def __dir__() -> list[str]:
    """The module's names, the data-grid models included."""
    return with_data_grid_names(globals())


def _checked_features(features: object, title: str) -> DataGridFeatures | None:
    """``features`` if it is None or a DataGridFeatures, else a ValidationError naming the table."""
    if features is None:
        return None
    from flowdeck.elements.data_grid import DataGridFeatures

    if not isinstance(features, DataGridFeatures):
        raise ValidationError(
            f"Table {title!r}: data_grid_features must be a DataGridFeatures, got {type(features).__name__} "
            "(DataGridFeatures.model_validate(...) builds one from a dict)"
        )
    return features


#: The Table parameters that are flags (True or False), checked as such by the constructor.
_TABLE_FLAGS = (
    "downloadable",
    "filters_active",
    "searchable",
    "missing_values",
    "show_filter",
    "editable",
    "selectable",
    "persist_as_json",
)

#: Table options kept as they are given (JSON-safe values), in the constructor's order.
_TABLE_OPTIONS = (
    "filters_active",
    "cell_colors",
    "text_colors",
    "column_descriptions",
    "searchable",
    "missing_values",
    "notes",
    "show_filter",
    "max_table_rows_to_display",
    "xlsx_config",
    "editable",
    "max_table_row_height",
    "markdown_columns",
    "missing_value_text",
    "editable_columns",
    "selectable",
    "column_formatters",
    "info_content",
    "column_info_content",
    "persist_as_json",
)


def _plain_option(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {str(column): [to_jsonable(cell) for cell in value[column]] for column in value.columns}
    return to_jsonable(value)


class Table(OutputElement):
    """A DataFrame (or Series, Dataset asset or openpyxl Workbook) shown as a table, optionally downloadable.

    The JSON form keeps at most ``max_rows`` rows (``total_rows`` records how many there were), so
    a large frame does not bloat the page. A page stored with ``update_page`` keeps a bigger table
    whole apart from the page (an Arrow output of the step) and shows its first rows; such a table
    read back from the store (``get_page``, ``get_element``) loads its whole frame on the first
    :meth:`get_df` or :meth:`get_selected_data` call, through the store that read it.
    ``max_rows`` (default 10,000) is the one keyword taken besides the SDK's parameters.
    A MultiIndex (rows or columns) round-trips through the JSON form exactly.
    """

    DEFAULT_MAX_ROWS: ClassVar[int] = 10_000

    def __init__(
        self,
        content: pd.DataFrame | pd.Series | Any,
        downloadable: bool = False,
        filters_active: bool = False,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        cell_colors: pd.DataFrame | None = None,
        text_colors: pd.DataFrame | None = None,
        column_descriptions: dict[str, str] | None = None,
        searchable: bool = True,
        missing_values: bool = False,
        notes: list[str] | None = None,
        links: list[str] | None = None,
        show_filter: bool = False,
        max_table_rows_to_display: int = 2500,
        xlsx_config: dict[str, Any] | None = None,
        editable: bool = True,
        max_table_row_height: int = 300,
        markdown_columns: list[str] | bool | None = None,
        missing_value_text: str | None = None,
        editable_columns: list[str] | bool | None = True,
        row_actions: list[Any] | None = None,
        selectable: bool = False,
        selected_rows: list[int] | None = None,
        selection_type: TableSelectionType = DEFAULT,
        column_formatters: dict[str, str] | None = None,
        on_edit_update: Any = None,
        on_row_select: Any = None,
        data_grid_features: DataGridFeatures | None = None,
        reference_id: str | None = "",
        info_content: str | None = None,
        column_info_content: dict[str, str] | None = None,
        persist_as_json: bool = False,
        **kwargs: Any,
    ) -> None:
        """Create a table showing ``content``."""
        check_keywords("Table", kwargs, ["max_rows"], Table.__init__)
        super().__init__(
            ElementType.TABLE,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            reference_id=reference_id or "",
        )
        self.content: pd.DataFrame = _table_content(content, self.title)
        options = dict(locals())
        for name in _TABLE_FLAGS:
            options[name] = check_bool(options[name], name, f"Table {self.title!r}")
        self.downloadable = options["downloadable"]
        self.links: list[str] | None = _checked_links(links, self.title)
        for name in _TABLE_OPTIONS:
            setattr(self, name, _plain_option(options[name]))
        self.row_actions = _listed(row_actions, "row_actions", "RowActions or row-action callbacks", self.title)
        self.selection_type = TableSelectionType.parse(
            or_default(selection_type, TableSelectionType.INCLUDE), "Table selection_type"
        )
        self.selected_rows = [] if selected_rows is None else selected_rows
        self.on_edit_update = on_edit_update
        self.on_row_select = on_row_select
        self.data_grid_features = _checked_features(data_grid_features, self.title)
        max_rows = kwargs.get("max_rows")
        if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 0):
            raise ValidationError(f"Table {self.title!r}: max_rows must be a whole number >= 0, got {max_rows!r}")
        self.max_rows = self.DEFAULT_MAX_ROWS if max_rows is None else max_rows
        self.persistence = None
        self.cell_color_persistence = None
        self.text_color_persistence = None
        self.buttons: list[Any] = []

    @property
    def content(self) -> pd.DataFrame:
        """The frame the table shows."""
        return self._content

    @content.setter
    def content(self, frame: pd.DataFrame) -> None:
        # New content replaces what a page read back from storage held: its row count, and any big
        # table stored for it (the page then shows this frame, paged again only if it is big).
        self._content = frame
        self.total_rows = len(frame)
        self._full_frame: pd.DataFrame | None = None
        self._frame_loader: Callable[[], pd.DataFrame] | None = None
        extra = getattr(self, "extra", None)
        if extra is not None:
            extra.pop("paged", None)

    @property
    def conditional_formatting_rules(self) -> dict[str, str] | None:
        """The data grid's conditional formatting rules, if any."""
        features = self.data_grid_features
        return None if features is None else features.conditional_formatting_rules

    @property
    def truncated(self) -> bool:
        """Whether the JSON form leaves rows out."""
        return self.total_rows > min(len(self.content), self.max_rows)

    def _is_paged(self) -> bool:
        """Whether the table was read back from a stored page that keeps its whole frame apart (a big table)."""
        return bool(self.extra.get("paged"))

    def _attach_frame_loader(self, loader: Callable[[], pd.DataFrame]) -> None:
        """Let :meth:`get_df` load the whole frame of this big table with ``loader`` (on first use, once).

        The store attaches it to each big table of a page it reads back: ``loader`` reads the frame the
        page refers to, from the run the page was read from, for the user who read it.
        """
        self._frame_loader = loader
        self._full_frame = None

    def get_df(self) -> pd.DataFrame:
        """Returns the Table Element's persisted data as a pandas.Dataframe.

        That is the whole frame, also for a big table read back from the store (its page JSON keeps
        only its first rows): the frame stored apart is loaded on the first call and then kept.
        ``NotFoundError`` when such a table was rebuilt from JSON without the store (nothing to load
        it from) or its stored frame is gone or not visible to the user who read it.
        """
        if not self._is_paged():
            return self.content
        if self._full_frame is None:
            if self._frame_loader is None:
                raise NotFoundError(
                    f"Table {self.title!r} keeps {self.total_rows} rows apart from its page JSON, which holds only "
                    f"its first {len(self.content)}; it was built from JSON without the store, so its whole "
                    "frame cannot be loaded: read the table with StoreInterface.get_element(...) or get_page()"
                )
            frame = self._frame_loader()
            if not isinstance(frame, pd.DataFrame):
                raise NotFoundError(f"Table {self.title!r}: its stored frame is not a DataFrame")
            self._full_frame = frame
        return self._full_frame

    def _row_count(self) -> int:
        """How many rows :meth:`get_df` has (without loading a big table's frame)."""
        return self.total_rows if self._is_paged() else len(self.content)

    @property
    def selected_rows(self) -> list[int]:
        """The selected row positions (or, with ``selection_type`` EXCLUDE, the rows left out).

        Assigning checks them as :meth:`set_selected_rows` does: whole numbers, each a row of the table.
        """
        return self._selected_rows

    @selected_rows.setter
    def selected_rows(self, rows: Iterable[int]) -> None:
        self._selected_rows = self._checked_rows(rows)

    def _checked_rows(self, rows: Any) -> list[int]:
        """``rows`` as a list of positions, each in the table; ValidationError otherwise."""
        what = "selected_rows must be a list of row positions (whole numbers from 0)"
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
            raise ValidationError(f"Table {self.title!r}: {what}, got {type(rows).__name__} {rows!r}")
        positions: list[int] = []
        for row in rows:
            whole = isinstance(row, numbers.Integral) or (isinstance(row, numbers.Real) and float(row).is_integer())
            if isinstance(row, bool | np.bool_) or not whole:
                raise ValidationError(f"Table {self.title!r}: {what}, got {row!r} among them")
            positions.append(int(row))
        count = self._row_count()
        for row in positions:
            if not 0 <= row < count:
                raise ValidationError(f"Table {self.title!r}: row {row} is out of range (the table has {count} rows)")
        return positions

    def get_dtypes(self, _df: pd.DataFrame) -> dict[str, str]:
        """Each column's dtype, by column name."""
        return {str(column): str(dtype) for column, dtype in _df.dtypes.items()}

    def set_selected_rows(self, selected_rows: list[int], selection_type: TableSelectionType = DEFAULT) -> None:
        """Set the selected rows programmatically.

        :param selected_rows: List of row indices to select (or exclude, depending on selection_type)
        :param selection_type: Use INCLUDE to select the specified rows, or EXCLUDE to select
                               all rows EXCEPT the specified ones. Defaults to INCLUDE.
        """
        chosen = TableSelectionType.parse(
            or_default(selection_type, TableSelectionType.INCLUDE), "Table selection_type"
        )
        self.selected_rows = selected_rows
        self.selection_type = chosen

    def get_selected_data(self) -> pd.DataFrame:
        """Returns a DataFrame containing only the selected rows.

        Rows are positions in :meth:`get_df`'s frame (the whole frame, also of a big table), in order.

        :return: DataFrame with only the selected rows
        """
        frame = self.get_df()
        chosen = np.unique(np.asarray(self.selected_rows, dtype=np.int64))
        outside = chosen[(chosen < 0) | (chosen >= len(frame))]
        if self.selection_type is TableSelectionType.EXCLUDE:
            keep = np.ones(len(frame), dtype=bool)
            keep[chosen[(chosen >= 0) & (chosen < len(frame))]] = False
            return frame.iloc[keep]
        if len(outside):
            raise ValidationError(
                f"Table {self.title!r}: selected row {int(outside[0])} is out of range "
                f"(the table has {len(frame)} rows)"
            )
        return frame.iloc[chosen]

    def extract_context(self) -> dict[str, Any]:
        """The table's columns, dtypes and row count."""
        return {
            **super().extract_context(),
            "columns": [str(column) for column in self.content.columns],
            "dtypes": self.get_dtypes(self.content),
            "rows": self.total_rows,
        }

    def _fields_to_json(self) -> dict[str, Any]:
        frame = self.content.iloc[: self.max_rows]
        data: dict[str, Any] = {
            "columns": [to_jsonable(column) for column in frame.columns],
            "dtypes": [str(dtype) for dtype in frame.dtypes],
            "records": [[to_jsonable(cell) for cell in row] for row in frame.itertuples(index=False, name=None)],
            "index": None,
            "downloadable": self.downloadable,
            "links": self.links,
            "max_rows": self.max_rows,
            "total_rows": self.total_rows,
            "options": {name: getattr(self, name) for name in _TABLE_OPTIONS},
            "row_actions": [
                action.to_json() if isinstance(action, RowAction) else callback_to_json(action)
                for action in self.row_actions
            ],
            "selected_rows": list(self.selected_rows),
            "selection_type": self.selection_type.value,
            "on_edit_update": callback_to_json(self.on_edit_update),
            "on_row_select": callback_to_json(self.on_row_select),
            "data_grid_features": None if self.data_grid_features is None else self.data_grid_features.to_json(),
        }
        index = frame.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None):
            data["index"] = {**_labels_json(index), "values": [to_jsonable(value) for value in index]}
        if _needs_column_labels(frame.columns, data["columns"]):
            # How to rebuild the column labels exactly (a MultiIndex, a name, a dtype the labels lose).
            data["column_index"] = _labels_json(frame.columns)
        return data

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        columns = data["columns"]
        dtypes = data["dtypes"]
        records = data["records"]
        series = [_restore_column([row[i] for row in records], dtypes[i]) for i in range(len(columns))]
        frame = pd.concat(series, axis=1, ignore_index=True) if series else pd.DataFrame(index=range(len(records)))
        frame.columns = _labels_from_json(columns, data.get("column_index"))
        if data.get("index"):
            frame.index = _labels_from_json(data["index"]["values"], data["index"])
        table = cls(frame, data["downloadable"], links=data["links"], max_rows=data["max_rows"])
        for name, value in (data.get("options") or {}).items():
            if name in _TABLE_OPTIONS:
                setattr(table, name, value)
        table.row_actions = [
            RowAction(action["title"], action["description"], action["type"])
            if "callback_type" not in action
            else callback_from_json(action)
            for action in data.get("row_actions", [])
        ]
        # As saved: rows are checked when chosen, and a big table's row count is known only later.
        table._selected_rows = list(data.get("selected_rows", []))
        table.selection_type = TableSelectionType.parse(data.get("selection_type", "include"), "selection_type")
        table.on_edit_update = callback_from_json(data.get("on_edit_update"))
        table.on_row_select = callback_from_json(data.get("on_row_select"))
        features = data.get("data_grid_features")
        if features is not None:
            from flowdeck.elements.data_grid import DataGridFeatures

            table.data_grid_features = DataGridFeatures.from_json(features)
        table.total_rows = data["total_rows"]
        return table


def _checked_links(links: Any, title: str) -> list[str] | None:
    """``links`` as a list of texts (None stays None); a ValidationError saying what it takes otherwise."""
    if links is None:
        return None
    listed = None if isinstance(links, str | bytes | Mapping) or not isinstance(links, Iterable) else list(links)
    if listed is None or not all(isinstance(link, str) for link in listed):
        raise ValidationError(
            f"Table {title!r}: links must be a list of link texts (URLs), e.g. ['https://example.com/report'], "
            f"got {type(links).__name__} {links!r}"
        )
    return listed


def _listed(items: Any, name: str, what: str, title: str) -> list[Any]:
    """``items`` (None: none) as a list; a ValidationError when it is not a list of ``what``."""
    if items is None:
        return []
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise ValidationError(f"Table {title!r}: {name} must be a list of {what}, got {type(items).__name__} {items!r}")
    return list(items)


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


#: What a Table takes as its content, for error messages.
_TABLE_CONTENT_TYPES = "a pandas DataFrame or Series, a Dataset asset or an openpyxl Workbook"


def _table_content(content: Any, title: str) -> pd.DataFrame:
    """The frame a Table shows for ``content``; ``UnsupportedTypeError`` for a type it does not take."""
    if content is None:
        return pd.DataFrame()
    if isinstance(content, pd.DataFrame):
        return content
    if isinstance(content, pd.Series):
        return content.to_frame()
    if _is_workbook(content):
        return _workbook_frame(content, title)
    if isinstance(getattr(content, "object", None), pd.DataFrame):
        return content.object  # a Dataset asset
    raise UnsupportedTypeError(
        f"Table {title!r}: content must be a pandas DataFrame, got {type(content).__name__}; a Table takes "
        f"{_TABLE_CONTENT_TYPES} (wrap other data with pandas.DataFrame(...))"
    )


def _is_workbook(content: Any) -> bool:
    """Whether ``content`` is an ``openpyxl.Workbook`` (openpyxl is imported only when it may be one)."""
    if not type(content).__module__.startswith("openpyxl"):
        return False
    from openpyxl import Workbook

    return isinstance(content, Workbook)


def _workbook_frame(workbook: Any, title: str) -> pd.DataFrame:
    """The active sheet of ``workbook`` as ``pandas.read_excel`` reads it (first row as header).

    The workbook is saved to memory and read back from there; the caller's workbook is not changed.
    """
    sheet = workbook.active
    if sheet is None:
        raise ValidationError(f"Table {title!r}: the openpyxl Workbook has no active sheet to show")
    buffer = io.BytesIO()
    try:
        workbook.save(buffer)
    except Exception as exc:  # a read-only or already saved write-only workbook cannot be saved
        raise ValidationError(
            f"Table {title!r}: the openpyxl Workbook cannot be read ({type(exc).__name__}: {exc}); "
            "open it without read_only/write_only, or pass pandas.read_excel(...)'s DataFrame"
        ) from exc
    buffer.seek(0)
    return pd.read_excel(buffer, sheet_name=sheet.title, engine="openpyxl")


def _hashable(value: Any) -> Any:
    """A label as JSON gave it back, with its lists (tuples written out) made tuples again."""
    return tuple(_hashable(item) for item in value) if isinstance(value, list) else value


def _labels_json(labels: pd.Index) -> dict[str, Any]:
    """What rebuilds ``labels`` (a frame's index or columns) from their JSON values: name, dtype, levels, freq."""
    data: dict[str, Any] = {"name": to_jsonable(labels.name), "dtype": str(labels.dtype)}
    if isinstance(labels, pd.MultiIndex):
        data["levels"] = {
            "names": [to_jsonable(name) for name in labels.names],
            "dtypes": [str(labels.get_level_values(i).dtype) for i in range(labels.nlevels)],
        }
    elif isinstance(labels, pd.DatetimeIndex | pd.TimedeltaIndex) and labels.freq is not None:
        data["freq"] = labels.freqstr
    return data


def _needs_column_labels(columns: pd.Index, written: list[Any]) -> bool:
    """Whether the JSON column labels ``written`` alone would not rebuild ``columns`` exactly."""
    if isinstance(columns, pd.MultiIndex) or columns.name is not None:
        return True
    try:
        rebuilt = _labels_from_json(written, None)
    except (TypeError, ValueError):
        return True
    return rebuilt.dtype != columns.dtype or not rebuilt.equals(columns)


def _labels_from_json(values: list[Any], spec: Mapping[str, Any] | None) -> pd.Index:
    """An index (or column labels) from its JSON values and what :func:`_labels_json` wrote about it.

    Without ``spec`` (column labels that need none, or JSON written before it was kept) the dtype is
    inferred, and labels written as lists (tuples) make a MultiIndex.
    """
    levels = None if spec is None else spec.get("levels")
    if levels is not None:
        arrays = [
            pd.Index(_restore_column([row[i] for row in values], dtype)) for i, dtype in enumerate(levels["dtypes"])
        ]
        return pd.MultiIndex.from_arrays(arrays, names=[_hashable(name) for name in levels["names"]])
    name = None if spec is None else _hashable(spec.get("name"))
    if values and all(isinstance(value, list) for value in values):
        return pd.MultiIndex.from_tuples([_hashable(value) for value in values])
    if spec is None:
        return pd.Index([_hashable(value) for value in values])
    labels = pd.Index(_restore_column(values, spec["dtype"]), name=name)
    freq = spec.get("freq")
    if freq and isinstance(labels, pd.DatetimeIndex | pd.TimedeltaIndex):
        labels = type(labels)(labels, freq=freq)  # the rows kept are a prefix of the index, so they follow it
    return labels


#: The platform's default plot colours and colour scales (usable in any Plotly figure).
PREDICT_PLOT_DEFAULT_COLORWAY = [
    "#5B8FF9",
    "#5AD8A6",
    "#5D7092",
    "#F6BD16",
    "#E8684A",
    "#6DC8EC",
    "#9270CA",
    "#FF9D4D",
    "#269A99",
    "#FF99C3",
]
PREDICT_PLOT_DIVERGING_COLORSCALE = [[0.0, "#B2182B"], [0.5, "#F7F7F7"], [1.0, "#2166AC"]]
PREDICT_PLOT_SEQUENTIAL_COLORSCALE = [[0.0, "#F7FBFF"], [1.0, "#08306B"]]
PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE = [[0.0, "#67000D"], [1.0, "#FFF5F0"]]


class PlotlyPlot(OutputElement):
    """A Plotly figure (a ``plotly.graph_objects.Figure`` or its dict form).

    As in the SDK, the figure's own title is taken out of the figure and becomes the element's
    title, unless ``title`` is given (then that is the title, and the figure's is still removed).
    ``fig`` is a copy without the title; the figure passed in is left as it was.
    """

    def __init__(
        self,
        fig: go.Figure,
        title: str | None = None,
        show_title: bool = True,
        description: str = "",
        show_description: bool = True,
        reference_id: str | None = "",
        info_content: str | None = None,
        height: int | None = None,
    ) -> None:
        """Create a plot of ``fig``."""
        super().__init__(
            ElementType.PLOT,
            {},
            {},
            title or "",
            description,
            show_title,
            show_description,
            reference_id=reference_id or "",
        )
        figure = fig
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
                f"PlotlyPlot {self.title!r}: fig must be a plotly Figure or a dict, got {type(figure).__name__}"
            )
        if height is not None and (isinstance(height, bool) or not isinstance(height, int) or height <= 0):
            raise ValidationError(f"PlotlyPlot {self.title!r}: height must be a whole number > 0, got {height!r}")
        layout = plain.get("layout")
        if isinstance(layout, Mapping) and "title" in layout:
            # The figure's title becomes the element's (when none is given) and leaves the figure.
            figure_title = layout["title"]
            if isinstance(figure_title, Mapping):
                figure_title = figure_title.get("text")
            if title is None and isinstance(figure_title, str):
                self.title = figure_title
            plain = {**plain, "layout": {key: value for key, value in layout.items() if key != "title"}}
            if isinstance(figure, go.Figure):
                figure = go.Figure(figure)
                figure.layout.title = None
            elif isinstance(figure, Mapping):
                figure = plain
        self.fig = figure
        self.info_content = info_content
        self.height = height
        # The JSON-safe form (numpy arrays, dates, NaN handled by plotly's own encoder).
        self.figure_json: dict[str, Any] = json.loads(json.dumps(plain, cls=plotly.utils.PlotlyJSONEncoder))

    @property
    def figure(self) -> Any:
        """The figure as given (same as ``fig``)."""
        return self.fig

    def to_figure(self) -> go.Figure:
        """Return the figure as a ``plotly.graph_objects.Figure``."""
        return go.Figure(self.figure_json)

    @property
    def trace_types(self) -> list[str]:
        """The type of each trace, in order (``scatter`` when a trace does not say)."""
        return [trace.get("type", "scatter") for trace in self.figure_json.get("data", [])]

    def extract_context(self) -> dict[str, Any]:
        """The plot's trace types and layout title."""
        layout_title = self.figure_json.get("layout", {}).get("title")
        if isinstance(layout_title, Mapping):
            layout_title = layout_title.get("text")
        return {**super().extract_context(), "traces": self.trace_types, "plot_title": layout_title}

    def _fields_to_json(self) -> dict[str, Any]:
        return {"figure": self.figure_json, "info_content": self.info_content, "height": self.height}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        element = cls(data["figure"], info_content=data.get("info_content"), height=data.get("height"))
        # A figure saved with its title (before titles were moved out) is shown as it was saved.
        layout = data["figure"].get("layout") if isinstance(data["figure"], Mapping) else None
        if isinstance(layout, Mapping) and "title" in layout:
            element.fig = data["figure"]
            element.figure_json = json.loads(json.dumps(data["figure"], cls=plotly.utils.PlotlyJSONEncoder))
        return element


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


class ImageSize(_ReprEnum):
    """How large an image is shown."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Image(OutputElement):
    """An image, from bytes, a file-like object, a file path, a PIL image or a figure with ``savefig``.

    It is kept as bytes; ``mime`` is detected from the content.
    """

    def __init__(
        self,
        content: Any,
        size: ImageSize = DEFAULT,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        extension: str = "jpeg",
        raw_image_bytes: bool = False,
        overflow_behavior: ElementOverflowBehavior = DEFAULT,
        reference_id: str | None = "",
        info_content: str | None = None,
    ) -> None:
        """Create an image."""
        super().__init__(
            ElementType.IMAGE,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            overflow_behavior=overflow_behavior,
            reference_id=reference_id or "",
        )
        self.size = ImageSize.parse(or_default(size, ImageSize.MEDIUM), "Image size")
        if not isinstance(extension, str) or not extension.strip("."):
            raise ValidationError(f"Image {self.title!r}: extension must be a format name, got {extension!r}")
        self.extension = extension.strip(".").lower()
        self.raw_image_bytes = check_bool(raw_image_bytes, "raw_image_bytes", f"Image {self.title!r}")
        self.info_content = info_content
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
        elif hasattr(content, "save") and hasattr(content, "mode"):  # a PIL image
            buffer = io.BytesIO()
            pil_format = "JPEG" if self.extension in ("jpg", "jpeg") else self.extension.upper()
            image = content.convert("RGB") if pil_format == "JPEG" and content.mode not in ("RGB", "L") else content
            image.save(buffer, format=pil_format)
            data = buffer.getvalue()
        else:
            raise ValidationError(
                f"Image {self.title!r}: content must be bytes, a BytesIO, a file path, a PIL image or a "
                f"figure, got {type(content).__name__}"
            )
        self.content: bytes = data  # type: ignore[assignment]
        self.mime = detect_image_mime(data, filename or f"image.{self.extension}")

    @property
    def alt(self) -> str:
        """Text describing the image (its description, or title)."""
        return str(self.extra.get("alt") or self.description or self.title)

    def data_uri(self) -> str:
        """Return the image as a ``data:`` URI for an ``<img src=...>``."""
        return f"data:{self.mime};base64,{base64.b64encode(self.content).decode('ascii')}"

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "mime": self.mime,
            "size": self.size.value,
            "extension": self.extension,
            "raw_image_bytes": self.raw_image_bytes,
            "info_content": self.info_content,
            "data": base64.b64encode(self.content).decode("ascii"),
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        try:
            content = base64.b64decode(data["data"], validate=True)
        except ValueError as exc:
            raise ValidationError(f"Image {data.get('title')!r}: the stored data is not valid base64") from exc
        image = cls(
            content,
            data.get("size", "medium"),
            extension=data.get("extension", "jpeg"),
            raw_image_bytes=data.get("raw_image_bytes", False),
            info_content=data.get("info_content"),
        )
        image.mime = data["mime"]
        return image


class RichText(OutputElement):
    """Text written in Markdown; ``on_click`` runs a callback when a clickable part is clicked.

    A clickable part is a tag marked ``data-virt-clickable`` (or, as flowdeck wrote them before, of
    class ``fd-clickable``) whose ``data-params`` JSON becomes the callback's ``input_data``;
    :class:`RichTextClickable` writes them. The web UI shows it as a button with the tag's text.
    """

    def __init__(
        self,
        content: str,
        border: bool = False,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        overflow_behavior: ElementOverflowBehavior = DEFAULT,
        reference_id: str | None = "",
        info_content: str | None = None,
        on_click: Any = None,
    ) -> None:
        """Create a block of Markdown text."""
        super().__init__(
            ElementType.RICH_TEXT,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            on_click=on_click,
            overflow_behavior=overflow_behavior,
            reference_id=reference_id or "",
        )
        if not isinstance(content, str):
            raise ValidationError(f"RichText {self.title!r}: content must be text, got {type(content).__name__}")
        self.content: str = content  # type: ignore[assignment]
        self.border = check_bool(border, "border", f"RichText {self.title!r}")
        self.info_content = info_content

    @property
    def markdown(self) -> str:
        """The Markdown text (same as ``content``)."""
        return self.content

    def extract_context(self) -> dict[str, Any]:
        """The text."""
        return {**super().extract_context(), "content": self.content}

    def _fields_to_json(self) -> dict[str, Any]:
        return {"content": self.content, "border": self.border, "info_content": self.info_content}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(data["content"], data.get("border", False), info_content=data.get("info_content"))


class RichTextClickable:
    """Builds the HTML of clickable parts of a RichText; a click sends ``params`` to its ``on_click``.

    The part is marked as in the SDK, ``data-virt-clickable`` with the parameters as JSON in
    ``data-params``, and keeps flowdeck's ``fd-clickable`` class (for the page's styles).
    """

    @staticmethod
    def wrap(
        content: str,
        params: dict[str, Any],
        element: str = "span",
        style: str | None = None,
        css_class: str | None = None,
    ) -> str:
        """Wrap ``content`` (escaped: it shows as text) in a clickable ``element`` carrying ``params``."""
        if not re.fullmatch(r"[a-z][a-z0-9]*", element):
            raise ValidationError(f"RichTextClickable element must be a tag name, got {element!r}")
        attributes = [
            "data-virt-clickable",
            f'data-params="{html.escape(json.dumps(to_jsonable(params)), quote=True)}"',
        ]
        classes = " ".join(part for part in ("fd-clickable", css_class or "") if part)
        attributes.append(f'class="{html.escape(classes, quote=True)}"')
        if style:
            attributes.append(f'style="{html.escape(style, quote=True)}"')
        return f"<{element} {' '.join(attributes)}>{html.escape(content)}</{element}>"

    @staticmethod
    def button(text: str, params: dict[str, Any], primary: bool = False) -> str:
        """A clickable button showing ``text``."""
        css = "fd-clickable-button" + (" fd-primary" if primary else "")
        return RichTextClickable.wrap(text, params, element="button", css_class=css)

    @staticmethod
    def link(text: str, params: dict[str, Any], style: str | None = None) -> str:
        """A clickable link showing ``text``."""
        return RichTextClickable.wrap(text, params, element="a", style=style, css_class="fd-clickable-link")


class InfographicOrientation(_ReprEnum):
    """How an Infographic lays out its items."""

    ROW = "row"
    COLUMN = "column"


class InfographDataType(_ReprEnum):
    """The tone of an infographic item."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    WARNING = "warning"
    NEUTRAL = "neutral"
    INFO = "info"


class InfographData(OutputElement):
    """One key figure of an Infographic: a label, a main text, a supporting text, a tone.

    The label is the title too, unless ``title=`` is given. ``icon`` is not checked: the SDK's
    stubs do not list the icon names.
    """

    def __init__(
        self,
        label: str,
        main_text: str,
        supporting_text: str = "",
        icon: str | None = None,
        infograph_type: InfographDataType = DEFAULT,
        unit: str | None = None,
        display_compact: bool = False,
        on_click: Any = None,
        open_new_tab: bool | None = False,
        show_confirmation: bool | None = True,
        horizontal_position: ElementHorizontalPosition = DEFAULT,
        vertical_position: ElementVerticalPosition = DEFAULT,
        reference_id: str | None = "",
        info_content: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Create one key figure."""
        check_keywords("InfographData", kwargs, ["title", "description"], InfographData.__init__)
        super().__init__(
            ElementType.INFOGRAPH_DATA,
            {},
            {},
            kwargs.get("title") or label,  # the SDK: the label "will be used as a title as well"
            kwargs.get("description", ""),
            label=label,
            on_click=on_click,
            horizontal_position=horizontal_position,
            vertical_position=vertical_position,
            reference_id=reference_id or "",
        )
        plain = to_jsonable(main_text)
        if isinstance(plain, list | dict):
            raise ValidationError(f"InfographData {label!r}: main_text must be text or a number, got {main_text!r}")
        self.main_text = "" if plain is None else str(plain)
        self.supporting_text = supporting_text or ""
        self.icon = icon
        self.icon_type = "icon"
        self.infograph_type = InfographDataType.parse(
            or_default(infograph_type, InfographDataType.INFO), "InfographData infograph_type"
        )
        self.unit = unit
        owner = f"InfographData {label!r}"
        self.display_compact = check_bool(display_compact, "display_compact", owner)
        self.open_new_tab = check_bool(open_new_tab, "open_new_tab", owner)
        self.show_confirmation = check_bool(show_confirmation, "show_confirmation", owner)
        self.info_content = info_content

    def extract_context(self) -> dict[str, Any]:
        """The figure and its texts."""
        return {
            **super().extract_context(),
            "label": self.label,
            "main_text": self.main_text,
            "supporting_text": self.supporting_text,
            "unit": self.unit,
        }

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "main_text": self.main_text,
            "supporting_text": self.supporting_text,
            "icon": self.icon,
            "infograph_type": self.infograph_type.value,
            "unit": self.unit,
            "display_compact": self.display_compact,
            "open_new_tab": self.open_new_tab,
            "show_confirmation": self.show_confirmation,
            "info_content": self.info_content,
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data.get("label", ""),
            data["main_text"],
            data.get("supporting_text", ""),
            data.get("icon"),
            data.get("infograph_type", "info"),
            data.get("unit"),
            data.get("display_compact", False),
            open_new_tab=data.get("open_new_tab", False),
            show_confirmation=data.get("show_confirmation", True),
            info_content=data.get("info_content"),
        )


class Infographic(OutputElement):
    """Key figures (:class:`InfographData`) in a row or column, with optional recommendations.

    Constructing one with neither ``data`` nor ``recommendation`` items is refused
    (ValidationError, a ValueError), as in the SDK; items may be changed afterwards.
    """

    def __init__(
        self,
        title: str = "",
        description: str = "",
        data: list[InfographData] | None = None,
        recommendation: list[InfographData] | None = None,
        layout: InfographicOrientation = DEFAULT,
        show_title: bool = True,
        show_description: bool = True,
        event: Any = None,
        reference_id: str | None = "",
        overflow_behavior: ElementOverflowBehavior | None = DEFAULT,
        info_content: str | None = None,
        on_click: Any = None,
    ) -> None:
        """Create an infographic of ``data`` items.

        ``on_click`` (after the SDK's parameters) is a callback clicking the infographic runs
        (``run.click(title)``, ``"click"`` events), as ``InfographData(on_click=)`` is for one item.
        """
        super().__init__(
            ElementType.INFOGRAPHIC,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            on_click=on_click,
            overflow_behavior=overflow_behavior if overflow_behavior is not None else DEFAULT,
            reference_id=reference_id or "",
        )
        self.data = self._items(data, "data")
        self.recommendation = self._items(recommendation, "recommendation")
        if not self.data and not self.recommendation and not loading_saved():
            raise ValidationError(
                f"Infographic {self.title!r} has no data: give it InfographData items in data= (or recommendation=)"
            )
        self.layout = InfographicOrientation.parse(or_default(layout, InfographicOrientation.ROW), "layout")
        from flowdeck.elements.controls import Button

        if event is not None and not isinstance(event, Button):
            raise ValidationError(f"Infographic {self.title!r}: event must be a Button, got {type(event).__name__}")
        self.event = event
        self.info_content = info_content

    def _items(self, items: Any, what: str) -> list[InfographData]:
        if items is None:
            return []
        if isinstance(items, InfographData):
            items = [items]
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            raise ValidationError(
                f"Infographic {self.title!r}: {what} must be a list of InfographData, got {type(items).__name__} "
                f"{items!r}"
            )
        out = list(items)
        for item in out:
            if not isinstance(item, InfographData):
                raise ValidationError(
                    f"Infographic {self.title!r}: {what} must hold InfographData, got {type(item).__name__}"
                )
        return out

    def get_elements(self) -> Iterator[InfographData]:
        """The data items, then the recommendation items."""
        yield from self.data
        yield from self.recommendation

    def update_infograph_data(self) -> None:
        """Re-check the items after they were changed in place."""
        self.data = self._items(self.data, "data")
        self.recommendation = self._items(self.recommendation, "recommendation")

    def extract_context(self) -> dict[str, Any]:
        """The items' texts."""
        return {**super().extract_context(), "data": [item.extract_context() for item in self.get_elements()]}

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "data": [item.to_json() for item in self.data],
            "recommendation": [item.to_json() for item in self.recommendation],
            "layout": self.layout.value,
            "event": None if self.event is None else self.event.to_json(),
            "info_content": self.info_content,
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        event = data.get("event")
        return cls(
            data=[InfographData.from_json(item) for item in data.get("data", [])],  # type: ignore[misc]
            recommendation=[InfographData.from_json(item) for item in data.get("recommendation", [])],  # type: ignore[misc]
            layout=data.get("layout", "row"),
            event=None if event is None else Element.from_json(event),
            info_content=data.get("info_content"),
        )
