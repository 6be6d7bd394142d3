"""The SDK's ``virtualitics_sdk.elements.dashboard`` module, backed by flowdeck."""

from __future__ import annotations

from typing import Any

from flowdeck.elements import Column as Column
from flowdeck.elements import Dashboard as Dashboard
from flowdeck.elements import DashboardOrientation as DashboardOrientation
from flowdeck.elements import Element as Element
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import Image as Image
from flowdeck.elements import Infographic as Infographic
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import PlotlyPlot as PlotlyPlot
from flowdeck.elements import RichText as RichText
from flowdeck.elements import Row as Row
from flowdeck.elements import Table as Table
from virtualitics_sdk._compat import unhosted_function

DASHBOARD_ELEMENT: Any = ()
DASHBOARD_TYPES: Any = ()
valid_dashboard_element = unhosted_function("valid_dashboard_element", "This part of the hosted platform")
ListType: Any = Any
simplify = unhosted_function("simplify", "This part of the hosted platform")

__all__ = [
    "DASHBOARD_ELEMENT",
    "DASHBOARD_TYPES",
    "Column",
    "Dashboard",
    "DashboardOrientation",
    "Element",
    "ElementType",
    "Image",
    "Infographic",
    "InputElement",
    "ListType",
    "PlotlyPlot",
    "RichText",
    "Row",
    "Table",
    "simplify",
    "valid_dashboard_element",
]
