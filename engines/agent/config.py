"""Where a language model is reached: one small, immutable, picklable description of an endpoint.

Any OpenAI-compatible server works (OpenAI, Ollama at ``http://localhost:11434/v1``, vLLM at
``:8000/v1``, llama.cpp's server at ``:8080/v1``): they differ only by base URL, key and model
name. ``None`` in place of an ``LlmConfig`` means offline: the rule-based planner answers
chats and the metrics judge curates. The app's settings build it from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LlmConfig"]

OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class LlmConfig:
    """An OpenAI-compatible endpoint. ``vision_model`` (for image inputs) defaults to ``model``."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = None
    vision_model: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    """Attempts after the first for retryable failures (timeouts, 429, 5xx), with exponential backoff."""
    backoff_s: float = 1.0
    """First wait before a retry; doubled each attempt (with jitter) unless the server sends Retry-After."""
    max_wait_s: float = 30.0
    """Longest single wait: a Retry-After beyond it ends the call with a message instead of blocking the
    chat."""
    temperature: float | None = None
    """None: the server's default (some local servers reject the parameter)."""
    chat_images: bool = False
    """The chat model reads images: a tool's picture (a viewer screenshot) is sent to it after the tool's
    result. Off by default, since a text-only model rejects requests that carry images."""

    @property
    def model_for_images(self) -> str:
        return self.vision_model or self.model

    @property
    def endpoint(self) -> str:
        """The base URL requests go to (OpenAI's own when none is set)."""
        return (self.base_url or OPENAI_BASE_URL).rstrip("/")

    def describe(self) -> str:
        """For the UI: model and host, never the key."""
        return f"{self.model} at {self.base_url or 'api.openai.com'}"
