"""The tool registry of one chat: every toolset's tools by name, their schemas, validation and running.

Both the model's calls and the offline planner's go through ``prepare`` (unknown tool,
JSON and schema checks: nothing runs on bad arguments) and ``run`` (any exception becomes
``ToolFailed`` with a message, so a broken tool never ends the chat).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from engines.agent.errors import ToolDefinitionError, ToolFailed, UnknownTool
from engines.agent.planner import CommandPlanner
from engines.agent.results import ToolResult, to_tool_result
from engines.agent.tools import Tool, Toolset
from engines.errors import NeurodeckError

__all__ = ["PreparedCall", "ToolRegistry"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedCall:
    """A call whose tool exists and whose arguments passed validation; ``arguments`` is their JSON form."""

    tool: Tool
    validated: BaseModel
    arguments: dict[str, Any]


class ToolRegistry:
    """All tools of the toolsets a session was given. Names must be unique across toolsets."""

    def __init__(self, toolsets: Iterable[Toolset]) -> None:
        self.toolsets = tuple(toolsets)
        self.tools: dict[str, Tool] = {}
        for toolset in self.toolsets:
            for item in toolset:
                if item.name in self.tools:
                    raise ToolDefinitionError(f"two toolsets define a tool named {item.name}; rename one")
                self.tools[item.name] = item

    @cached_property
    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI tool definitions for every tool, in registration order."""
        return [item.schema for item in self.tools.values()]

    @cached_property
    def planner(self) -> CommandPlanner:
        """The offline planner over every tool's commands."""
        return CommandPlanner([command for item in self.tools.values() for command in item.commands])

    def get(self, name: str) -> Tool:
        try:
            return self.tools[name]
        except KeyError:
            raise UnknownTool(
                f"There is no tool named {name!r}. Available tools: {', '.join(self.tools) or 'none'}."
            ) from None

    def prepare(self, name: str, arguments: Mapping[str, Any] | str | None) -> PreparedCall:
        """Find and validate; raises ``UnknownTool`` or ``InvalidToolArguments`` (about 10-50 µs)."""
        found = self.get(name)
        validated = found.validate(arguments)
        return PreparedCall(found, validated, validated.model_dump(mode="json"))

    def run(self, call: PreparedCall) -> ToolResult:
        """Run a prepared call; whatever it raises comes back as ``ToolFailed`` with a message for model and
        chat."""
        try:
            return to_tool_result(call.tool.call(call.validated))
        except NeurodeckError as error:
            raise ToolFailed(f"{call.tool.name} failed: {error}") from error
        except Exception as error:  # a tool's bug must not end the chat; the log keeps the traceback
            log.exception("tool %s raised", call.tool.name)
            raise ToolFailed(
                f"{call.tool.name} failed unexpectedly ({type(error).__name__}: {error})."
            ) from error
