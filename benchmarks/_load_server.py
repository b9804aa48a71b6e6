"""The served app the load benchmark measures: a fresh workspace, ``run.py`` in a child process, and what it
holds.

Resources are read from the server's process tree (``psutil``: ``run.py``, its ``--num-procs`` processes and
every child they started): threads, memory (proportional set size, so pages the forked processes share count
once), CPU time and child processes. Sessions are released by Bokeh's check for unused sessions (a session
with no connection for 15 s, checked every 17 s), so "after release" means after waiting for that, up to a
limit."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks._load_visit import RUN_NAME
from benchmarks._routes import serve
from tests.browser.conftest import _free_port

__all__ = ["Server", "Snapshot", "start", "TOKEN"]

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "assets"
TOKEN = "load-benchmark-token"
RELEASE_CHECK_S = 32
"""Bokeh's default unused-session lifetime (15 s) plus its check interval (17 s)."""


@dataclass(frozen=True)
class Snapshot:
    threads: int
    rss_mb: float
    """Proportional set size of the tree (resident memory; shared pages split between their sharers)."""
    cpu_s: float
    children: int


class Server:
    """``run.py`` serving a fresh workspace; ``snapshot`` reads its resources; ``stop`` ends it."""

    def __init__(self, process: subprocess.Popen, port: int, workspace: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}/"
        self.headers = {"Authorization": f"token {TOKEN}"}
        self.workspace = workspace
        self._psutil = psutil.Process(process.pid)

    def snapshot(self) -> Snapshot:
        threads, memory, cpu_s = 0, 0, 0.0
        children = self._psutil.children(recursive=True)
        for process in [self._psutil, *children]:
            try:
                with process.oneshot():
                    threads += process.num_threads()
                    memory += process.memory_full_info().pss
                    times = process.cpu_times()
                    cpu_s += times.user + times.system
            except psutil.NoSuchProcess:  # a child that ended meanwhile
                continue
        return Snapshot(threads=threads, rss_mb=memory / 2**20, cpu_s=cpu_s, children=len(children))

    async def released(self, threads_at_most: int | None, timeout_s: float) -> Snapshot:
        """Wait for closed sessions to be released: at least Bokeh's check period, then until the thread
        count is down to ``threads_at_most`` (or stops falling, when None), or ``timeout_s`` has passed."""
        start = time.monotonic()
        await asyncio.sleep(RELEASE_CHECK_S)
        previous = self.snapshot()
        while time.monotonic() - start < timeout_s:
            await asyncio.sleep(3)
            now = self.snapshot()
            if threads_at_most is not None and now.threads <= threads_at_most:
                return now
            if threads_at_most is None and now.threads >= previous.threads:
                return now
            previous = now
        return self.snapshot()

    def log_problems(self) -> list[str]:
        """Server log lines that report errors (tracebacks' headlines included)."""
        text = (self.workspace / "server.log").read_text(errors="replace")
        return [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]

    def log_tail(self, lines: int = 40) -> str:
        text = (self.workspace / "server.log").read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if "GET /static/" not in line)[-lines * 200 :]

    def stop(self) -> None:
        """End the server and remove its workspace (a run leaves nothing in the temporary folder)."""
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.workspace, ignore_errors=True)


def _training_run(workspace: Path) -> subprocess.Popen:
    """A finished tiny run for the Training page to list, made by the headless trainer (``run.py train``)."""
    from engines.training.config import build_config

    config = build_config(
        [{"kind": "synthetic", "n_bins": 1000}],
        model_size="tiny",
        steps=10,
        name=RUN_NAME,
        training={"log_every": 5, "eval_every": 10, "checkpoint_every": 10},
    )
    path = workspace / "load-benchmark-run.json"
    path.write_text(json.dumps(config.to_dict()))
    return subprocess.Popen(
        [
            sys.executable,
            "run.py",
            "train",
            "--config",
            str(path),
            "--workspace",
            str(workspace),
            "--out",
            str(workspace / "training" / "runs" / RUN_NAME),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def start(*extra: str) -> Server:
    """A fresh workspace with one finished training run, served by ``run.py`` (``extra`` flags) with token
    sign-in."""
    workspace = Path(tempfile.mkdtemp(prefix="nd-load-"))
    trainer = _training_run(workspace)
    port = _free_port()
    process = serve(
        workspace,
        port,
        "--address",
        "127.0.0.1",
        "--allow-private-urls",
        "--root",
        str(DATA),
        *extra,
        env={**os.environ, "NEURODECK_TOKEN": TOKEN},
    )
    _, problems = trainer.communicate(timeout=600)
    if trainer.returncode != 0:
        process.terminate()
        raise RuntimeError(f"making the training run failed: {problems.decode(errors='replace')[-2000:]}")
    return Server(process, port, workspace)
