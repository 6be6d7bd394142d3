"""The SDK's ``virtualitics_sdk`` module, backed by flowdeck."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowdeck.assets import Asset as Asset
from flowdeck.assets import AssetType as AssetType
from flowdeck.assets import DataEncoding as DataEncoding
from flowdeck.assets import Dataset as Dataset
from flowdeck.assets import Model as Model
from flowdeck.assets import Schema as Schema
from flowdeck.elements import Button as Button
from flowdeck.elements import ButtonColor as ButtonColor
from flowdeck.elements import ButtonStyle as ButtonStyle
from flowdeck.elements import Column as Column
from flowdeck.elements import Dashboard as Dashboard
from flowdeck.elements import DataSource as DataSource
from flowdeck.elements import DataSourceDropdown as DataSourceDropdown
from flowdeck.elements import DateTimeRange as DateTimeRange
from flowdeck.elements import Dropdown as Dropdown
from flowdeck.elements import Element as Element
from flowdeck.elements import ElementOverflowBehavior as ElementOverflowBehavior
from flowdeck.elements import ElementType as ElementType
from flowdeck.elements import Image as Image
from flowdeck.elements import ImageSize as ImageSize
from flowdeck.elements import InfographData as InfographData
from flowdeck.elements import InfographDataType as InfographDataType
from flowdeck.elements import Infographic as Infographic
from flowdeck.elements import InfographicOrientation as InfographicOrientation
from flowdeck.elements import InputElement as InputElement
from flowdeck.elements import MultiDropdown as MultiDropdown
from flowdeck.elements import NumericRange as NumericRange
from flowdeck.elements import NumericRangeSlider as NumericRangeSlider
from flowdeck.elements import NumericSlider as NumericSlider
from flowdeck.elements import PlotlyPlot as PlotlyPlot
from flowdeck.elements import RichText as RichText
from flowdeck.elements import RichTextClickable as RichTextClickable
from flowdeck.elements import Row as Row
from flowdeck.elements import SegmentedControl as SegmentedControl
from flowdeck.elements import SingleDropdown as SingleDropdown
from flowdeck.elements import Table as Table
from flowdeck.elements import TableSelectionType as TableSelectionType
from flowdeck.elements import TextInput as TextInput
from flowdeck.elements.callbacks import DrilldownSize as DrilldownSize
from flowdeck.elements.callbacks import DrilldownType as DrilldownType
from flowdeck.elements.lazy_names import data_grid_name, with_data_grid_names
from flowdeck.elements.outputs import PREDICT_DEFAULT_CELL_COLOR as PREDICT_DEFAULT_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_DEFAULT_TEXT_COLOR as PREDICT_DEFAULT_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_ERROR_CELL_COLOR as PREDICT_ERROR_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_ERROR_TEXT_COLOR as PREDICT_ERROR_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_PLOT_DEFAULT_COLORWAY as PREDICT_PLOT_DEFAULT_COLORWAY
from flowdeck.elements.outputs import PREDICT_PLOT_DIVERGING_COLORSCALE as PREDICT_PLOT_DIVERGING_COLORSCALE
from flowdeck.elements.outputs import PREDICT_PLOT_SEQUENTIAL_COLORSCALE as PREDICT_PLOT_SEQUENTIAL_COLORSCALE
from flowdeck.elements.outputs import (
    PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE as PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE,
)
from flowdeck.elements.outputs import PREDICT_SUCCESS_CELL_COLOR as PREDICT_SUCCESS_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_SUCCESS_TEXT_COLOR as PREDICT_SUCCESS_TEXT_COLOR
from flowdeck.elements.outputs import PREDICT_WARNING_CELL_COLOR as PREDICT_WARNING_CELL_COLOR
from flowdeck.elements.outputs import PREDICT_WARNING_TEXT_COLOR as PREDICT_WARNING_TEXT_COLOR
from flowdeck.flow.model import App as App
from flowdeck.flow.model import Flow as Flow
from flowdeck.flow.model import SingletonApp as SingletonApp
from flowdeck.flow.model import Step as Step
from flowdeck.flow.model import StepType as StepType
from flowdeck.page import Card as Card
from flowdeck.page import Comment as Comment
from flowdeck.page import Container as Container
from flowdeck.page import Page as Page
from flowdeck.page import Section as Section
from flowdeck.page import Segment as Segment
from flowdeck.page import default_container_on_close as default_container_on_close
from flowdeck.storage.connection_urls import ConnectionType as ConnectionType
from flowdeck.store.store_interface import StoreInterface as StoreInterface
from virtualitics_sdk._compat import DrilldownStoreInterface as DrilldownStoreInterface
from virtualitics_sdk._compat import PredictException as PredictException
from virtualitics_sdk._compat import StepProgressTqdm as StepProgressTqdm
from virtualitics_sdk._compat import get_img_base64 as get_img_base64
from virtualitics_sdk._compat import optional
from virtualitics_sdk.elements.box_packing_renderer import BoxPackingRenderer as BoxPackingRenderer
from virtualitics_sdk.icons.fonts import ALL_ICONS as ALL_ICONS
from virtualitics_sdk.icons.fonts import AllowedIcons as AllowedIcons
from virtualitics_sdk.llm.agent import DashboardDeps as DashboardDeps
from virtualitics_sdk.llm.agent import DefaultDispatcherAgent as DefaultDispatcherAgent
from virtualitics_sdk.llm.agent import DispatcherAgentInterface as DispatcherAgentInterface
from virtualitics_sdk.llm.agent import PydanticDispatcherAgent as PydanticDispatcherAgent
from virtualitics_sdk.llm.agent import TestDispatcherAgent as TestDispatcherAgent
from virtualitics_sdk.llm.model_builder import build_model as build_model
from virtualitics_sdk.llm.types import ChatSource as ChatSource
from virtualitics_sdk.llm.types import ChatSourceCard as ChatSourceCard
from virtualitics_sdk.llm.types import ProcessedChatMessage as ProcessedChatMessage
from virtualitics_sdk.llm.types import RawChatContext as RawChatContext
from virtualitics_sdk.persistence_client.client import PersistenceClient as PersistenceClient
from virtualitics_sdk.persistence_client.internal.enums.asset_type import PersistenceAssetType as PersistenceAssetType
from virtualitics_sdk.utils.image_utils import generete_self_hosted_image_url as generete_self_hosted_image_url

trigger_flow_execution = optional("trigger_flow_execution", "virtualitics_sdk")

if TYPE_CHECKING:
    from flowdeck.elements.data_grid import ColumnField as ColumnField
    from flowdeck.elements.data_grid import ColumnGroup as ColumnGroup
    from flowdeck.elements.data_grid import ColumnGroupingModel as ColumnGroupingModel
    from flowdeck.elements.data_grid import DataGridFeatures as DataGridFeatures
    from flowdeck.elements.data_grid import GridColumn as GridColumn

__all__ = [
    "ALL_ICONS",
    "PREDICT_DEFAULT_CELL_COLOR",
    "PREDICT_DEFAULT_TEXT_COLOR",
    "PREDICT_ERROR_CELL_COLOR",
    "PREDICT_ERROR_TEXT_COLOR",
    "PREDICT_PLOT_DEFAULT_COLORWAY",
    "PREDICT_PLOT_DIVERGING_COLORSCALE",
    "PREDICT_PLOT_SEQUENTIAL_COLORSCALE",
    "PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE",
    "PREDICT_SUCCESS_CELL_COLOR",
    "PREDICT_SUCCESS_TEXT_COLOR",
    "PREDICT_WARNING_CELL_COLOR",
    "PREDICT_WARNING_TEXT_COLOR",
    "AllowedIcons",
    "App",
    "Asset",
    "AssetType",
    "BoxPackingRenderer",
    "Button",
    "ButtonColor",
    "ButtonStyle",
    "Card",
    "ChatSource",
    "ChatSourceCard",
    "Column",
    "ColumnField",
    "ColumnGroup",
    "ColumnGroupingModel",
    "Comment",
    "ConnectionType",
    "Container",
    "Dashboard",
    "DashboardDeps",
    "DataEncoding",
    "DataGridFeatures",
    "DataSource",
    "DataSourceDropdown",
    "Dataset",
    "DateTimeRange",
    "DefaultDispatcherAgent",
    "DispatcherAgentInterface",
    "DrilldownSize",
    "DrilldownStoreInterface",
    "DrilldownType",
    "Dropdown",
    "Element",
    "ElementOverflowBehavior",
    "ElementType",
    "Flow",
    "GridColumn",
    "Image",
    "ImageSize",
    "InfographData",
    "InfographDataType",
    "Infographic",
    "InfographicOrientation",
    "InputElement",
    "Model",
    "MultiDropdown",
    "NumericRange",
    "NumericRangeSlider",
    "NumericSlider",
    "Page",
    "PersistenceAssetType",
    "PersistenceClient",
    "PlotlyPlot",
    "PredictException",
    "ProcessedChatMessage",
    "PydanticDispatcherAgent",
    "RawChatContext",
    "RichText",
    "RichTextClickable",
    "Row",
    "Schema",
    "Section",
    "Segment",
    "SegmentedControl",
    "SingleDropdown",
    "SingletonApp",
    "Step",
    "StepProgressTqdm",
    "StepType",
    "StoreInterface",
    "Table",
    "TableSelectionType",
    "TestDispatcherAgent",
    "TextInput",
    "build_model",
    "default_container_on_close",
    "generete_self_hosted_image_url",
    "get_img_base64",
    "trigger_flow_execution",
]


def __getattr__(name: str) -> Any:
    """The data-grid models, imported on first use (see :mod:`flowdeck.elements.lazy_names`)."""
    return data_grid_name(__name__, name)


def __dir__() -> list[str]:
    """The module's names, the data-grid models included."""
    return with_data_grid_names(globals())
