"""The SDK's ``virtualitics_sdk.elements`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Column as Column
from flowdeck.elements import Dashboard as Dashboard
from flowdeck.elements import DashboardOrientation as DashboardOrientation
from flowdeck.elements import DataSource as DataSource
from flowdeck.elements import DataSourceDropdown as DataSourceDropdown
from flowdeck.elements import DateTimeRange as DateTimeRange
from flowdeck.elements import Dropdown as Dropdown
from flowdeck.elements import Image as Image
from flowdeck.elements import ImageSize as ImageSize
from flowdeck.elements import InfographData as InfographData
from flowdeck.elements import InfographDataType as InfographDataType
from flowdeck.elements import Infographic as Infographic
from flowdeck.elements import InfographicOrientation as InfographicOrientation
from flowdeck.elements import MultiDropdown as MultiDropdown
from flowdeck.elements import NumericRange as NumericRange
from flowdeck.elements import NumericRangeSlider as NumericRangeSlider
from flowdeck.elements import NumericSlider as NumericSlider
from flowdeck.elements import PlotlyPlot as PlotlyPlot
from flowdeck.elements import RichText as RichText
from flowdeck.elements import Row as Row
from flowdeck.elements import SegmentedControl as SegmentedControl
from flowdeck.elements import SingleDropdown as SingleDropdown
from flowdeck.elements import Table as Table
from flowdeck.elements import TableSelectionType as TableSelectionType
from flowdeck.elements import TextInput as TextInput

__all__ = [
    "Column",
    "Dashboard",
    "DashboardOrientation",
    "DataSource",
    "DataSourceDropdown",
    "DateTimeRange",
    "Dropdown",
    "Image",
    "ImageSize",
    "InfographData",
    "InfographDataType",
    "Infographic",
    "InfographicOrientation",
    "MultiDropdown",
    "NumericRange",
    "NumericRangeSlider",
    "NumericSlider",
    "PlotlyPlot",
    "RichText",
    "Row",
    "SegmentedControl",
    "SingleDropdown",
    "Table",
    "TableSelectionType",
    "TextInput",
]
