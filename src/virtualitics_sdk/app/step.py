"""The SDK's ``virtualitics_sdk.app.step`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.flow.model import App as App
from flowdeck.flow.model import FlowMetadata as FlowMetadata
from flowdeck.flow.model import Step as Step
from flowdeck.flow.model import StepType as StepType
from flowdeck.page import Page as Page
from virtualitics_sdk.llm.agent import DispatcherAgentInterface as DispatcherAgentInterface

__all__ = ["App", "DispatcherAgentInterface", "FlowMetadata", "Page", "Step", "StepType"]
