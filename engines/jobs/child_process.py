"""Run a library call that reports no progress where a cancel can still stop it: a child process.

A kind that calls, say, Rastermap's ``fit`` cannot call ``ctx.report`` until the fit
returns, so a cancel would wait minutes. ``run_in_child_process`` runs the call in a spawned
process, reports coarse progress (elapsed time against an expected duration) while it runs,
and kills the child within ``poll_s`` of the job being cancelled or its worker stopping.
Spawned, not forked: the parent is a threaded server whose locks a fork would copy held.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from engines._progress import Cancelled
from engines.errors import NeurodeckError
from engines.jobs.kinds import JobContext

__all__ = ["ChildProcessFailed", "run_in_child_process"]

T = TypeVar("T")


class ChildProcessFailed(NeurodeckError, RuntimeError):
    """The call raised in the child, or the child died (killed for memory, crashed)."""


def _child_main(connection: Any, target: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        value = target(**kwargs)
    except BaseException as exc:  # the parent re-raises it with the child's traceback in the message
        connection.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=6)))
    else:
        connection.send(("ok", value))
    finally:
        connection.close()


def _answer(receiver: Any) -> tuple[Any, ...] | None:
    """The child's answer, or None when it closed the pipe without one (a dead child's pipe reads as EOF)."""
    try:
        return receiver.recv() if receiver.poll(0) else None
    except EOFError:
        return None


def _stop(process: multiprocessing.process.BaseProcess) -> None:
    process.terminate()
    process.join(0.5)
    if process.is_alive():
        process.kill()
        process.join(0.5)


def run_in_child_process(
    target: Callable[..., T],
    kwargs: dict[str, Any],
    ctx: JobContext,
    *,
    label: str,
    progress_from: float = 0.0,
    progress_to: float = 1.0,
    expected_s: float = 60.0,
    poll_s: float = 0.1,
) -> T:
    """``target(**kwargs)`` in a spawned child; its return value must pickle.

    Progress moves from ``progress_from`` towards ``progress_to`` as elapsed / ``expected_s``
    (capped at 95% of the span, since the real end is unknown). Raises ``Cancelled`` once
    the child is killed after a cancel, ``ChildProcessFailed`` when the call raised or the
    child died. Costs one interpreter start (about a second) plus pickling the arguments.
    """
    if not callable(target) or getattr(target, "__module__", "__main__") == "__main__":
        raise ValueError("run_in_child_process needs a module-level function of an importable module")
    spawn = multiprocessing.get_context("spawn")
    receiver, sender = spawn.Pipe(duplex=False)
    process = spawn.Process(
        target=_child_main, args=(sender, target, kwargs), name=f"job-{ctx.job.id}-{label}", daemon=True
    )
    started = time.monotonic()
    process.start()
    sender.close()
    try:
        while True:
            if receiver.poll(poll_s) or not process.is_alive():
                outcome = _answer(receiver)
                break
            elapsed = time.monotonic() - started
            span = progress_to - progress_from
            ctx.report(
                progress_from + span * min(0.95, elapsed / max(expected_s, 1e-3)),
                f"{label} ({elapsed:.0f} s)",
            )  # raises Cancelled once the job is cancelled
    except Cancelled:
        _stop(process)
        raise
    finally:
        receiver.close()
    process.join(5.0)
    if outcome is None:
        _stop(process)
        raise ChildProcessFailed(
            f"{label} stopped without an answer (exit code {process.exitcode}); "
            "the machine may have run out of memory."
        )
    if outcome[0] == "error":
        raise ChildProcessFailed(f"{label} failed: {outcome[1]}\n{outcome[2]}")
    result: T = outcome[1]  # what target returned, unpickled: the pipe carries it untyped
    return result
