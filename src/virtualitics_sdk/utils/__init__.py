"""The SDK's ``virtualitics_sdk.utils`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import compare_platform_version as compare_platform_version
from virtualitics_sdk._compat import get_platform_version_info as get_platform_version_info

__all__ = ["compare_platform_version", "get_platform_version_info"]
