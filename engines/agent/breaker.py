"""A circuit breaker for many calls to one endpoint: once the endpoint is known to be down, stop asking it.

Without it, a run of hundreds of concurrent calls (a VLM judge) against a stopped server or a
wrong key makes every call wait out its own retries, minutes in all, before each fails with
the same message. The breaker opens when, before any call succeeded, the endpoint refused
the key or the model (401, 403, 404) or ``threshold`` connection attempts failed; from then
on every attempt raises ``LlmEndpointDown`` at once, without a request. After a first
success it stays closed: a short outage mid-run is left to each call's own retries, so a
blip does not fail a run that was working. Thread-safe; one breaker per run.
"""

from __future__ import annotations

import threading

from engines.agent.errors import (
    LlmAuthError,
    LlmEndpointDown,
    LlmEndpointError,
    LlmRequestRejected,
    LlmUnreachable,
)

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """See the module docstring. Pass it to ``ChatModel.complete_async`` / ``ask_about_images_async``."""

    def __init__(self, threshold: int = 3) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 (got {threshold})")
        self.threshold = threshold
        self._lock = threading.Lock()
        self._successes = 0
        self._unreachable = 0
        self._down: LlmEndpointDown | None = None

    @property
    def open_reason(self) -> str | None:
        """Why calls are being stopped (what to fix), or None while the breaker is closed."""
        down = self._down
        return None if down is None else str(down)

    def check(self) -> None:
        """Raise ``LlmEndpointDown`` once open; called before every attempt."""
        down = self._stopped()
        if down is not None:
            raise down

    def record_success(self) -> None:
        with self._lock:
            self._successes += 1

    def record_failure(self, error: LlmEndpointError) -> LlmEndpointError:
        """Count one failed attempt; returns what the call should handle (``LlmEndpointDown`` once open)."""
        with self._lock:
            if self._down is None and self._successes == 0:
                self._down = self._verdict(error)
        return self._stopped() or error

    def _stopped(self) -> LlmEndpointDown | None:
        """A fresh error per call (concurrent tasks must not share one exception's traceback)."""
        down = self._down
        return None if down is None else LlmEndpointDown(str(down), status=down.status)

    def _verdict(self, error: LlmEndpointError) -> LlmEndpointDown | None:
        if isinstance(error, LlmAuthError) or (isinstance(error, LlmRequestRejected) and error.status == 404):
            return LlmEndpointDown(
                f"The model endpoint refused this run's requests, so the remaining ones were "
                f"stopped. {error}",
                status=error.status,
            )
        if isinstance(error, LlmUnreachable):
            self._unreachable += 1
            if self._unreachable >= self.threshold:
                return LlmEndpointDown(
                    f"The model endpoint cannot be reached ({self._unreachable} connection "
                    f"attempts failed), so the remaining requests were stopped. {error}"
                )
        return None
