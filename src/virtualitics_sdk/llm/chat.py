"""The SDK's ``virtualitics_sdk.llm.chat`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.page import Page as Page
from virtualitics_sdk._compat import unhosted_function

extract_context_from_page = unhosted_function("extract_context_from_page", "LLM agents and chat")

__all__ = ["Page", "extract_context_from_page"]
