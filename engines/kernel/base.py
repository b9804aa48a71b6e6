"""What a code runner offers the chat, whether its kernel runs here or on a Jupyter server.

A runner belongs to one chat session (never shared: its variables are that user's). ``run``
blocks the calling thread until the cell ends (call it off the UI thread) and streams
outputs to ``on_output`` as they arrive; ``stop`` may be called from any other thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from engines.kernel.results import CellOutput, CellResult

__all__ = ["CodeRunner", "KernelLimits", "OnOutput"]

OnOutput = Callable[[CellOutput], None]
"""Told of each new output, and again of a stream output each time its text grows (same object)."""


@dataclass(frozen=True)
class KernelLimits:
    """Limits of one run (``time_s``) and of the kernel process (``memory_mb``, address space; 0: none;
    ``env_allow``, environment variables it may inherit beyond what Python needs, see ``environment``).

    A run past ``time_s`` is interrupted (KeyboardInterrupt in the code); if the kernel does not
    stop within ``grace_s`` it is restarted.
    """

    time_s: float = 60.0
    memory_mb: int = 4096
    grace_s: float = 3.0
    env_allow: tuple[str, ...] = ()


class CodeRunner(Protocol):
    """Runs approved Python for one session and reports what it showed."""

    limits: KernelLimits

    def run(self, code: str, on_output: OnOutput | None = None, time_s: float | None = None) -> CellResult:
        """Run ``code`` in the session's kernel (started on first use), at most ``time_s`` (default: the
        limit)."""
        ...

    def stop(self) -> bool:
        """Interrupt the running cell (its run returns status "stopped"); False when none is running."""
        ...

    def restart(self) -> None:
        """A fresh kernel: variables are lost, the working folder is kept."""
        ...

    def shutdown(self) -> None:
        """End the kernel and release its resources (a local runner also removes its temporary folder)."""
        ...
