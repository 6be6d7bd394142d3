"""The SDK's ``virtualitics_sdk.llm`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk.llm.agent import DefaultDispatcherAgent as DefaultDispatcherAgent
from virtualitics_sdk.llm.agent import DispatcherAgentInterface as DispatcherAgentInterface
from virtualitics_sdk.llm.agent import PydanticDispatcherAgent as PydanticDispatcherAgent
from virtualitics_sdk.llm.agent import TestDispatcherAgent as TestDispatcherAgent
from virtualitics_sdk.llm.modal_reader import ModalContentReader as ModalContentReader
from virtualitics_sdk.llm.types import ElementMap as ElementMap
from virtualitics_sdk.llm.types import ModalContentResult as ModalContentResult
from virtualitics_sdk.llm.types import RawChatContext as RawChatContext

__all__ = [
    "DefaultDispatcherAgent",
    "DispatcherAgentInterface",
    "ElementMap",
    "ModalContentReader",
    "ModalContentResult",
    "PydanticDispatcherAgent",
    "RawChatContext",
    "TestDispatcherAgent",
]
