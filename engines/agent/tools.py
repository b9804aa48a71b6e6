"""Tools and toolsets: a typed Python function becomes a tool with a JSON schema, validation and commands.

A page defines a toolset per session, over that session's state::

    def build_viewer_tools(viewer: ViewerState) -> Toolset:
        tools = Toolset("viewer", "Move and style the Neuroglancer view.")

        @tools.tool(mutates=True, commands=["go to {x} {y} {z}"])
        def set_position(x: float, y: float, z: float) -> str:
            \"\"\"Centre the view on a point.

            Args:
                x: position along x, in voxels
            \"\"\"
            viewer.move_to(x, y, z)
            return f"Moved to ({x:g}, {y:g}, {z:g})."

        return tools

The schema comes from the signature (pydantic), parameter descriptions from the docstring's
``Args:`` section (or ``Annotated[..., Field(description=...)]``), the tool description from
the text above it. Extra arguments are refused, so a model learns the real names.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from engines.agent.errors import InvalidToolArguments, ToolDefinitionError
from engines.agent.planner import Command, CompiledCommand, compile_command

__all__ = ["Tool", "Toolset", "tool"]

_ARGS_HEADER = re.compile(r"^\s*(?:Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s+(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_MARK = "__agent_tool__"


@dataclass(frozen=True)
class _ToolOptions:
    name: str | None
    mutates: bool
    commands: tuple[Command | str, ...]
    description: str | None


@dataclass(frozen=True)
class Tool:
    """One callable tool: name, description, validated arguments, whether it changes state, its commands."""

    name: str
    description: str
    function: Callable[..., Any]
    arguments_model: type[BaseModel]
    mutates: bool
    parameters: Mapping[str, Any]
    commands: tuple[CompiledCommand, ...] = field(default=())

    @cached_property
    def schema(self) -> dict[str, Any]:
        """The OpenAI tool definition (computed once)."""
        parameters = _without_titles(self.arguments_model.model_json_schema())
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }

    @property
    def summary(self) -> str:
        """The first line of the description (for command lists)."""
        return self.description.split("\n", 1)[0]

    def validate(self, arguments: Mapping[str, Any] | str | None) -> BaseModel:
        """Arguments (JSON object text or a mapping) checked against the signature; raises
        ``InvalidToolArguments``."""
        if isinstance(arguments, str):
            arguments = _parse_arguments(self.name, arguments)
        try:
            return self.arguments_model.model_validate(arguments or {})
        except ValidationError as error:
            raise InvalidToolArguments(_explain(self.name, error)) from None

    def call(self, validated: BaseModel) -> Any:
        return self.function(**{name: getattr(validated, name) for name in self.parameters})


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    mutates: bool = False,
    commands: Sequence[Command | str] = (),
    description: str | None = None,
) -> Any:
    """Mark a function or method as a tool, for ``Toolset.from_object`` or ``Toolset.add`` to pick up."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, _MARK, _ToolOptions(name, mutates, tuple(commands), description))
        return fn

    return mark(function) if function is not None else mark


class Toolset:
    """A named group of tools a page hands to a chat session (build one per session, over its state)."""

    def __init__(self, name: str, description: str = "", tools: Iterable[Callable[..., Any]] = ()) -> None:
        self.name = name
        self.description = description
        self.tools: dict[str, Tool] = {}
        for fn in tools:
            self.add(fn)

    def __iter__(self):
        return iter(self.tools.values())

    def __len__(self) -> int:
        return len(self.tools)

    def tool(
        self,
        function: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        mutates: bool = False,
        commands: Sequence[Command | str] = (),
        description: str | None = None,
    ) -> Any:
        """Decorator: define a tool in this toolset (see the module docstring)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(fn, name=name, mutates=mutates, commands=commands, description=description)
            return fn

        return register(function) if function is not None else register

    def add(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        mutates: bool | None = None,
        commands: Sequence[Command | str] = (),
        description: str | None = None,
    ) -> Tool:
        """Add a function as a tool; options given here override those of an ``@tool`` mark."""
        marked: _ToolOptions = getattr(function, _MARK, None) or _ToolOptions(None, False, (), None)
        options = _ToolOptions(
            name or marked.name,
            marked.mutates if mutates is None else mutates,
            tuple(commands) or marked.commands,
            description or marked.description,
        )
        built = _build_tool(function, options)
        if built.name in self.tools:
            raise ToolDefinitionError(f"toolset {self.name} already has a tool named {built.name}")
        self.tools[built.name] = built
        return built

    def command(
        self, template: str, tool: str, arguments: Mapping[str, Any] | None = None, example: str | None = None
    ) -> None:
        """Add an offline command to a tool already in this toolset."""
        if tool not in self.tools:
            raise ToolDefinitionError(f"toolset {self.name} has no tool {tool} (it has {sorted(self.tools)})")
        target = self.tools[tool]
        compiled = compile_command(
            target.name, Command(template, dict(arguments or {}), example), target.parameters, target.summary
        )
        self.tools[tool] = _with_commands(target, (*target.commands, compiled))

    @classmethod
    def from_object(cls, name: str, obj: Any, description: str = "") -> Toolset:
        """A toolset of the methods of ``obj`` marked with ``@tool`` (bound, so they act on that object)."""
        toolset = cls(name, description)
        for attribute in dir(type(obj)):
            member = getattr(type(obj), attribute, None)
            if callable(member) and hasattr(member, _MARK):
                toolset.add(getattr(obj, attribute))
        if not toolset.tools:
            raise ToolDefinitionError(f"{type(obj).__name__} has no methods marked with @tool")
        return toolset


def _with_commands(target: Tool, commands: tuple[CompiledCommand, ...]) -> Tool:
    return Tool(
        target.name,
        target.description,
        target.function,
        target.arguments_model,
        target.mutates,
        target.parameters,
        commands,
    )


def _build_tool(function: Callable[..., Any], options: _ToolOptions) -> Tool:
    name = options.name or function.__name__
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ToolDefinitionError(f"tool name {name!r} must be 1-64 letters, digits, _ or -")
    summary, arg_docs = _parse_docstring(inspect.getdoc(function) or "")
    description = options.description or summary or name.replace("_", " ")
    parameters = _parameters(function, name)
    model = _arguments_model(name, parameters, arg_docs)
    first_line = description.split("\n", 1)[0]
    commands = tuple(
        compile_command(
            name,
            c if isinstance(c, Command) else Command(c),
            {p: a for p, (a, _) in parameters.items()},
            first_line,
        )
        for c in options.commands
    )
    return Tool(
        name,
        description,
        function,
        model,
        options.mutates,
        {p: a for p, (a, _) in parameters.items()},
        commands,
    )


def _parameters(function: Callable[..., Any], name: str) -> dict[str, tuple[Any, Any]]:
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except (NameError, TypeError) as error:
        raise ToolDefinitionError(f"tool {name}: its type hints cannot be resolved ({error})") from error
    out: dict[str, tuple[Any, Any]] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {name}: *args/**kwargs cannot be described to a model")
        if parameter.name not in hints:
            raise ToolDefinitionError(f"tool {name}: parameter {parameter.name} needs a type hint")
        default = ... if parameter.default is parameter.empty else parameter.default
        out[parameter.name] = (hints[parameter.name], default)
    return out


def _arguments_model(
    name: str, parameters: Mapping[str, tuple[Any, Any]], arg_docs: Mapping[str, str]
) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for parameter, (annotation, default) in parameters.items():
        # description=None would hide a description the annotation gives (Annotated[..., Field()]).
        described = (
            Field(default, description=arg_docs[parameter]) if parameter in arg_docs else Field(default)
        )
        fields[parameter] = (annotation, described)
    try:
        return create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    except (TypeError, ValueError) as error:
        raise ToolDefinitionError(f"tool {name}: its parameters cannot form a schema ({error})") from error


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Description (text before ``Args:``) and parameter descriptions (Google style)."""
    lines = doc.splitlines()
    header = next((i for i, line in enumerate(lines) if _ARGS_HEADER.match(line)), None)
    if header is None:
        return doc.strip(), {}
    args: dict[str, str] = {}
    current: str | None = None
    base = next((_indent(line) for line in lines[header + 1 :] if line.strip()), 0)
    for line in lines[header + 1 :]:
        if line.strip() and _indent(line) == 0:
            break  # the next section (Returns:, Raises:, ...)
        found = _ARG_LINE.match(line)
        if found and _indent(line) <= base:
            current = found.group(1)
            args[current] = found.group(2).strip()
        elif current and line.strip():
            args[current] = f"{args[current]} {line.strip()}"
    return "\n".join(lines[:header]).strip(), args


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parse_arguments(name: str, text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise InvalidToolArguments(
            f"The arguments for {name} are not valid JSON ({error.msg} at character "
            f"{error.pos}): {text[:200]!r}. Send one JSON object."
        ) from None


def _explain(name: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        got = "" if item["type"] == "missing" else f" (got {item.get('input')!r})"
        problems.append(f"{where}: {item['msg']}{got}")
    return f"Invalid arguments for {name}: " + "; ".join(problems) + "."


def _without_titles(schema: Any, *, in_names: bool = False) -> Any:
    """Drop pydantic's ``title`` keys (tokens the model does not need), never a property named "title"."""
    if isinstance(schema, dict):
        return {
            k: _without_titles(v, in_names=k in ("properties", "$defs") and not in_names)
            for k, v in schema.items()
            if in_names or k != "title"
        }
    if isinstance(schema, list):
        return [_without_titles(v) for v in schema]
    return schema
