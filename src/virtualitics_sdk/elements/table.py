"""The SDK's ``virtualitics_sdk.elements.table`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.assets import Dataset as Dataset
from flowdeck.elements import ColumnField as ColumnField
from flowdeck.elements import ColumnGroup as ColumnGroup
from flowdeck.elements import DataGridFeatures as DataGridFeatures
from flowdeck.elements import Element as Element
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import GridColumn as GridColumn
from flowdeck.elements import Table as Table
from flowdeck.elements import TableSelectionType as TableSelectionType
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.outputs import PREDICT_DEFAULT_CELL_COLOR as PREDICT_DEFAULT_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_DEFAULT_TEXT_COLOR as PREDICT_DEFAULT_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_ERROR_CELL_COLOR as PREDICT_ERROR_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_ERROR_TEXT_COLOR as PREDICT_ERROR_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_SUCCESS_CELL_COLOR as PREDICT_SUCCESS_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_SUCCESS_TEXT_COLOR as PREDICT_SUCCESS_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_WARNING_CELL_COLOR as PREDICT_WARNING_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_WARNING_TEXT_COLOR as PREDICT_WARNING_TEXT_COLOR
from flowdeck.elements.outputs import ColumnGroupingModel as ColumnGroupingModel
from flowdeck.elements.outputs import RowAction as RowAction
from flowdeck.elements.outputs import RowActionType as RowActionType

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
