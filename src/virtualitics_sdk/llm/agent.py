"""The SDK's ``virtualitics_sdk.llm.agent`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.page import Page as Page
from virtualitics_sdk._compat import unhosted_class, unhosted_function
from virtualitics_sdk.llm.types import ActionPageUpdate as ActionPageUpdate
from virtualitics_sdk.llm.types import ChatSource as ChatSource
from virtualitics_sdk.llm.types import ChatSourceCard as ChatSourceCard
from virtualitics_sdk.llm.types import RawChatContext as RawChatContext
from virtualitics_sdk.llm.types import StreamActionPageUpdate as StreamActionPageUpdate
from virtualitics_sdk.llm.types import StreamChatEnd as StreamChatEnd
from virtualitics_sdk.llm.types import StreamEvent as StreamEvent
from virtualitics_sdk.llm.types import StreamException as StreamException
from virtualitics_sdk.llm.types import StreamExecutingTool as StreamExecutingTool
from virtualitics_sdk.llm.types import StreamMessage as StreamMessage
from virtualitics_sdk.llm.types import StreamMessageState as StreamMessageState
from virtualitics_sdk.llm.types import StreamPageRefresh as StreamPageRefresh
from virtualitics_sdk.llm.types import StreamSourceInformation as StreamSourceInformation
from virtualitics_sdk.llm.types import StreamThinking as StreamThinking
from virtualitics_sdk.llm.types import StreamWaitingForInput as StreamWaitingForInput

DispatcherAgentInterface = unhosted_class("DispatcherAgentInterface", "LLM agents and chat")
DefaultDispatcherAgent = unhosted_class("DefaultDispatcherAgent", "LLM agents and chat")
DashboardDeps = unhosted_class("DashboardDeps", "LLM agents and chat")
list_dashboard_elements = unhosted_function("list_dashboard_elements", "LLM agents and chat")
get_element_data = unhosted_function("get_element_data", "LLM agents and chat")
PydanticDispatcherAgent = unhosted_class("PydanticDispatcherAgent", "LLM agents and chat")
TestDispatcherAgent = unhosted_class("TestDispatcherAgent", "LLM agents and chat")

__all__ = [
    "ActionPageUpdate",
    "ChatSource",
    "ChatSourceCard",
    "DashboardDeps",
    "DefaultDispatcherAgent",
    "DispatcherAgentInterface",
    "Page",
    "PydanticDispatcherAgent",
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
    "TestDispatcherAgent",
    "get_element_data",
    "list_dashboard_elements",
]
