"""The offline command planner: plain commands to tool calls with no model, by a small parsed grammar.

A toolset registers ``Command`` templates on its tools, for example
``"go to {x} {y} {z}"``, ``"set [the] contrast of {layer:name} to {limits:range}"`` or
``Command("zoom in", {"factor": 2})``. A template is literal words (any case), ``[optional
words|alternatives]``, ``(required|alternatives)`` and ``{parameter:type}`` placeholders:

======== ============================================ =====================
type     matches                                       gives
======== ============================================ =====================
number   ``12``, ``-3.5``, ``1e3``                    float
int      ``20``                                        int
range    ``20-180``, ``20 to 180``, ``20..180``        (float, float)
numbers  ``1200 900 40``, ``1200, 900, 40``            list[float]
name     ``em``, ``/units``, ``"my layer"``        str (quotes removed)
text     the rest of the command                       str
a|b|c    one of the words                              str (lower case)
======== ============================================ =====================

Without a type, the tool parameter's annotation decides (int, float, str, Literal). An
input may hold several commands joined by "and", "then", commas, semicolons or new lines
("go to 1200 900 40 and zoom in"); a command whose own text contains "and" or a comma still
matches, because the longest run of pieces that forms one command wins (a semicolon or a new
line always ends a command). Nothing is evaluated: the grammar compiles to regular
expressions, and the planned calls go through the same tool registry (validation, events,
trace) as a model's calls.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engines.agent.errors import AgentError

__all__ = ["Command", "CommandPlanner", "CompiledCommand", "Plan", "PlannedCall", "compile_command"]

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"({_NUM})\s*(?:-|–|\.\.|to)\s*({_NUM})")


def _parse_range(text: str) -> tuple[float, ...]:
    """The two ends of a range; the planner only passes text its range pattern matched."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a range such as '2-5' or '2 to 5'")
    return tuple(float(v) for v in match.groups())


_TYPES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "number": (_NUM, float),
    "int": (r"[-+]?\d+", int),
    "range": (rf"{_NUM}\s*(?:-|–|\.\.|to)\s*{_NUM}", _parse_range),
    "numbers": (rf"{_NUM}(?:(?:\s*,\s*|\s+){_NUM})+", lambda s: [float(v) for v in re.findall(_NUM, s)]),
    "name": (r"\"[^\"]+\"|'[^']+'|[\w/][\w.\-/:]*", lambda s: s.strip("\"'")),
    "text": (r".+?", str.strip),
}
_TOKEN = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|[^\s\[\]({]+")
_GAP = r"(?:\s+|\s*,\s*)"
_HARD_SEPARATOR = re.compile(r"\s*(?:;|\n)\s*")
"""Always ends a command (a "text" placeholder never runs past it)."""
_SEPARATOR = re.compile(r"\s*(?:,|\band then\b|\bthen\b|\band\b)\s*", re.IGNORECASE)
_POLITE = re.compile(r"^\s*(?:please|can you|could you|would you)\s+|\s+please\s*$|[.!?\s]+$", re.IGNORECASE)
_MAX_PIECES = 32
"""The longest run of pieces tried as one command (a query with many commas and "and"s is one)."""
_HELP = re.compile(r"^\s*(?:help|\?|commands|what can you do\??|list commands)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    """A command template for one tool, with arguments it always passes (``Command("zoom in", {"factor":
    2})``)."""

    template: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    example: str | None = None
    """Shown in the command list instead of the template, if given."""


@dataclass(frozen=True)
class CompiledCommand:
    tool: str
    command: Command
    pattern: re.Pattern[str]
    converters: Mapping[str, Callable[[str], Any]]
    specificity: int
    form: str
    """How the command list shows it: the example, or the template with ``<placeholders>``."""
    description: str = ""

    def match(self, text: str) -> dict[str, Any] | None:
        found = self.pattern.fullmatch(" " + text)
        if found is None:
            return None
        values = {
            name: self.converters[name](raw) for name, raw in found.groupdict().items() if raw is not None
        }
        return {**self.command.arguments, **values}


@dataclass(frozen=True)
class PlannedCall:
    tool: str
    arguments: dict[str, Any]
    text: str
    """The part of the input this call came from."""


@dataclass(frozen=True)
class Plan:
    calls: tuple[PlannedCall, ...]
    not_understood: tuple[str, ...]


def compile_command(
    tool: str, command: Command, parameters: Mapping[str, Any], description: str = ""
) -> CompiledCommand:
    """Compile a template against the tool's parameters (name -> annotation); bad templates raise at
    definition."""
    unknown = set(command.arguments) - set(parameters)
    if unknown:
        raise AgentError(
            f"command {command.template!r} passes {sorted(unknown)}, which tool {tool} "
            f"does not take (it takes {sorted(parameters)})"
        )
    converters: dict[str, Callable[[str], Any]] = {}
    pattern, literal = _compile_tokens(command.template, command.template, tool, parameters, converters)
    if not converters and not literal:
        raise AgentError(f"command {command.template!r} for tool {tool} has no words to match")
    return CompiledCommand(
        tool,
        command,
        re.compile(pattern + r"\s*", re.IGNORECASE),
        converters,
        literal,
        command.example or _help_form(command.template),
        description,
    )


def _compile_tokens(
    body: str,
    template: str,
    tool: str,
    parameters: Mapping[str, Any],
    converters: dict[str, Callable[[str], Any]],
) -> tuple[str, int]:
    """The regular expression of a template (or of an optional part of one) and its count of required
    literal characters; adds each placeholder's converter to ``converters``."""
    pattern, literal, end = "", 0, -1
    for found in _TOKEN.finditer(body):
        token = found.group()
        gap = _GAP if found.start() > end else ""  # "{power}x": no space in the template, none needed
        end = found.end()
        if token.startswith("{"):
            name, regex, convert = _placeholder(token, tool, parameters, template)
            if name in converters:
                raise AgentError(f"command {template!r} uses {{{name}}} twice")
            converters[name] = convert
            pattern += f"{gap}(?P<{name}>{regex})"
        elif token.startswith("[") and "{" in token:
            # "[{layer:name}]", "[in {table:name}]": an optional part with a placeholder; it is left out
            # of the arguments when absent, so the tool's default applies.
            inner, _ = _compile_tokens(token[1:-1], template, tool, parameters, converters)
            pattern += f"(?:{gap}{inner.removeprefix(_GAP)})?"
        elif token.startswith("["):
            pattern += f"(?:{gap}{_alternatives(token[1:-1])})?"
        elif token.startswith("("):
            pattern += f"{gap}{_alternatives(token[1:-1])}"
            literal += min(len(a) for a in token[1:-1].split("|"))
        else:
            pattern += gap + re.escape(token)
            literal += len(token)
    return pattern, literal


def _placeholder(
    token: str, tool: str, parameters: Mapping[str, Any], template: str
) -> tuple[str, str, Callable[[str], Any]]:
    name, _, kind = token[1:-1].partition(":")
    name, kind = name.strip(), kind.strip()
    if name not in parameters:
        raise AgentError(
            f"command {template!r} names {{{name}}}, which is not a parameter of tool "
            f"{tool} (it takes {sorted(parameters)})"
        )
    if not kind:
        choices = _literal_choices(parameters[name])
        if choices:
            return name, _alternatives("|".join(choices)), lambda text: choices[text.lower()]
        kind = _inferred_type(parameters[name])
    if "|" in kind:
        return name, _alternatives(kind), str.lower
    if kind not in _TYPES:
        raise AgentError(
            f"command {template!r}: unknown placeholder type {kind!r} "
            f"(use one of {sorted(_TYPES)} or words separated by |)"
        )
    regex, convert = _TYPES[kind]
    return name, regex, convert


def _options(annotation: Any) -> list[Any]:
    """The types of an annotation, without None and Annotated metadata."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _literal_choices(annotation: Any) -> dict[str, Any]:
    first = _options(annotation)[0]
    if typing.get_origin(first) is not typing.Literal:
        return {}
    return {str(value).lower(): value for value in typing.get_args(first)}


def _inferred_type(annotation: Any) -> str:
    first = _options(annotation)[0]
    if typing.get_origin(first) is typing.Annotated:
        first = typing.get_args(first)[0]
    return {int: "int", float: "number", str: "name"}.get(first, "text")


def _alternatives(body: str) -> str:
    words = [re.escape(a.strip()).replace(r"\ ", r"\s+") for a in body.split("|") if a.strip()]
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


def _help_form(template: str) -> str:
    shown = re.sub(r"\{(\w+)\s*:\s*range\s*\}", r"<\1: low-high>", template)
    shown = re.sub(r"\{(\w+)[^}]*\}", r"<\1>", shown)
    shown = re.sub(r"\s*\[[^\]]*\]", "", shown)
    return re.sub(r"\(([^)]*)\)", lambda m: m.group(1).replace("|", "/"), shown).strip()


class CommandPlanner:
    """Plans tool calls from plain commands; see the module docstring. Costs well under a millisecond a
    command."""

    def __init__(self, commands: Sequence[CompiledCommand]) -> None:
        self._registered = list(commands)
        self.commands = sorted(self._registered, key=lambda c: -c.specificity)

    def is_help_request(self, text: str) -> bool:
        return bool(_HELP.match(text))

    def plan(self, text: str) -> Plan:
        calls: list[PlannedCall] = []
        unknown: list[str] = []
        for part in _HARD_SEPARATOR.split(text):
            self._plan_part(part, calls, unknown)
        return Plan(tuple(calls), tuple(unknown))

    def _plan_part(self, text: str, calls: list[PlannedCall], unknown: list[str]) -> None:
        """Greedy: from each piece, the longest run of pieces that is one command."""
        pieces, separators = _split(text)
        i = 0
        while i < len(pieces):
            if not pieces[i].strip():
                i += 1
                continue
            for j in range(min(len(pieces), i + _MAX_PIECES), i, -1):
                call = self._match(_join(pieces, separators, i, j))
                if call is not None:
                    calls.append(call)
                    i = j
                    break
            else:
                unknown.append(pieces[i].strip())
                i += 1

    def _match(self, text: str) -> PlannedCall | None:
        cleaned = _POLITE.sub("", text).strip()
        for command in self.commands:
            arguments = command.match(cleaned)
            if arguments is not None:
                return PlannedCall(command.tool, arguments, text.strip())
        return None

    def explain(self, plan: Plan) -> str:
        """The answer when a plan cannot run: what was not understood, and every command there is."""
        quoted = ", ".join(repr(t) for t in plan.not_understood)
        if plan.calls and plan.not_understood:
            understood = ", ".join(repr(c.text) for c in plan.calls)
            head = f"I can't do that offline: I understood {understood} but not {quoted}, so I did nothing"
        elif plan.not_understood:
            head = f"I can't do that offline: I did not understand {quoted}"
        else:
            head = "Type a command"
        lines = self.help_lines()
        if not lines:
            return head + ". This chat has no offline commands."
        return head + "; here is what I understand:\n" + "\n".join(f"- {line}" for line in lines)

    def help_lines(self) -> list[str]:
        """One line per tool ("go to <x> <y> <z> or go to <x> <y>: Centre the view"), in registration
        order."""
        forms: dict[str, list[str]] = {}
        descriptions: dict[str, str] = {}
        for command in self._registered:
            forms.setdefault(command.tool, []).append(command.form)
            descriptions.setdefault(command.tool, command.description)
        return [
            " or ".join(shown) + (f": {descriptions[t]}" if descriptions[t] else "")
            for t, shown in forms.items()
        ]


def _split(text: str) -> tuple[list[str], list[str]]:
    pieces, separators, start = [], [], 0
    for found in _SEPARATOR.finditer(text):
        pieces.append(text[start : found.start()])
        separators.append(found.group())
        start = found.end()
    pieces.append(text[start:])
    return pieces, separators


def _join(pieces: list[str], separators: list[str], start: int, stop: int) -> str:
    out = pieces[start]
    for k in range(start + 1, stop):
        out += separators[k - 1] + pieces[k]
    return out
