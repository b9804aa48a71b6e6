"""Run one cell over a kernel connection and tell how it ended: the loop both runners share.

The loop reads the cell's IOPub messages until the kernel goes idle. When the time limit
passes or the user asks to stop, it interrupts the kernel (KeyboardInterrupt in the code);
if the kernel is not idle ``grace_s`` later, or its process has ended, it restarts it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from engines.kernel._messages import OutputCollector
from engines.kernel.base import KernelLimits, OnOutput
from engines.kernel.results import CellResult

__all__ = ["KernelChannel", "run_cell"]

_POLL_S = 0.05


class KernelChannel(Protocol):
    """A connected kernel, as the loop needs it."""

    def execute(self, code: str) -> str:
        """Send an execute request; returns its message id."""
        ...

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        """The next IOPub message, or None when none came within ``timeout`` seconds."""
        ...

    def interrupt(self) -> None: ...

    def alive(self) -> bool: ...

    def finish(self, msg_id: str) -> None:
        """Called once the cell is idle: take its reply off the connection if that is needed."""
        ...


def run_cell(
    channel: KernelChannel,
    code: str,
    limits: KernelLimits,
    time_s: float,
    stop: threading.Event,
    on_output: OnOutput | None,
    restart: Callable[[], None],
) -> CellResult:
    """Run ``code`` and return how it ended (see ``CellResult``); ``restart`` makes a fresh kernel when
    needed."""
    collector = OutputCollector(on_output)
    started = time.monotonic()
    msg_id = channel.execute(code)
    ended_by: str | None = None
    interrupted_at = 0.0
    count: int | None = None
    while True:
        now = time.monotonic()
        if ended_by is None and (stop.is_set() or now - started > time_s):
            ended_by = "stop" if stop.is_set() else "time"
            channel.interrupt()
            interrupted_at = now
        if ended_by is not None and now - interrupted_at > limits.grace_s:
            restart()
            return _result(ended_by, collector, started, count, limits, time_s, restarted=True)
        message = channel.next_message(_POLL_S)
        if message is None:
            if not channel.alive():
                restart()
                return _result("died", collector, started, count, limits, time_s, restarted=True)
            continue
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "status" and content.get("execution_state") == "idle":
            break
        if kind == "execute_input":
            count = content.get("execution_count")
        collector.add(kind, content)
    channel.finish(msg_id)
    return _result(ended_by, collector, started, count, limits, time_s, restarted=False)


def _result(
    ended_by: str | None,
    collector: OutputCollector,
    started: float,
    count: int | None,
    limits: KernelLimits,
    time_s: float,
    restarted: bool,
) -> CellResult:
    result = CellResult(
        status="ok",
        outputs=collector.outputs,
        duration_s=time.monotonic() - started,
        execution_count=count,
        kernel_restarted=restarted,
        outputs_truncated=collector.truncated,
    )
    lost = (
        " The kernel did not stop, so it was restarted: the session's variables are gone."
        if restarted
        else ""
    )
    if ended_by == "time":
        result.status, result.limit_hit = "timeout", "time"
        result.message = f"Stopped after {time_s:g} s, the time limit for a cell." + lost
    elif ended_by == "stop":
        result.status, result.message = "stopped", "Stopped by you." + lost
    elif ended_by == "died":
        result.status, result.limit_hit = "died", "memory" if limits.memory_mb else None
        limit = (
            f" (it may have gone past its memory limit of {limits.memory_mb:,} MB)"
            if limits.memory_mb
            else ""
        )
        result.message = (
            f"The kernel process ended while running this cell{limit}. It was restarted: the "
            "session's variables are gone."
        )
    elif result.error is not None:
        result.status = "error"
        if result.error.ename == "MemoryError":
            result.limit_hit = "memory"
            result.message = (
                f"The code needed more memory than the kernel may use ({limits.memory_mb:,} MB). "
                "Work on a smaller piece of the data."
            )
        else:
            result.message = f"The code raised {result.error.ename}: {result.error.evalue}"
    if collector.truncated:
        result.message = (result.message + " Outputs past 20 MB were left out.").strip()
    return result
