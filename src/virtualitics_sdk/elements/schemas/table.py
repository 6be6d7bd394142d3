"""The SDK's ``virtualitics_sdk.elements.schemas.table`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class
from virtualitics_sdk.elements.schemas.element import SerializedComment as SerializedComment
from virtualitics_sdk.elements.schemas.element import SerializedElement as SerializedElement

TableCellValue = unhosted_class("TableCellValue", "The platform's serialised element schemas")
TableRowMetadataEntry = unhosted_class("TableRowMetadataEntry", "The platform's serialised element schemas")
TableSelectedRows = unhosted_class("TableSelectedRows", "The platform's serialised element schemas")
TableColumnDtype = unhosted_class("TableColumnDtype", "The platform's serialised element schemas")
SerializedTableColumn = unhosted_class("SerializedTableColumn", "The platform's serialised element schemas")
SerializedTableParams = unhosted_class("SerializedTableParams", "The platform's serialised element schemas")
SerializedTable = unhosted_class("SerializedTable", "The platform's serialised element schemas")

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
