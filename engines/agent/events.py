"""The typed events one chat turn yields, in order, for a UI to render as they come.

A turn is: ``TextDelta`` pieces (streamed, or one piece per round without streaming),
``Retrying`` notices while the endpoint is retried, for every tool call a ``ToolStarted``
(validated arguments) then a ``ToolFinished`` (summary + artifact) or a ``ToolError``
(invalid arguments, unknown tool, the tool raised), an ``ErrorEvent`` when the endpoint
fails for good, and always last one ``FinalAnswer``. The model and the offline planner
yield the same events. ``to_dict()`` gives a JSON-able form (artifacts described, not embedded).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from engines.agent.replies import TokenUsage
from engines.agent.results import Artifact

__all__ = [
    "AgentEvent",
    "ErrorEvent",
    "FinalAnswer",
    "Retrying",
    "StopReason",
    "TextDelta",
    "ToolError",
    "ToolFinished",
    "ToolStarted",
]

StopReason = Literal["answered", "offline", "not_understood", "cancelled", "max_rounds", "error"]


@dataclass(frozen=True)
class AgentEvent:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Artifact):
                value = value.describe()
            elif isinstance(value, TokenUsage):
                value = value.to_dict()
            out[f.name] = value
        return out


@dataclass(frozen=True)
class TextDelta(AgentEvent):
    """A piece of the reply's text; long URLs already shortened to markdown links."""

    kind: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True)
class Retrying(AgentEvent):
    """The endpoint failed in a way worth retrying; the next attempt starts after ``delay_s``."""

    kind: ClassVar[str] = "retrying"
    message: str
    attempt: int
    delay_s: float


@dataclass(frozen=True)
class ToolStarted(AgentEvent):
    """A tool is about to run with these validated arguments."""

    kind: ClassVar[str] = "tool_started"
    call_id: str
    tool: str
    arguments: dict[str, Any]
    mutates: bool


@dataclass(frozen=True)
class ToolFinished(AgentEvent):
    """A tool ran. ``summary`` is whole (the model got at most its budget); show ``artifact`` if set."""

    kind: ClassVar[str] = "tool_finished"
    call_id: str
    tool: str
    summary: str
    artifact: Artifact | None
    elapsed_ms: float
    mutates: bool


@dataclass(frozen=True)
class ToolError(AgentEvent):
    """A tool call did not run or raised; the same message went back to the model so it can correct itself."""

    kind: ClassVar[str] = "tool_error"
    call_id: str
    tool: str
    message: str
    error_type: str
    arguments_text: str


@dataclass(frozen=True)
class ErrorEvent(AgentEvent):
    """The turn could not go on (endpoint failure); the conversation and all state so far are kept."""

    kind: ClassVar[str] = "error"
    message: str
    error_type: str
    retryable: bool


@dataclass(frozen=True)
class FinalAnswer(AgentEvent):
    """Always the last event of a turn: the answer text and why the turn stopped."""

    kind: ClassVar[str] = "final"
    text: str
    stopped: StopReason
    rounds: int = 0
    tool_calls: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
