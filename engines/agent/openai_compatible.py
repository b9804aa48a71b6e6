"""Any OpenAI-compatible chat endpoint: OpenAI, Ollama, vLLM, llama.cpp's server (same class, another base
URL).

Uses the official ``openai`` client with its own retries off (``ChatModel`` retries, so the
chat can show each retry and cancel the wait) and the configured timeout per request (for
streaming: per read). Async calls share one ``AsyncOpenAI`` client (one connection pool) per
event loop: creating a client costs tens of milliseconds of CPU (TLS context), too much to pay
per call when a judge makes hundreds. Nothing here reads the environment: the key and URL
come from ``LlmConfig``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator, Sequence
from typing import Any

import openai

from engines._progress import Cancel, Cancelled, is_cancelled
from engines.agent._retry import classify_failure
from engines.agent.base import ChatModel, Message, ToolSchema
from engines.agent.config import LlmConfig
from engines.agent.errors import LlmBadResponse, LlmSetupError
from engines.agent.events import TextDelta
from engines.agent.replies import ModelReply, RequestedToolCall, TokenUsage

__all__ = ["OpenAICompatibleModel"]

_NO_KEY = "not-needed"


class OpenAICompatibleModel(ChatModel):
    """See the module docstring. Creating one opens no connection; the first request does."""

    def __init__(self, config: LlmConfig) -> None:
        if not config.model.strip():
            raise LlmSetupError(
                "No model name is set: set NEURODECK_LLM_MODEL (for example gpt-4o-mini, or "
                "llama3.1 for Ollama)."
            )
        if not config.api_key and not config.base_url:
            raise LlmSetupError(
                "No API key for api.openai.com: set OPENAI_API_KEY, or set OPENAI_BASE_URL to a "
                "local server (Ollama, vLLM, llama.cpp), which needs no key."
            )
        super().__init__(config)
        self._client: openai.OpenAI | None = None
        self._async_clients: dict[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = {}
        self._client_lock = threading.Lock()

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.config.endpoint,
            "api_key": self.config.api_key or _NO_KEY,
            "timeout": self.config.timeout_s,
            "max_retries": 0,
        }

    @property
    def client(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                self._client = openai.OpenAI(**self._client_kwargs())
            return self._client

    def _async_client(self) -> openai.AsyncOpenAI:
        """The running loop's client; clients of loops that have ended are dropped here."""
        loop = asyncio.get_running_loop()
        with self._client_lock:
            for ended in [other for other in self._async_clients if other.is_closed()]:
                del self._async_clients[ended]
            client = self._async_clients.get(loop)
            if client is None:
                client = self._async_clients[loop] = openai.AsyncOpenAI(**self._client_kwargs())
            return client

    def close(self) -> None:
        """Close the blocking client; async clients are closed by ``aclose`` in their own loop."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        with self._client_lock:
            client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def available_models(self) -> list[str]:
        """Model ids the endpoint lists (one GET /models): a cheap check that the URL and key work."""
        try:
            return sorted(m.id for m in self.client.models.list())
        except Exception as exc:  # any client failure becomes one typed, actionable error
            raise classify_failure(exc, self.config, self.config.model) from exc

    # --- one request -----------------------------------------------------------------------------
    def _arguments(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema],
        model: str | None,
        json_mode: bool,
        max_tokens: int | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": model or self.config.model, "messages": list(messages)}
        if tools:
            kwargs["tools"] = list(tools)
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

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
        kwargs = self._arguments(messages, tools, model, json_mode, max_tokens)
        if not stream:
            try:
                return _reply_from_completion(self.client.chat.completions.create(**kwargs))
            except Exception as exc:  # the client raises many types; each becomes one typed error
                raise classify_failure(exc, self.config, kwargs["model"]) from exc
        return (yield from self._stream(kwargs, cancel))

    def _stream(self, kwargs: dict[str, Any], cancel: Cancel) -> Generator[TextDelta, None, ModelReply]:
        assembler = _StreamAssembler()
        try:
            stream = self.client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}
            )
        except Exception as exc:
            raise classify_failure(exc, self.config, kwargs["model"]) from exc
        with stream:
            while True:
                if is_cancelled(cancel):
                    raise Cancelled("Stopped while the model was writing.")
                try:
                    chunk = next(stream)
                except StopIteration:
                    break
                except Exception as exc:
                    raise classify_failure(exc, self.config, kwargs["model"]) from exc
                text = assembler.add(chunk)
                if text:
                    yield TextDelta(text)
        if not assembler.chunks:
            raise LlmBadResponse(
                f"The endpoint {self.config.endpoint} ended the stream without sending any chunk. "
                "Check that OPENAI_BASE_URL points at an OpenAI-compatible /v1 API that can stream."
            )
        return assembler.reply()

    async def request_async(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSchema] = (),
        *,
        model: str | None = None,
        json_mode: bool = False,
        max_tokens: int | None = None,
    ) -> ModelReply:
        """Uses the running loop's shared client (see the module docstring; ``aclose`` releases it)."""
        kwargs = self._arguments(messages, tools, model, json_mode, max_tokens)
        try:
            return _reply_from_completion(await self._async_client().chat.completions.create(**kwargs))
        except Exception as exc:
            raise classify_failure(exc, self.config, kwargs["model"]) from exc


def _usage(usage: Any) -> TokenUsage:
    if usage is None:
        return TokenUsage(requests=1)
    return TokenUsage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0), 1)


def _reply_from_completion(completion: Any) -> ModelReply:
    choices = getattr(completion, "choices", None)
    if not choices:
        raise LlmBadResponse(
            f"The endpoint answered without a reply (no choices in {type(completion).__name__})."
        )
    message = choices[0].message
    calls = tuple(
        RequestedToolCall(call.id or f"call_{i}", call.function.name or "", call.function.arguments or "")
        for i, call in enumerate(message.tool_calls or ())
    )
    return ModelReply(message.content or "", calls, _usage(completion.usage), choices[0].finish_reason)


class _StreamAssembler:
    """Puts streamed chunks back together: text pieces, tool calls split over many deltas, usage."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage = TokenUsage(requests=1)
        self.finish_reason: str | None = None
        self.chunks = 0

    def add(self, chunk: Any) -> str:
        self.chunks += 1
        if getattr(chunk, "usage", None) is not None:
            self.usage = _usage(chunk.usage)
        piece = ""
        for choice in chunk.choices or ():
            delta = choice.delta
            self.finish_reason = choice.finish_reason or self.finish_reason
            if delta is None:
                continue
            if delta.content:
                piece += delta.content
            for call in delta.tool_calls or ():
                self._add_call(call)
        if piece:
            self.text.append(piece)
        return piece

    def _add_call(self, call: Any) -> None:
        slot = self.calls.setdefault(call.index or 0, {"id": "", "name": "", "arguments": ""})
        slot["id"] = call.id or slot["id"]
        if call.function is not None:
            name = call.function.name or ""
            if name and name != slot["name"]:
                slot["name"] += name
            slot["arguments"] += call.function.arguments or ""

    def reply(self) -> ModelReply:
        calls = tuple(
            RequestedToolCall(slot["id"] or f"call_{index}", slot["name"], slot["arguments"])
            for index, slot in sorted(self.calls.items())
        )
        return ModelReply("".join(self.text), calls, self.usage, self.finish_reason)
