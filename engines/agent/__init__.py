"""The agent engine: one LLM layer, tool registry, tool loop and offline planner for every chat."""

from engines.agent.config import LlmConfig

__all__ = ["LlmConfig"]
