"""Endpoint failures as typed errors, and the one retry policy (sync generator and async) that uses them.

The ``openai`` client's own retries are turned off: retrying here lets a turn tell the chat
"rate limited, retrying in 2 s" before it waits, stop waiting when the user cancels, and
refuse to block for a Retry-After longer than ``LlmConfig.max_wait_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

from engines._progress import Cancel, Cancelled, wait_or_cancel
from engines.agent.breaker import CircuitBreaker
from engines.agent.config import LlmConfig
from engines.agent.errors import (
    LlmAuthError,
    LlmBadResponse,
    LlmEndpointDown,
    LlmEndpointError,
    LlmRateLimited,
    LlmRequestRejected,
    LlmServerError,
    LlmTimeout,
    LlmUnreachable,
)
from engines.agent.events import AgentEvent, Retrying

__all__ = [
    "RetryPolicy",
    "call_with_retries_async",
    "classify_failure",
    "drain",
    "parse_json_text",
    "retrying",
]

T = TypeVar("T")


def classify_failure(exc: Exception, config: LlmConfig, model: str) -> LlmEndpointError:
    """The typed error, with what to do, for anything the ``openai`` client raised for one request."""
    where = config.endpoint
    if isinstance(exc, LlmEndpointError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LlmTimeout(
            f"The model at {where} did not answer within {config.timeout_s:g} s. "
            "Try again, use a faster model, or raise NEURODECK_LLM_TIMEOUT_S."
        )
    if isinstance(exc, openai.APIConnectionError):
        return LlmUnreachable(
            f"Nothing answers at {where} ({exc.__cause__ or exc}). Check that the server "
            "is running and OPENAI_BASE_URL is right."
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, where, model)
    if isinstance(exc, (openai.APIResponseValidationError, ValueError, KeyError, TypeError, AttributeError)):
        return LlmBadResponse(
            f"The endpoint {where} sent a reply that is not a chat completion ({exc}). "
            "Check that OPENAI_BASE_URL points at an OpenAI-compatible /v1 API."
        )
    return LlmBadResponse(f"The request to {where} failed: {exc}")


def _status_failure(exc: openai.APIStatusError, where: str, model: str) -> LlmEndpointError:
    status = exc.status_code
    said = _server_message(exc)
    if status in (401, 403):
        return LlmAuthError(
            f"The endpoint {where} refused the API key ({status}: {said}). "
            "Check OPENAI_API_KEY for this endpoint; retrying will not help.",
            status=status,
        )
    if status == 429:
        wait = _retry_after_s(exc.response.headers)
        hint = f"the server asks to wait {wait:g} s" if wait is not None else "wait a moment"
        return LlmRateLimited(
            f"The endpoint {where} is rate limiting requests ({said}); {hint}, "
            "or use a key with a higher limit.",
            status=status,
            retry_after_s=wait,
        )
    if status == 408:
        return LlmTimeout(f"The endpoint {where} timed out the request (408: {said}).", status=status)
    if status >= 500 or status == 409:
        return LlmServerError(
            f"The endpoint {where} failed ({status}: {said}). It is retried; if it keeps "
            "failing, the server or model may be down.",
            status=status,
        )
    if status == 404:
        return LlmRequestRejected(
            f"The endpoint {where} does not know model '{model}' or this API (404: {said}). "
            "Check NEURODECK_LLM_MODEL and that OPENAI_BASE_URL ends with /v1.",
            status=status,
        )
    return LlmRequestRejected(
        f"The endpoint {where} refused the request ({status}: {said}). The model may not "
        "support tool calls or images, or the conversation is too long: start a new chat "
        "or pick another model.",
        status=status,
    )


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return exc.message


def _retry_after_s(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None when absent."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how long to wait: Retry-After when the server says, else exponential with
    jitter."""

    max_retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 30.0

    @classmethod
    def from_config(cls, config: LlmConfig) -> RetryPolicy:
        return cls(config.max_retries, config.backoff_s, config.max_wait_s)

    def delay_for(self, error: LlmEndpointError, attempt: int) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None when the error should end the call."""
        if not error.retryable or attempt >= self.max_retries:
            return None
        if error.retry_after_s is not None:
            return error.retry_after_s if error.retry_after_s <= self.max_wait_s else None
        return min(self.backoff_s * 2**attempt * (0.75 + random.random() / 2), self.max_wait_s)

    def give_up(self, error: LlmEndpointError, attempt: int) -> LlmEndpointError:
        """The error to report: the same type, saying how many attempts were made (a breaker's as it is)."""
        if attempt == 0 or isinstance(error, LlmEndpointDown):
            return error
        return type(error)(
            f"{error} (gave up after {attempt + 1} attempts)",
            status=error.status,
            retry_after_s=error.retry_after_s,
        )


def retrying(
    attempt: Callable[[], Generator[AgentEvent, None, T]], policy: RetryPolicy, cancel: Cancel = None
) -> Generator[AgentEvent, None, T]:
    """Run ``attempt`` (a generator that returns a value) until it succeeds, yielding ``Retrying`` between
    tries.

    An attempt that already yielded events (streamed text) is not retried: the chat would show
    its text twice. Raises the last typed error, or ``Cancelled`` if cancelled while waiting.
    """
    tries = 0
    while True:
        started: list[bool] = [False]
        try:
            return (yield from _watched(attempt(), started))
        except LlmEndpointError as error:
            delay = None if started[0] else policy.delay_for(error, tries)
            if delay is None:
                raise policy.give_up(error, tries) from error
            tries += 1
            yield Retrying(
                message=f"{error} Retrying in {delay:.1f} s (attempt {tries + 1} of "
                f"{policy.max_retries + 1}).",
                attempt=tries + 1,
                delay_s=delay,
            )
            if wait_or_cancel(cancel, delay):
                raise Cancelled("Stopped while waiting to retry the model endpoint.") from error


def _watched(gen: Generator[AgentEvent, None, T], started: list[bool]) -> Generator[AgentEvent, None, T]:
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        started[0] = True
        yield item


def drain(gen: Generator[AgentEvent, None, T], on_event: Callable[[AgentEvent], None] | None = None) -> T:
    """Run a generator to its return value, handing every event to ``on_event``."""
    events: Iterator[AgentEvent] = gen
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


async def call_with_retries_async(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    on_retry: Callable[[Retrying], None] | None = None,
    *,
    limit: asyncio.Semaphore | None = None,
    breaker: CircuitBreaker | None = None,
) -> T:
    """The async twin of ``retrying`` for one awaitable request (used by concurrent vision calls).

    ``limit`` is held for each attempt and released while waiting to retry, so a call backing
    off leaves its slot to another; ``breaker`` sees every attempt and, once open, ends the call.
    """
    tries = 0
    while True:
        try:
            return await _attempt(call, limit, breaker)
        except LlmEndpointError as failure:
            error = failure if breaker is None else breaker.record_failure(failure)
            delay = policy.delay_for(error, tries)
            if delay is None:
                raise policy.give_up(error, tries) from failure
            tries += 1
            if on_retry is not None:
                on_retry(
                    Retrying(message=f"{error} Retrying in {delay:.1f} s.", attempt=tries + 1, delay_s=delay)
                )
            await asyncio.sleep(delay)


async def _attempt(
    call: Callable[[], Awaitable[T]], limit: asyncio.Semaphore | None, breaker: CircuitBreaker | None
) -> T:
    async with limit if limit is not None else contextlib.nullcontext():
        if breaker is not None:
            breaker.check()
        result = await call()
    if breaker is not None:
        breaker.record_success()
    return result


def parse_json_text(text: str) -> Any:
    """A JSON value from a model's text, tolerating a ```json fence around it; never evaluates anything."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        return json.loads(body)
    except ValueError:
        start, end = body.find("{"), body.rfind("}")
        if 0 <= start < end:
            return json.loads(body[start : end + 1])
        raise
