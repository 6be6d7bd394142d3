"""Page elements: inputs the user fills in and outputs a step shows."""

from flowdeck.elements.base import SCHEMA_VERSION, Element, InputElement, OutputElement, to_jsonable
from flowdeck.elements.inputs import DataSource, DateTimeRange, Dropdown, NumericRange, TextInput
from flowdeck.elements.outputs import Image, Infographic, PlotlyPlot, RichText, Table
from flowdeck.elements.registry import element_class, element_kinds, register_element

__all__ = [
    "SCHEMA_VERSION",
    "DataSource",
    "DateTimeRange",
    "Dropdown",
    "Element",
    "Image",
    "Infographic",
    "InputElement",
    "NumericRange",
    "OutputElement",
    "PlotlyPlot",
    "RichText",
    "Table",
    "TextInput",
    "element_class",
    "element_kinds",
    "register_element",
    "to_jsonable",
]
