"""Page elements: inputs the user fills in and outputs a step shows.

The data-grid models of a Table (``DataGridFeatures``, ``GridColumn``, ``ColumnGroup``,
``ColumnField``) are pydantic models; they load on first use, so importing the elements does not
import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowdeck.elements.base import (
    DEFAULT,
    SCHEMA_VERSION,
    Element,
    ElementHorizontalPosition,
    ElementOverflowBehavior,
    ElementType,
    ElementVerticalPosition,
    InputElement,
    OutputElement,
    to_jsonable,
)
from flowdeck.elements.controls import (
    Button,
    ButtonColor,
    ButtonStyle,
    Column,
    Dashboard,
    DashboardOrientation,
    Row,
    SegmentedControl,
)
from flowdeck.elements.inputs import (
    DataSource,
    DataSourceDropdown,
    DateTimeRange,
    Dropdown,
    MultiDropdown,
    NumericRange,
    NumericRangeSlider,
    NumericSlider,
    SingleDropdown,
    TextInput,
)
from flowdeck.elements.lazy_names import data_grid_name, with_data_grid_names
from flowdeck.elements.outputs import (
    Image,
    ImageSize,
    InfographData,
    InfographDataType,
    Infographic,
    InfographicOrientation,
    PlotlyPlot,
    RichText,
    RichTextClickable,
    RowAction,
    RowActionType,
    Table,
    TableSelectionType,
)
from flowdeck.elements.registry import element_class, element_kinds, register_element

if TYPE_CHECKING:
    from flowdeck.elements.data_grid import ColumnField, ColumnGroup, DataGridFeatures, GridColumn

__all__ = [
    "DEFAULT",
    "SCHEMA_VERSION",
    "Button",
    "ButtonColor",
    "ButtonStyle",
    "Column",
    "ColumnField",
    "ColumnGroup",
    "Dashboard",
    "DashboardOrientation",
    "DataGridFeatures",
    "DataSource",
    "DataSourceDropdown",
    "DateTimeRange",
    "Dropdown",
    "Element",
    "ElementHorizontalPosition",
    "ElementOverflowBehavior",
    "ElementType",
    "ElementVerticalPosition",
    "GridColumn",
    "Image",
    "ImageSize",
    "InfographData",
    "InfographDataType",
    "Infographic",
    "InfographicOrientation",
    "InputElement",
    "MultiDropdown",
    "NumericRange",
    "NumericRangeSlider",
    "NumericSlider",
    "OutputElement",
    "PlotlyPlot",
    "RichText",
    "RichTextClickable",
    "Row",
    "RowAction",
    "RowActionType",
    "SegmentedControl",
    "SingleDropdown",
    "Table",
    "TableSelectionType",
    "TextInput",
    "element_class",
    "element_kinds",
    "register_element",
    "to_jsonable",
]


def __getattr__(name: str) -> Any:
    """The data-grid models, imported on first use (see :mod:`flowdeck.elements.lazy_names`)."""
    return data_grid_name(__name__, name)


def __dir__() -> list[str]:
    """The module's names, the data-grid models included."""
    return with_data_grid_names(globals())
