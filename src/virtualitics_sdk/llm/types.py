"""The SDK's ``virtualitics_sdk.llm.types`` module, backed by flowdeck."""

from __future__ import annotations

import enum
from typing import Any

from flowdeck.elements import Element as Element
from flowdeck.elements import ElementType as ElementType
from virtualitics_sdk._compat import unhosted_class

ElementMap: Any = Any
ModalContentResult = unhosted_class("ModalContentResult", "LLM agents and chat")
RawChatContext = unhosted_class("RawChatContext", "LLM agents and chat")
ProcessedChatMessage = unhosted_class("ProcessedChatMessage", "LLM agents and chat")
ChatSource = unhosted_class("ChatSource", "LLM agents and chat")
ChatSourceCard = unhosted_class("ChatSourceCard", "LLM agents and chat")


class AvailableEvents(enum.Enum):
    """AvailableEvents (the SDK's enum; values are the member names in lower case)."""

    MESSAGE = "message"
    CHAT_END = "chat_end"
    STATE_UPDATE = "state_update"
    PAGE_UPDATE = "page_update"
    PAGE_REFRESH = "page_refresh"
    UPDATE_THINKING = "update_thinking"
    POST_PROCESSING = "post_processing"
    EXCEPTION = "exception"


StreamMessage = unhosted_class("StreamMessage", "LLM agents and chat")
StreamSourceInformation = unhosted_class("StreamSourceInformation", "LLM agents and chat")
StreamPageRefresh = unhosted_class("StreamPageRefresh", "LLM agents and chat")
StreamChatEnd = unhosted_class("StreamChatEnd", "LLM agents and chat")
DashboardFilter = unhosted_class("DashboardFilter", "LLM agents and chat")
StreamMessageState = unhosted_class("StreamMessageState", "LLM agents and chat")
ActionPageUpdate = unhosted_class("ActionPageUpdate", "LLM agents and chat")
StreamActionPageUpdate = unhosted_class("StreamActionPageUpdate", "LLM agents and chat")
StreamThinking = unhosted_class("StreamThinking", "LLM agents and chat")
StreamExecutingTool = unhosted_class("StreamExecutingTool", "LLM agents and chat")
StreamWaitingForInput = unhosted_class("StreamWaitingForInput", "LLM agents and chat")
StreamException = unhosted_class("StreamException", "LLM agents and chat")
StreamEvent: Any = Any

__all__ = [
    "ActionPageUpdate",
    "AvailableEvents",
    "ChatSource",
    "ChatSourceCard",
    "DashboardFilter",
    "Element",
    "ElementMap",
    "ElementType",
    "ModalContentResult",
    "ProcessedChatMessage",
    "RawChatContext",
    "StreamActionPageUpdate",
    "StreamChatEnd",
    "StreamEvent",
    "StreamException",
    "StreamExecutingTool",
    "StreamMessage",
    "StreamMessageState",
    "StreamPageRefresh",
    "StreamSourceInformation",
    "StreamThinking",
    "StreamWaitingForInput",
]
