"""The one base class of a chat model endpoint; a provider implements one request, sync and async.

Retries (with ``Retrying`` events), cancellation while waiting, and token accounting live
here, so every provider behaves the same. Ollama, vLLM and llama.cpp's server are not
providers of their own: they are ``OpenAICompatibleModel`` with another base URL.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from typing import Any

from engines._progress import Cancel
from engines.agent._retry import RetryPolicy, call_with_retries_async, drain, retrying
from engines.agent.breaker import CircuitBreaker
from engines.agent.config import LlmConfig
from engines.agent.events import AgentEvent, Retrying, TextDelta
from engines.agent.replies import ModelReply, TokenUsage

__all__ = ["ChatModel", "Message", "ToolSchema"]

Message = dict[str, Any]
"""An OpenAI-format chat message (``role``, ``content`` as text or parts, ``tool_calls``,
``tool_call_id``)."""
ToolSchema = dict[str, Any]
"""An OpenAI-format tool definition (``{"type": "function", "function": {name, description,
parameters}}``)."""


class ChatModel(ABC):
    """A chat endpoint for one session (or one judge). ``usage`` adds up every request it made.

    Thread-safe for concurrent calls from several threads; ``close()`` releases connections.
    """

    def __init__(self, config: LlmConfig) -> None:
        self.config = config
        self.retry_policy = RetryPolicy.from_config(config)
        self.usage = TokenUsage()
        self._usage_lock = threading.Lock()

    # --- one attempt: what a provider implements -----------------------------------------------
    @abstractmethod
    def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema] = (),
        *,
        stream: bool = False,
        model: str | None = None,
        json_mode: bool = False,
        cancel: Cancel = None,
        max_tokens: int | None = None,
    ) -> Generator[TextDelta, None, ModelReply]:
        """One request. Streaming yields ``TextDelta`` pieces as they arrive; returns the whole reply.

        ``max_tokens`` caps the reply's length (None: the server's default).

        Raises a typed ``LlmEndpointError`` (timeouts, status codes, garbled bodies) and
        ``Cancelled`` when ``cancel`` fires mid-stream.
        """

    @abstractmethod
    async def request_async(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema] = (),
        *,
        model: str | None = None,
        json_mode: bool = False,
        max_tokens: int | None = None,
    ) -> ModelReply:
        """One non-streaming request from a coroutine (for many concurrent calls, e.g. image judging)."""

    def describe(self) -> str:
        return self.config.describe()

    @abstractmethod
    def close(self) -> None:
        """Release connections; the model may still be used afterwards (it reconnects)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the running event loop's connections (call before the loop ends); the model stays
        usable."""

    # --- shared behaviour ------------------------------------------------------------------------
    def turn(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema] = (),
        *,
        stream: bool = False,
        model: str | None = None,
        json_mode: bool = False,
        cancel: Cancel = None,
        max_tokens: int | None = None,
    ) -> Generator[AgentEvent, None, ModelReply]:
        """A request with retries: yields ``TextDelta`` and ``Retrying`` events, returns the reply."""
        reply = yield from retrying(
            lambda: self.request(
                messages,
                tools,
                stream=stream,
                model=model,
                json_mode=json_mode,
                cancel=cancel,
                max_tokens=max_tokens,
            ),
            self.retry_policy,
            cancel,
        )
        self._count(reply.usage)
        return reply

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema] = (),
        *,
        model: str | None = None,
        json_mode: bool = False,
        cancel: Cancel = None,
        on_event: Callable[[AgentEvent], None] | None = None,
        max_tokens: int | None = None,
    ) -> ModelReply:
        """A blocking request with retries (``on_event`` sees ``Retrying`` notices). Costs one request per
        attempt."""
        return drain(
            self.turn(
                messages, tools, model=model, json_mode=json_mode, cancel=cancel, max_tokens=max_tokens
            ),
            on_event,
        )

    async def complete_async(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema] = (),
        *,
        model: str | None = None,
        json_mode: bool = False,
        on_retry: Callable[[Retrying], None] | None = None,
        max_tokens: int | None = None,
        limit: asyncio.Semaphore | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> ModelReply:
        """``complete`` for coroutines: run many with ``asyncio.gather`` (each retries on its own).

        The reply's ``usage`` is this call's own (``self.usage`` adds up all calls). ``limit`` caps the
        requests in flight across calls that share it (held per attempt, not while waiting to retry);
        ``breaker`` ends this and every later call sharing it once the endpoint is known to be down.
        """
        reply = await call_with_retries_async(
            lambda: self.request_async(
                messages, tools, model=model, json_mode=json_mode, max_tokens=max_tokens
            ),
            self.retry_policy,
            on_retry,
            limit=limit,
            breaker=breaker,
        )
        self._count(reply.usage)
        return reply

    def _count(self, usage: TokenUsage) -> None:
        with self._usage_lock:
            self.usage.add(usage)
