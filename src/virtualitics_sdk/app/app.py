"""The SDK's ``virtualitics_sdk.app.app`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.flow.model import App as App
from flowdeck.flow.model import Flow as Flow
from flowdeck.flow.model import SingletonApp as SingletonApp
from flowdeck.flow.model import Step as Step
from virtualitics_sdk._compat import optional
from virtualitics_sdk.llm.agent import DispatcherAgentInterface as DispatcherAgentInterface

Trigger = optional("Trigger", "virtualitics_sdk.app.app")

__all__ = ["App", "DispatcherAgentInterface", "Flow", "SingletonApp", "Step", "Trigger"]
