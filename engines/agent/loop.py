"""One chat turn as a stream of events: the model's tool loop, and the offline planner through the same tools.

Both are generators, meant to be iterated on a worker thread; each yields ``AgentEvent``s
(see ``events``) and always ends with one ``FinalAnswer``. Cancellation (``threading.Event``
or a callable) is checked before every model request, between streamed pieces, before every
tool call and while waiting to retry; a tool that is running is not interrupted. The texts
of all ``TextDelta`` events of a turn joined equal the ``FinalAnswer`` text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engines._progress import Cancel, Cancelled, is_cancelled
from engines.agent.base import ChatModel, Message
from engines.agent.errors import InvalidToolArguments, LlmEndpointError, ToolFailed, UnknownTool
from engines.agent.events import (
    AgentEvent,
    ErrorEvent,
    FinalAnswer,
    StopReason,
    TextDelta,
    ToolError,
    ToolFinished,
    ToolStarted,
)
from engines.agent.images import user_message
from engines.agent.links import StreamingUrlShortener, shorten_urls
from engines.agent.planner import Plan
from engines.agent.registry import ToolRegistry
from engines.agent.replies import ModelReply, TokenUsage
from engines.agent.results import ImageArtifact, truncate_for_model
from engines.agent.trace import StepStatus, ToolStep, ToolTrace

__all__ = ["ToolOutcome", "TurnLimits", "execute_tool_call", "run_model_turn", "run_planned_turn"]


@dataclass(frozen=True)
class TurnLimits:
    """``max_rounds``: model requests that may call tools in one turn; ``result_chars``: a result's budget
    for the model; ``stream``: ask for streamed replies (text shown as it is written)."""

    max_rounds: int = 6
    result_chars: int = 4000
    stream: bool = True


@dataclass(frozen=True)
class ToolOutcome:
    """What the loop needs after a call: did it run, the text for the model (cut to budget), the whole
    summary, and the picture it made (encoded bytes), if any, for a model that reads images."""

    ok: bool
    model_text: str
    summary: str
    image: bytes | None = None


def execute_tool_call(
    registry: ToolRegistry,
    trace: ToolTrace,
    call_id: str,
    name: str,
    arguments: Mapping[str, Any] | str | None,
    *,
    turn: int,
    round_: int,
    source: Literal["model", "planner"],
    result_chars: int,
) -> Generator[AgentEvent, None, ToolOutcome]:
    """Validate, announce, run, summarise and record one call. Costs well under a millisecond beyond the
    tool."""
    start = time.perf_counter()
    raw = arguments if isinstance(arguments, str) else dict(arguments or {})
    try:
        prepared = registry.prepare(name, arguments)
    except (UnknownTool, InvalidToolArguments) as error:
        status: StepStatus = "unknown_tool" if isinstance(error, UnknownTool) else "invalid_arguments"
        return (yield from _failed(trace, call_id, name, raw, error, status, turn, round_, source, start))
    yield ToolStarted(call_id=call_id, tool=name, arguments=prepared.arguments, mutates=prepared.tool.mutates)
    try:
        result = registry.run(prepared)
    except ToolFailed as error:
        return (
            yield from _failed(
                trace, call_id, name, prepared.arguments, error, "failed", turn, round_, source, start
            )
        )
    model_text = truncate_for_model(result.summary, result_chars)
    elapsed = (time.perf_counter() - start) * 1000
    trace.add(
        ToolStep(
            turn=turn,
            call_id=call_id,
            tool=name,
            arguments=prepared.arguments,
            status="ok",
            summary=result.summary,
            source=source,
            round=round_,
            data=result.data,
            artifact=result.artifact.describe() if result.artifact else None,
            elapsed_ms=elapsed,
            model_chars=len(model_text) if source == "model" else 0,
        )
    )
    yield ToolFinished(
        call_id=call_id,
        tool=name,
        summary=result.summary,
        artifact=result.artifact,
        elapsed_ms=elapsed,
        mutates=prepared.tool.mutates,
    )
    image = result.artifact.data if isinstance(result.artifact, ImageArtifact) else None
    return ToolOutcome(True, model_text, result.summary, image)


def _failed(
    trace: ToolTrace,
    call_id: str,
    name: str,
    raw: Any,
    error: Exception,
    status: StepStatus,
    turn: int,
    round_: int,
    source: Literal["model", "planner"],
    start: float,
) -> Generator[AgentEvent, None, ToolOutcome]:
    message = str(error)
    arguments_text = raw if isinstance(raw, str) else _json(raw)
    trace.add(
        ToolStep(
            turn=turn,
            call_id=call_id,
            tool=name,
            arguments=raw,
            status=status,
            summary=message,
            source=source,
            round=round_,
            elapsed_ms=(time.perf_counter() - start) * 1000,
        )
    )
    yield ToolError(
        call_id=call_id,
        tool=name,
        message=message,
        error_type=type(error).__name__,
        arguments_text=arguments_text,
    )
    return ToolOutcome(False, f"Error: {message} Correct the call and try again, or tell the user.", message)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


class _Transcript:
    """The text shown so far in a turn, so the final answer equals the concatenated deltas.

    Each model round's text (and each notice) starts a new paragraph.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._new_block = False

    def start_block(self) -> None:
        self._new_block = bool(self.parts)

    def emit(self, text: str) -> Iterator[TextDelta]:
        if not text:
            return
        if self._new_block:
            text, self._new_block = "\n\n" + text.lstrip("\n"), False
        self.parts.append(text)
        yield TextDelta(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def run_model_turn(
    model: ChatModel,
    registry: ToolRegistry,
    messages: list[Message],
    trace: ToolTrace,
    *,
    turn: int,
    limits: TurnLimits = TurnLimits(),
    cancel: Cancel = None,
    refresh_context: Callable[[], Message] | None = None,
) -> Iterator[AgentEvent]:
    """The tool loop: ask, run the tools asked for (several per round), repeat until an answer or the round
    limit.

    ``messages`` is extended in place (assistant and tool messages). ``refresh_context``, if
    given, rebuilds ``messages[0]`` (the system message with the state summary) after a round
    whose tools changed state, so the model sees the new state.
    """
    transcript, usage, calls = _Transcript(), TokenUsage(), 0
    round_ = 0
    try:
        for round_ in range(1, limits.max_rounds + 1):
            if is_cancelled(cancel):
                raise Cancelled("Stopped.")
            reply = yield from _ask(model, registry, messages, transcript, limits, cancel)
            usage.add(reply.usage)
            messages.append(reply.to_message())
            if not reply.tool_calls:
                yield _final(transcript, "answered", round_, calls, usage)
                return
            ran, mutated = yield from _run_requested_calls(
                registry, trace, reply, messages, turn, round_, limits, cancel, model.config.chat_images
            )
            calls += ran
            if is_cancelled(cancel):
                raise Cancelled("Stopped.")
            if mutated and refresh_context is not None:
                messages[0] = refresh_context()
        transcript.start_block()
        yield from transcript.emit(
            f"I stopped after {limits.max_rounds} rounds of tool calls, the limit for "
            "one message. The steps so far are shown above; ask me to continue."
        )
        yield _final(transcript, "max_rounds", round_, calls, usage)
    except Cancelled:
        yield _final(transcript, "cancelled", round_, calls, usage)
    except LlmEndpointError as error:
        yield ErrorEvent(message=str(error), error_type=type(error).__name__, retryable=error.retryable)
        transcript.start_block()
        yield from transcript.emit(str(error))
        yield _final(transcript, "error", round_, calls, usage)


def _run_requested_calls(
    registry: ToolRegistry,
    trace: ToolTrace,
    reply: ModelReply,
    messages: list[Message],
    turn: int,
    round_: int,
    limits: TurnLimits,
    cancel: Cancel,
    send_images: bool,
) -> Generator[AgentEvent, None, tuple[int, bool]]:
    """Run the tools one reply asked for, answering each call in ``messages`` (a cancelled call is
    answered too, as the model expects). Returns how many ran and whether any changed state.

    With ``send_images``, the pictures the tools made follow their answers as one user message: a tool
    message carries text only, and nothing may come between the calls and their answers.
    """
    ran, mutated = 0, False
    pictures: list[tuple[str, bytes]] = []
    for call in reply.tool_calls:
        if is_cancelled(cancel):
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "Cancelled by the user."})
            continue
        outcome = yield from execute_tool_call(
            registry,
            trace,
            call.id,
            call.name,
            call.arguments_text,
            turn=turn,
            round_=round_,
            source="model",
            result_chars=limits.result_chars,
        )
        ran += 1
        mutated |= outcome.ok and registry.tools[call.name].mutates
        messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.model_text})
        if send_images and outcome.image is not None:
            pictures.append((call.name, outcome.image))
    if pictures:
        names = ", ".join(name for name, _image in pictures)
        messages.append(
            user_message(
                f"Images returned by the tool calls above, in order: {names}. They are the tools' results, "
                "not a message from the user.",
                [image for _name, image in pictures],
            )
        )
    return ran, mutated


def _ask(
    model: ChatModel,
    registry: ToolRegistry,
    messages: list[Message],
    transcript: _Transcript,
    limits: TurnLimits,
    cancel: Cancel,
) -> Generator[AgentEvent, None, ModelReply]:
    """One model request (with retries); text is shortened and shown as it streams, or at once without
    streaming."""
    shortener = StreamingUrlShortener()
    transcript.start_block()
    events = model.turn(messages, registry.schemas, stream=limits.stream, cancel=cancel)
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            reply: ModelReply = stop.value
            break
        if isinstance(event, TextDelta):
            yield from transcript.emit(shortener.feed(event.text))
        else:
            yield event
    yield from transcript.emit(shortener.flush() if limits.stream else shorten_urls(reply.text))
    return reply


def _final(
    transcript: _Transcript, stopped: StopReason, rounds: int, calls: int, usage: TokenUsage
) -> FinalAnswer:
    return FinalAnswer(text=transcript.text, stopped=stopped, rounds=rounds, tool_calls=calls, usage=usage)


def run_planned_turn(
    plan: Plan,
    registry: ToolRegistry,
    trace: ToolTrace,
    *,
    turn: int,
    not_understood_answer: Callable[[Plan], str],
    result_chars: int = 1500,
    cancel: Cancel = None,
) -> Iterator[AgentEvent]:
    """Run a planned turn: every call in order, stopping at the first that fails, or explain what is not
    understood.

    Nothing runs when part of the input is not understood (half a command list could leave
    the state somewhere the user did not ask for).
    """
    transcript = _Transcript()
    if plan.not_understood or not plan.calls:
        yield from transcript.emit(not_understood_answer(plan))
        yield _final(transcript, "not_understood", 0, 0, TokenUsage())
        return
    lines: list[str] = []
    ran = 0
    for index, call in enumerate(plan.calls):
        if is_cancelled(cancel):
            lines.append("Stopped before: " + ", ".join(repr(c.text) for c in plan.calls[index:]) + ".")
            break
        outcome = yield from execute_tool_call(
            registry,
            trace,
            f"plan_{turn}_{index}",
            call.tool,
            call.arguments,
            turn=turn,
            round_=1,
            source="planner",
            result_chars=result_chars,
        )
        ran += 1
        lines.append(truncate_for_model(outcome.summary, result_chars))
        if not outcome.ok:
            left = plan.calls[index + 1 :]
            if left:
                lines.append("I did not go on with: " + ", ".join(repr(c.text) for c in left) + ".")
            break
    stopped: StopReason = "cancelled" if is_cancelled(cancel) else "offline"
    yield from transcript.emit(shorten_urls("\n".join(lines)))
    yield _final(transcript, stopped, 1, ran, TokenUsage())
