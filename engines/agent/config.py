"""Where a language model is reached: one small, immutable, picklable description of an endpoint.

Any OpenAI-compatible server works (OpenAI, Ollama, vLLM, llama.cpp's server): they differ
only by base URL, key and model name. ``None`` in place of an ``LlmConfig`` means offline:
the rule-based planner answers chats and the metrics judge curates.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LlmConfig"]


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

    @property
    def model_for_images(self) -> str:
        return self.vision_model or self.model

    def describe(self) -> str:
        """For the UI: model and host, never the key."""
        return f"{self.model} at {self.base_url or 'api.openai.com'}"
