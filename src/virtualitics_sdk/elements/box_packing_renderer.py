"""The SDK's ``virtualitics_sdk.elements.box_packing_renderer`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements.callbacks import CallbackType as CallbackType
from flowdeck.elements.callbacks import DrilldownCallback as DrilldownCallback
from flowdeck.elements.callbacks import DrilldownType as DrilldownType
from flowdeck.elements.callbacks import PageUpdateCallback as PageUpdateCallback
from flowdeck.elements.callbacks import page_update_callback as page_update_callback
from flowdeck.store.store_interface import StoreInterface as StoreInterface
from virtualitics_sdk._compat import unhosted_class, unhosted_function

Color3 = unhosted_class("Color3", "3-D box packing")
Color4 = unhosted_class("Color4", "3-D box packing")
Vector3 = unhosted_class("Vector3", "3-D box packing")
ContainerDimensions = unhosted_class("ContainerDimensions", "3-D box packing")
random_str = unhosted_function("random_str", "3-D box packing")
Box = unhosted_class("Box", "3-D box packing")
GridWall = unhosted_class("GridWall", "3-D box packing")
BoxPackingConfig = unhosted_class("BoxPackingConfig", "3-D box packing")
BoxPackingRenderer = unhosted_class("BoxPackingRenderer", "3-D box packing")

__all__ = [
    "Box",
    "BoxPackingConfig",
    "BoxPackingRenderer",
    "CallbackType",
    "Color3",
    "Color4",
    "ContainerDimensions",
    "DrilldownCallback",
    "DrilldownType",
    "Element",
    "ElementType",
    "GridWall",
    "PageUpdateCallback",
    "StoreInterface",
    "Vector3",
    "page_update_callback",
    "random_str",
]
