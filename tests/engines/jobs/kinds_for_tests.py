"""Tiny job kinds for the job-system tests, importable by worker subprocesses and Dask workers.

Every kind appends one line to ``<marker_dir>/<tag>.log`` when it starts (if the inputs name a
``marker_dir``), so a test can count how often each job really ran, across processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from engines.jobs import JobContext, JobStore, KindRegistry

REPO_ROOT = Path(__file__).resolve().parents[3]


def _mark(inputs: dict[str, Any], tag: str) -> None:
    if "marker_dir" in inputs:
        with open(Path(inputs["marker_dir"]) / f"{tag}.log", "a") as marker:
            marker.write(f"{os.getpid()}\n")


def runs(marker_dir: Path, tag: str) -> int:
    """How many times the kind run tagged ``tag`` started."""
    path = marker_dir / f"{tag}.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def square(inputs: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    _mark(inputs, f"square-{inputs['x']}")
    np.save(ctx.output_dir / "square.npy", np.array(inputs["x"]) ** 2)
    ctx.report(1.0, "saved")
    return {"square": inputs["x"] ** 2}


def sleepy(inputs: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    _mark(inputs, f"sleepy-{inputs['tag']}")
    steps = inputs["steps"]
    for step in range(steps):
        (ctx.output_dir / f"part-{step}.txt").write_text("partial")
        time.sleep(inputs["step_s"])
        ctx.report((step + 1) / steps, f"step {step + 1} of {steps}")
    return {"steps": steps}


def explode(inputs: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    _mark(inputs, "explode")
    raise ValueError("boom on purpose\nthis second line stays out of the job table")


KINDS = KindRegistry()
KINDS.register("square", square, "v1", "square a number into square.npy")
KINDS.register("sleepy", sleepy, "v1", "sleep in steps, reporting progress")
KINDS.register("explode", explode, "v1", "always raises")


def start_worker_process(workspace: Path, lease_s: float, poll_s: float = 0.05) -> subprocess.Popen:
    """``run_worker_process`` with these kinds in a fresh Python process (what ``run.py worker`` does)."""
    code = (
        "from pathlib import Path; from engines.jobs import run_worker_process; "
        "from tests.engines.jobs.kinds_for_tests import KINDS; "
        f"run_worker_process(Path({str(workspace)!r}), KINDS, lease_s={lease_s}, poll_s={poll_s})"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT)


def wait_for(condition, timeout_s: float = 20.0, what: str = "condition") -> None:
    """Poll ``condition()`` every 20 ms until true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def result_entries(workspace: Path, kind: str) -> list[str]:
    """Names in ``results/<kind>/``: published folders and any temporary leftovers."""
    folder = workspace / "results" / kind
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def done_count(store: JobStore) -> int:
    return store.counts()["done"]


def child_value(x: int) -> int:
    """Runs in a child process (run_in_child_process tests)."""
    return x * 2


def child_raises(message: str) -> None:
    raise ValueError(message)


def child_dies() -> None:
    os._exit(3)


def child_sleeps(seconds: float) -> None:
    time.sleep(seconds)
