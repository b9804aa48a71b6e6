"""The per-session tool trace: every tool step whole (arguments, full summary, data), downloadable as JSON.

The model sees at most its character budget of a result; the trace keeps everything, so a
person can check exactly what a tool returned.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["StepStatus", "ToolStep", "ToolTrace"]

StepStatus = Literal["ok", "invalid_arguments", "unknown_tool", "failed", "cancelled"]


@dataclass(frozen=True)
class ToolStep:
    """One tool call as it happened. ``arguments`` is the validated dict, or the raw text when invalid."""

    turn: int
    call_id: str
    tool: str
    arguments: dict[str, Any] | str
    status: StepStatus
    summary: str
    source: Literal["model", "planner"] = "model"
    round: int = 1
    data: Any = None
    artifact: dict[str, Any] | None = None
    elapsed_ms: float = 0.0
    model_chars: int = 0
    """How many characters of the summary the model was sent (0: none, or the planner ran it)."""
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ToolStep:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def line(self) -> str:
        """A short line for memory and saved conversations: ``tool(args) -> first line of the summary``."""
        args = self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments, default=str)
        first = self.summary.split("\n", 1)[0]
        return f"{self.tool}({args[:200]}) -> {self.status}: {first[:200]}"


class ToolTrace:
    """Thread-safe list of ``ToolStep``s for one chat session."""

    def __init__(self, steps: list[ToolStep] | None = None) -> None:
        self._steps: list[ToolStep] = list(steps or [])
        self._lock = threading.Lock()

    def add(self, step: ToolStep) -> None:
        with self._lock:
            self._steps.append(step)

    @property
    def steps(self) -> list[ToolStep]:
        with self._lock:
            return list(self._steps)

    def replace(self, steps: list[ToolStep]) -> None:
        with self._lock:
            self._steps = list(steps)

    def __len__(self) -> int:
        return len(self._steps)

    def to_json(self, indent: int | None = 1) -> str:
        """The whole trace as JSON text (for a download button); values that are not JSON become strings."""
        return json.dumps({"steps": [s.to_dict() for s in self.steps]}, indent=indent, default=str)
