"""Errors of the agent engine, each with a message a person can act on.

Endpoint failures carry ``retryable`` (timeouts, 429, 5xx, garbled bodies: yes; a wrong key or
a refused request: no) and, for 429, the wait the server asked for. Tool-call problems go
back to the model as tool messages so it can correct itself; they are typed here so the
chat can show them the same way.
"""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "AgentError",
    "ConversationNotFound",
    "InvalidToolArguments",
    "LlmAuthError",
    "LlmBadResponse",
    "LlmEndpointDown",
    "LlmEndpointError",
    "LlmRateLimited",
    "LlmRequestRejected",
    "LlmServerError",
    "LlmSetupError",
    "LlmTimeout",
    "LlmUnreachable",
    "ToolDefinitionError",
    "ToolFailed",
    "UnknownTool",
]


class _KeyErrorMessage(KeyError):
    """KeyError that prints its message as written (plain KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AgentError(NeurodeckError):
    """Root of the agent engine's errors."""


class LlmSetupError(AgentError, ValueError):
    """The endpoint settings cannot work (no key for OpenAI's own service, an empty model name)."""


class LlmEndpointError(AgentError, ConnectionError):
    """The model endpoint failed to answer usefully. ``retryable`` says whether trying again can help."""

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LlmAuthError(LlmEndpointError):
    """401/403: the key is missing, wrong or lacks access. Not retried."""

    retryable = False


class LlmRateLimited(LlmEndpointError):
    """429: too many requests or tokens; retried after the server's Retry-After."""


class LlmServerError(LlmEndpointError):
    """5xx: the server failed; retried with backoff."""


class LlmTimeout(LlmEndpointError, TimeoutError):
    """No answer within the configured timeout; retried."""


class LlmUnreachable(LlmEndpointError):
    """Nothing answers at the base URL (refused, DNS, TLS); retried, then reported."""


class LlmEndpointDown(LlmEndpointError):
    """A ``CircuitBreaker`` found the endpoint down (unreachable, key or model refused): later calls stop at
    once."""

    retryable = False


class LlmRequestRejected(LlmEndpointError, ValueError):
    """400/404/422: the endpoint refused the request (unknown model, no tool support, context too long)."""

    retryable = False


class LlmBadResponse(LlmEndpointError, ValueError):
    """The body was not a chat completion (not JSON, no choices); retried, since proxies garble bodies."""


class UnknownTool(AgentError, _KeyErrorMessage):
    """The model called a tool that this chat does not have."""


class InvalidToolArguments(AgentError, ValueError):
    """A tool call's arguments are not JSON or do not fit the tool's schema; nothing ran."""


class ToolFailed(AgentError, RuntimeError):
    """A tool raised while running; its message goes back to the model and the chat."""


class ToolDefinitionError(AgentError, TypeError):
    """A toolset is defined wrongly (duplicate name, parameter without a type): a programming error."""


class ConversationNotFound(AgentError, _KeyErrorMessage):
    """No saved conversation with this id in the workspace."""
