"""The SDK's ``virtualitics_sdk.llm.model_builder`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_function

build_model = unhosted_function("build_model", "LLM agents and chat")
build_default_model_from_llm_host = unhosted_function("build_default_model_from_llm_host", "LLM agents and chat")

__all__ = ["build_default_model_from_llm_host", "build_model"]
