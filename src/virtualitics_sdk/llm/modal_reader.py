"""The SDK's ``virtualitics_sdk.llm.modal_reader`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class
from virtualitics_sdk.llm.types import ModalContentResult as ModalContentResult
from virtualitics_sdk.llm.types import RawChatContext as RawChatContext

ModalContentReader = unhosted_class("ModalContentReader", "LLM agents and chat")

__all__ = ["ModalContentReader", "ModalContentResult", "RawChatContext"]
