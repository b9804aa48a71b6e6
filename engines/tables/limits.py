"""Running a user's query within limits: a time limit and a memory budget, so one query cannot stall
or exhaust the server.

Polars cannot be stopped from outside once a query runs (``InProcessQuery.cancel`` left a
six-way cross join growing to 3.9 GB), so the plan runs in a child process (about 0.3 s to
start) that is killed at either limit. The plan travels serialized (it holds the session's
in-memory tables; file tables are scanned by the child), the rows come back as Arrow IPC, both
through a private temporary folder. The child streams in morsels of ``MORSEL_ROWS`` rows
(Polars' default, 100 000, let a five-way cross join of a 24-row table peak near 550 MB before
its row cap applied; 10 000 keeps it near 200 MB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import psutil

from engines.tables.errors import TableError

__all__ = ["QueryLimits", "collect_isolated", "MORSEL_ROWS"]

MORSEL_ROWS = 10_000
_CHILD = Path(__file__).with_name("_query_child.py")


@dataclass(frozen=True)
class QueryLimits:
    """``timeout_s``: how long one query may run; ``max_memory_bytes``: how much memory its process may
    hold."""

    timeout_s: float = 10.0
    max_memory_bytes: int = 1 << 30


def collect_isolated(plan: pl.LazyFrame, limits: QueryLimits) -> pl.DataFrame:
    """The plan's rows, computed in a child process; ``TableError`` once it passes a limit (time or
    memory: the child is then killed) or when Polars refuses the query."""
    with tempfile.TemporaryDirectory(prefix="neurodeck-query-") as folder:
        plan_path, result_path, errors_path = (
            Path(folder) / name for name in ("plan", "result.arrow", "errors")
        )
        try:
            plan_path.write_bytes(plan.serialize())
        except pl.exceptions.PolarsError as exc:
            raise TableError(f"The query cannot run here: {str(exc).splitlines()[0]}") from exc
        env = {
            **os.environ,
            "POLARS_IDEAL_MORSEL_SIZE": os.environ.get("POLARS_IDEAL_MORSEL_SIZE", str(MORSEL_ROWS)),
        }
        with errors_path.open("wb") as errors:
            # -I: the script's folder must not come first on sys.path (it holds _csv.py, a stdlib name)
            child = subprocess.Popen(
                [sys.executable, "-I", str(_CHILD), str(plan_path), str(result_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=env,
            )
            try:
                _watch(child, limits)
            finally:
                if child.poll() is None:
                    child.kill()
                child.wait()
        if child.returncode != 0:
            message = errors_path.read_text(errors="replace").strip().splitlines()
            raise TableError(
                f"The query failed: {message[-1] if message else f'exit status {child.returncode}'}"
            )
        return pl.read_ipc(result_path.read_bytes())


def _watch(child: subprocess.Popen, limits: QueryLimits) -> None:
    """Wait for ``child``; raise once it runs past the time limit or holds more memory than the budget."""
    started, pause = time.monotonic(), 0.005
    process = psutil.Process(child.pid)
    while True:
        try:
            child.wait(timeout=pause)
            return
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() - started > limits.timeout_s:
            raise TableError(
                f"The query ran longer than {limits.timeout_s:g} s and was stopped. Narrow it (a "
                "WHERE clause, join keys instead of a cross join, fewer tables) and try again."
            )
        try:
            memory = process.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # it just ended: the next wait returns
        if memory > limits.max_memory_bytes:
            raise TableError(
                f"The query needed more than {limits.max_memory_bytes / 2**20:,.0f} MB of memory and "
                "was stopped. Narrow it (a WHERE clause, join keys instead of a cross join, fewer "
                "columns) and try again."
            )
        pause = min(pause * 2, 0.02)
