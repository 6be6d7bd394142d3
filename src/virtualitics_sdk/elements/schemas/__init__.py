"""The SDK's ``virtualitics_sdk.elements.schemas`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk.elements.schemas.element import SerializedComment as SerializedComment
from virtualitics_sdk.elements.schemas.element import SerializedElement as SerializedElement
from virtualitics_sdk.elements.schemas.table import SerializedTable as SerializedTable
from virtualitics_sdk.elements.schemas.table import SerializedTableColumn as SerializedTableColumn
from virtualitics_sdk.elements.schemas.table import SerializedTableParams as SerializedTableParams
from virtualitics_sdk.elements.schemas.table import TableCellValue as TableCellValue
from virtualitics_sdk.elements.schemas.table import TableColumnDtype as TableColumnDtype
from virtualitics_sdk.elements.schemas.table import TableRowMetadataEntry as TableRowMetadataEntry
from virtualitics_sdk.elements.schemas.table import TableSelectedRows as TableSelectedRows

__all__ = [
    "SerializedComment",
    "SerializedElement",
    "SerializedTable",
    "SerializedTableColumn",
    "SerializedTableParams",
    "TableCellValue",
    "TableColumnDtype",
    "TableRowMetadataEntry",
    "TableSelectedRows",
]
