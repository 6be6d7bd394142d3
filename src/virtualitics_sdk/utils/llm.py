"""The SDK's ``virtualitics_sdk.utils.llm`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import df_to_compact_markdown as df_to_compact_markdown

__all__ = ["df_to_compact_markdown"]
