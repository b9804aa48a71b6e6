"""Errors a person can act on when submitting, inspecting and running jobs."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "JobNotFound",
    "UnknownJobKind",
    "InvalidJobRequest",
    "BackendUnavailable",
]


class _KeyErrorMessage(KeyError):
    """KeyError that prints its message as written (plain KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class JobNotFound(NeurodeckError, _KeyErrorMessage):
    """No job with this id in the workspace's job store."""


class UnknownJobKind(NeurodeckError, _KeyErrorMessage):
    """No job kind of this name is registered with the workers or backend."""


class InvalidJobRequest(NeurodeckError, ValueError):
    """A submit or a kind's answer that cannot be stored (inputs not JSON, unsafe names, bad limits)."""


class BackendUnavailable(NeurodeckError, ConnectionError):
    """The compute backend (for example a Dask scheduler) could not be reached."""
