"""The agent engine: one LLM layer, tool registry, tool loop and offline planner for every chat.

A page builds ``Toolset``s over its session's state, creates a ``ChatSession`` with them and an
``LlmConfig`` (or None: the offline command planner), and renders the events of
``session.send(text)`` from a worker thread. Vision judges use ``OpenAICompatibleModel`` with
``ask_about_images`` / ``ask_about_images_async`` (a ``CircuitBreaker`` and a concurrency limit per run,
``ModelPricing`` for cost).
"""

from engines.agent.base import ChatModel
from engines.agent.breaker import CircuitBreaker
from engines.agent.config import LlmConfig
from engines.agent.context import DEFAULT_SYSTEM_PROMPT
from engines.agent.errors import (
    AgentError,
    ConversationNotFound,
    InvalidToolArguments,
    LlmAuthError,
    LlmBadResponse,
    LlmEndpointDown,
    LlmEndpointError,
    LlmRateLimited,
    LlmRequestRejected,
    LlmServerError,
    LlmSetupError,
    LlmTimeout,
    LlmUnreachable,
    ToolDefinitionError,
    ToolFailed,
    UnknownTool,
)
from engines.agent.events import (
    AgentEvent,
    ErrorEvent,
    FinalAnswer,
    Retrying,
    TextDelta,
    ToolError,
    ToolFinished,
    ToolStarted,
)
from engines.agent.images import (
    ImageAnswer,
    ask_about_images,
    ask_about_images_async,
    image_part,
    user_message,
)
from engines.agent.links import StreamingUrlShortener, shorten_urls
from engines.agent.loop import TurnLimits
from engines.agent.memory import Exchange, InteractionMemory
from engines.agent.openai_compatible import OpenAICompatibleModel
from engines.agent.planner import Command, CommandPlanner, Plan, PlannedCall
from engines.agent.pricing import DEFAULT_PRICES, ModelPricing
from engines.agent.registry import ToolRegistry
from engines.agent.replies import ModelReply, RequestedToolCall, TokenUsage
from engines.agent.results import (
    Artifact,
    ImageArtifact,
    PlotArtifact,
    TableArtifact,
    ToolResult,
    ViewerLinkArtifact,
    summarise_table,
)
from engines.agent.session import ChatRun, ChatSession
from engines.agent.store import Conversation, ConversationInfo, ConversationStore, SavedTurn
from engines.agent.tools import Tool, Toolset, tool
from engines.agent.trace import ToolStep, ToolTrace

__all__ = [
    "AgentError",
    "AgentEvent",
    "Artifact",
    "ChatModel",
    "ChatRun",
    "ChatSession",
    "CircuitBreaker",
    "Command",
    "CommandPlanner",
    "Conversation",
    "ConversationInfo",
    "ConversationNotFound",
    "ConversationStore",
    "DEFAULT_PRICES",
    "DEFAULT_SYSTEM_PROMPT",
    "ErrorEvent",
    "Exchange",
    "FinalAnswer",
    "ImageAnswer",
    "ImageArtifact",
    "InteractionMemory",
    "InvalidToolArguments",
    "LlmAuthError",
    "LlmBadResponse",
    "LlmConfig",
    "LlmEndpointDown",
    "LlmEndpointError",
    "LlmRateLimited",
    "LlmRequestRejected",
    "LlmServerError",
    "LlmSetupError",
    "LlmTimeout",
    "LlmUnreachable",
    "ModelPricing",
    "ModelReply",
    "OpenAICompatibleModel",
    "Plan",
    "PlannedCall",
    "PlotArtifact",
    "RequestedToolCall",
    "Retrying",
    "SavedTurn",
    "StreamingUrlShortener",
    "TableArtifact",
    "TextDelta",
    "TokenUsage",
    "Tool",
    "ToolDefinitionError",
    "ToolError",
    "ToolFailed",
    "ToolFinished",
    "ToolRegistry",
    "ToolResult",
    "ToolStarted",
    "ToolStep",
    "ToolTrace",
    "Toolset",
    "TurnLimits",
    "UnknownTool",
    "ViewerLinkArtifact",
    "ask_about_images",
    "ask_about_images_async",
    "image_part",
    "shorten_urls",
    "summarise_table",
    "tool",
    "user_message",
]
