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
    "fork_run": "flowdeck.flow.runner",
    "list_runs": "flowdeck.flow.runner",
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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowdeck' has no attribute {name!r}")
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
        DataSource,
        DateTimeRange,
        Dropdown,
        Element,
        Image,
        Infographic,
        InputElement,
        NumericRange,
        PlotlyPlot,
        RichText,
        Table,
        TextInput,
    )
    from flowdeck.errors import (
        AccessError,
        AlreadyExistsError,
        ConfigurationError,
        FlowdeckError,
        IntegrityError,
        MissingInputError,
        NotFoundError,
        StepCancelledError,
        StepFailedError,
        StepStateError,
        ValidationError,
    )
    from flowdeck.flow.model import App, Flow, FlowMetadata, Step, StepType
    from flowdeck.flow.runner import FlowRun, delete_run, fork_run, list_runs, open_run, share_run, start
    from flowdeck.page import Card, Page, Section
    from flowdeck.storage.connection_urls import ConnectionType
    from flowdeck.store.assets import delete_asset, share_asset, unshare_asset
    from flowdeck.store.connections import add_connection, remove_connection, share_connection
    from flowdeck.store.status import FlowStatus, RunState, StepState, StepStatus
    from flowdeck.store.store_interface import StoreInterface
