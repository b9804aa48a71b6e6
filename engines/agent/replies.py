"""What a model answers in one request: text, tool calls and token usage, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ModelReply", "RequestedToolCall", "TokenUsage"]


@dataclass
class TokenUsage:
    """Tokens spent; added up per turn, per session and per vision client (for cost and rate limits)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: TokenUsage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.requests += other.requests

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class RequestedToolCall:
    """A tool call as the model wrote it: arguments are raw text, validated only by the registry."""

    id: str
    name: str
    arguments_text: str

    def to_message(self) -> dict:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments_text},
        }


@dataclass(frozen=True)
class ModelReply:
    """One completed model answer: its text (may be empty), the tool calls it asks for, its usage."""

    text: str = ""
    tool_calls: tuple[RequestedToolCall, ...] = ()
    usage: TokenUsage = field(default_factory=TokenUsage)
    finish_reason: str | None = None

    def to_message(self) -> dict:
        """The assistant message to send back in the next request."""
        message: dict = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message() for call in self.tool_calls]
        return message
