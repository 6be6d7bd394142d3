"""The SDK's ``virtualitics_sdk.page.page`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Dashboard as Dashboard
from flowdeck.elements import DataSource as DataSource
from flowdeck.elements import Dropdown as Dropdown
from flowdeck.elements import Element as Element
from flowdeck.elements import Infographic as Infographic
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import Row as Row
from flowdeck.elements import SegmentedControl as SegmentedControl
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.page import Card as Card
from flowdeck.page import Container as Container
from flowdeck.page import Page as Page
from flowdeck.page import Section as Section
from virtualitics_sdk._compat import unhosted_function

update_page_from_input = unhosted_function("update_page_from_input", "This part of the hosted platform")

__all__ = [
    "CallbackType",
    "Card",
    "Container",
    "Dashboard",
    "DataSource",
    "Dropdown",
    "Element",
    "Infographic",
    "InputElement",
    "Page",
    "PageUpdateCallback",
    "Row",
    "Section",
    "SegmentedControl",
    "update_page_from_input",
]
