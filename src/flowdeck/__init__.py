"""flowdeck: step-by-step analytics apps.

A flow is a chain of steps; each step runs Python, shows its user a page of cards and hands data on.
``StoreInterface`` is the flow writer's one handle on everything that is stored.

Public names are imported lazily so that ``import flowdeck`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # settings
    "configure": "flowdeck.config",
    "get_settings": "flowdeck.config",
    "Settings": "flowdeck.config",
    # flows
    "Flow": "flowdeck.flow.model",
    "App": "flowdeck.flow.model",
    "Step": "flowdeck.flow.model",
    "StepType": "flowdeck.flow.model",
    "FlowMetadata": "flowdeck.flow.model",
    "FlowRun": "flowdeck.flow.runner",
    "start": "flowdeck.flow.runner",
    "open_run": "flowdeck.flow.runner",
    "delete_run": "flowdeck.flow.runner",
    "share_run": "flowdeck.flow.runner",
    "unshare_run": "flowdeck.flow.runner",
    "fork_run": "flowdeck.flow.runner",
    "list_runs": "flowdeck.flow.runner",
    # callbacks
    "CallbackEvent": "flowdeck.flow.callbacks",
    "CallbackOutcome": "flowdeck.flow.callbacks",
    "fire_callback": "flowdeck.flow.callbacks",
    "DrilldownStoreInterface": "flowdeck.flow.callbacks",
    "page_update_callback": "flowdeck.elements.callbacks",
    "standard_event_callback": "flowdeck.elements.callbacks",
    "drilldown_callback": "flowdeck.elements.callbacks",
    "auto_refresh_callback": "flowdeck.elements.callbacks",
    "row_action_callback": "flowdeck.elements.callbacks",
    "ContainerToggleCallback": "flowdeck.elements.callbacks",
    "AssetDownloadCallback": "flowdeck.elements.callbacks",
    "DrilldownType": "flowdeck.elements.callbacks",
    "DrilldownSize": "flowdeck.elements.callbacks",
    "register_flow": "flowdeck.triggers.apps",
    "unregister_flow": "flowdeck.flow.registry",
    "list_registered_flows": "flowdeck.flow.registry",
    "run_headless": "flowdeck.flow.headless",
    "trigger_flow_execution": "flowdeck.flow.headless",
    "check_triggers": "flowdeck.triggers",
    "add_notification": "flowdeck.store.notifications",
    "remove_notification": "flowdeck.store.notifications",
    "check_notifications": "flowdeck.store.notifications",
    "add_comment": "flowdeck.store.comments",
    "list_comments": "flowdeck.store.comments",
    "edit_comment": "flowdeck.store.comments",
    "delete_comment": "flowdeck.store.comments",
    "CardComment": "flowdeck.store.comments",
    "set_smtp_server": "flowdeck.store.notifications",
    "get_smtp_server": "flowdeck.store.notifications",
    "remove_smtp_server": "flowdeck.store.notifications",
    "S3Trigger": "flowdeck.triggers",
    "PostgresTrigger": "flowdeck.triggers",
    "AssetTrigger": "flowdeck.triggers",
    "CompositeTrigger": "flowdeck.triggers",
    "ScheduleTrigger": "flowdeck.triggers",
    "FlowStatus": "flowdeck.store.status",
    "StepStatus": "flowdeck.store.status",
    "StepState": "flowdeck.store.status",
    "RunState": "flowdeck.store.status",
    # the store
    "StoreInterface": "flowdeck.store.store_interface",
    # pages and elements
    "Page": "flowdeck.page",
    "Section": "flowdeck.page",
    "Card": "flowdeck.page",
    "Element": "flowdeck.elements",
    "InputElement": "flowdeck.elements",
    "DataSource": "flowdeck.elements",
    "Dropdown": "flowdeck.elements",
    "TextInput": "flowdeck.elements",
    "NumericRange": "flowdeck.elements",
    "DateTimeRange": "flowdeck.elements",
    "Table": "flowdeck.elements",
    "PlotlyPlot": "flowdeck.elements",
    "Image": "flowdeck.elements",
    "RichText": "flowdeck.elements",
    "Infographic": "flowdeck.elements",
    "InfographData": "flowdeck.elements",
    "SingleDropdown": "flowdeck.elements",
    "MultiDropdown": "flowdeck.elements",
    "DataSourceDropdown": "flowdeck.elements",
    "NumericSlider": "flowdeck.elements",
    "NumericRangeSlider": "flowdeck.elements",
    "Button": "flowdeck.elements",
    "SegmentedControl": "flowdeck.elements",
    "Row": "flowdeck.elements",
    "Column": "flowdeck.elements",
    "Dashboard": "flowdeck.elements",
    "RichTextClickable": "flowdeck.elements",
    "Container": "flowdeck.page",
    "Segment": "flowdeck.page",
    "Comment": "flowdeck.page",
    "SingletonApp": "flowdeck.flow.model",
    # assets
    "Asset": "flowdeck.assets",
    "AssetType": "flowdeck.assets",
    "Dataset": "flowdeck.assets",
    "Model": "flowdeck.assets",
    "Explainer": "flowdeck.assets",
    "Schema": "flowdeck.assets",
    "share_asset": "flowdeck.store.assets",
    "unshare_asset": "flowdeck.store.assets",
    "delete_asset": "flowdeck.store.assets",
    # users, connections
    "add_user": "flowdeck.auth.users",
    "update_user": "flowdeck.auth.users",
    "list_users": "flowdeck.auth.users",
    "ConnectionType": "flowdeck.storage.connection_urls",
    "add_connection": "flowdeck.store.connections",
    "share_connection": "flowdeck.store.connections",
    "unshare_connection": "flowdeck.store.connections",
    "remove_connection": "flowdeck.store.connections",
    # errors
    "FlowdeckError": "flowdeck.errors",
    "NotFoundError": "flowdeck.errors",
    "AccessError": "flowdeck.errors",
    "ValidationError": "flowdeck.errors",
    "ConfigurationError": "flowdeck.errors",
    "MissingInputError": "flowdeck.errors",
    "StepFailedError": "flowdeck.errors",
    "StepCancelledError": "flowdeck.errors",
    "StepStateError": "flowdeck.errors",
    "AlreadyExistsError": "flowdeck.errors",
    "IntegrityError": "flowdeck.errors",
    "QuotaBusyError": "flowdeck.errors",
    "QuotaExceededError": "flowdeck.errors",
    "CallbackError": "flowdeck.errors",
    "CallbackLoadError": "flowdeck.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowdeck' has no attribute {name!r}")
    if module_name == "flowdeck.store.store_interface":
        # The runner tells the store which page a step that has not run yet starts with.
        importlib.import_module("flowdeck.flow.runner")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from flowdeck.assets import Asset, AssetType, Dataset, Explainer, Model, Schema
    from flowdeck.auth.users import add_user, list_users, update_user
    from flowdeck.config import Settings, configure, get_settings
    from flowdeck.elements import (
        Button,
        Column,
        Dashboard,
        DataSource,
        DataSourceDropdown,
        DateTimeRange,
        Dropdown,
        Element,
        Image,
        InfographData,
        Infographic,
        InputElement,
        MultiDropdown,
        NumericRange,
        NumericRangeSlider,
        NumericSlider,
        PlotlyPlot,
        RichText,
        RichTextClickable,
        Row,
        SegmentedControl,
        SingleDropdown,
        Table,
        TextInput,
    )
    from flowdeck.elements.callbacks import (
        AssetDownloadCallback,
        ContainerToggleCallback,
        DrilldownSize,
        DrilldownType,
        auto_refresh_callback,
        drilldown_callback,
        page_update_callback,
        row_action_callback,
        standard_event_callback,
    )
    from flowdeck.errors import (
        AccessError,
        AlreadyExistsError,
        CallbackError,
        CallbackLoadError,
        ConfigurationError,
        FlowdeckError,
        IntegrityError,
        MissingInputError,
        NotFoundError,
        QuotaBusyError,
        QuotaExceededError,
        StepCancelledError,
        StepFailedError,
        StepStateError,
        ValidationError,
    )
    from flowdeck.flow.callbacks import CallbackEvent, CallbackOutcome, DrilldownStoreInterface, fire_callback
    from flowdeck.flow.headless import run_headless, trigger_flow_execution
    from flowdeck.flow.model import App, Flow, FlowMetadata, SingletonApp, Step, StepType
    from flowdeck.flow.registry import list_registered_flows, unregister_flow
    from flowdeck.flow.runner import FlowRun, delete_run, fork_run, list_runs, open_run, share_run, start, unshare_run
    from flowdeck.page import Card, Comment, Container, Page, Section, Segment
    from flowdeck.storage.connection_urls import ConnectionType
    from flowdeck.store.assets import delete_asset, share_asset, unshare_asset
    from flowdeck.store.comments import CardComment, add_comment, delete_comment, edit_comment, list_comments
    from flowdeck.store.connections import add_connection, remove_connection, share_connection, unshare_connection
    from flowdeck.store.notifications import (
        add_notification,
        check_notifications,
        get_smtp_server,
        remove_notification,
        remove_smtp_server,
        set_smtp_server,
    )
    from flowdeck.store.status import FlowStatus, RunState, StepState, StepStatus
    from flowdeck.store.store_interface import StoreInterface
    from flowdeck.triggers import (
        AssetTrigger,
        CompositeTrigger,
        PostgresTrigger,
        S3Trigger,
        ScheduleTrigger,
        check_triggers,
    )
    from flowdeck.triggers.apps import register_flow
