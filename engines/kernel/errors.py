"""Errors a person can act on when running code in a kernel."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["KernelError", "KernelStartError", "RemoteKernelError"]


class KernelError(NeurodeckError, RuntimeError):
    """The kernel could not do what was asked (not a failure of the user's code: that is a result), for
    instance a cell is still running in this session's kernel (the message says to stop it or wait)."""


class KernelStartError(KernelError, OSError):
    """No kernel could be started (missing ipykernel, a launcher failure, a remote server refusing)."""


class RemoteKernelError(KernelError, ConnectionError):
    """The remote Jupyter server did not answer, refused the token, or closed the connection."""
