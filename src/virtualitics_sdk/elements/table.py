"""The SDK's ``virtualitics_sdk.elements.table`` module, backed by flowdeck."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowdeck.assets import Dataset as Dataset
from flowdeck.elements import Element as Element
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import Table as Table
from flowdeck.elements import TableSelectionType as TableSelectionType
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.lazy_names import data_grid_name, with_data_grid_names
from flowdeck.elements.outputs import PREDICT_DEFAULT_CELL_COLOR as PREDICT_DEFAULT_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_DEFAULT_TEXT_COLOR as PREDICT_DEFAULT_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_ERROR_CELL_COLOR as PREDICT_ERROR_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_ERROR_TEXT_COLOR as PREDICT_ERROR_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_SUCCESS_CELL_COLOR as PREDICT_SUCCESS_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_SUCCESS_TEXT_COLOR as PREDICT_SUCCESS_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_WARNING_CELL_COLOR as PREDICT_WARNING_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_WARNING_TEXT_COLOR as PREDICT_WARNING_TEXT_COLOR
from flowdeck.elements.outputs import RowAction as RowAction
from flowdeck.elements.outputs import RowActionType as RowActionType

if TYPE_CHECKING:
    from flowdeck.elements.data_grid import ColumnField as ColumnField
    from flowdeck.elements.data_grid import ColumnGroup as ColumnGroup
    from flowdeck.elements.data_grid import ColumnGroupingModel as ColumnGroupingModel
    from flowdeck.elements.data_grid import DataGridFeatures as DataGridFeatures
    from flowdeck.elements.data_grid import GridColumn as GridColumn

__all__ = [
    "PREDICT_DEFAULT_CELL_COLOR",
    "PREDICT_DEFAULT_TEXT_COLOR",
    "PREDICT_ERROR_CELL_COLOR",
    "PREDICT_ERROR_TEXT_COLOR",
    "PREDICT_SUCCESS_CELL_COLOR",
    "PREDICT_SUCCESS_TEXT_COLOR",
    "PREDICT_WARNING_CELL_COLOR",
    "PREDICT_WARNING_TEXT_COLOR",
    "CallbackType",
    "ColumnField",
    "ColumnGroup",
    "ColumnGroupingModel",
    "DataGridFeatures",
    "Dataset",
    "Element",
    "ElementType",
    "GridColumn",
    "PageUpdateCallback",
    "RowAction",
    "RowActionType",
    "Table",
    "TableSelectionType",
]


def __getattr__(name: str) -> Any:
    """The data-grid models, imported on first use (see :mod:`flowdeck.elements.lazy_names`)."""
    return data_grid_name(__name__, name)


def __dir__() -> list[str]:
    """The module's names, the data-grid models included."""
    return with_data_grid_names(globals())
