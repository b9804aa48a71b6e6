"""A Jupyter kernel of one's own for a chat session: ipykernel in a child process on this machine.

The kernel starts on the first run (about 1–2 s), in a temporary working folder, without the
server's secrets in its environment (see ``environment``), with an address-space limit
(``KernelLimits.memory_mb``, see ``_launcher``); each run has a time limit, after which the
kernel is interrupted and, if it does not stop within the grace period, restarted. This is a
limit on resources, not a sandbox: the code runs as the server's user, so it must have been
approved by a person (the page asks; the engine runs what it is given).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from engines.kernel._cell import run_cell
from engines.kernel.base import KernelLimits, OnOutput
from engines.kernel.environment import kernel_environment
from engines.kernel.errors import KernelError, KernelStartError
from engines.kernel.results import CellResult

__all__ = ["LocalKernel"]

_START_TIMEOUT_S = 60.0
_SPEC_NAME = "neurodeck-python"
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Capped in the kernel: each BLAS thread reserves address space, which would eat a memory limit at import."""


class _ZmqChannel:
    """The local kernel's ZeroMQ channels as ``run_cell`` uses them."""

    def __init__(self, handles: _Handles) -> None:
        self._handles = handles

    def execute(self, code: str) -> str:
        return self._handles.client.execute(code, store_history=True, allow_stdin=False)

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._handles.client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return None

    def interrupt(self) -> None:
        self._handles.manager.interrupt_kernel()

    def alive(self) -> bool:
        return self._handles.manager.is_alive()

    def finish(self, msg_id: str) -> None:
        """Take this cell's execute_reply off the shell channel (it arrives around the idle status)."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                reply = self._handles.client.get_shell_msg(timeout=0.2)
            except queue.Empty:
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                return


class _Handles:
    """The kernel process and its client, closed together (by ``shutdown``, or when the session is
    dropped)."""

    def __init__(self) -> None:
        self.manager: Any = None
        self.client: Any = None

    def close(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        if self.manager is not None and self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)
        self.manager = self.client = None


def _clean_up(handles: _Handles, home: Path) -> None:
    handles.close()
    shutil.rmtree(home, ignore_errors=True)


class LocalKernel:
    """One session's kernel on this machine. ``run`` from one thread at a time; ``stop`` from any thread."""

    def __init__(
        self,
        limits: KernelLimits | None = None,
        workdir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.limits = limits or KernelLimits()
        self._home = Path(tempfile.mkdtemp(prefix="neurodeck-kernel-"))
        self.workdir = workdir if workdir is not None else self._home / "work"
        """The kernel's current folder: files the code writes land here."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._env = env or {}
        self._handles = _Handles()
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        # a session dropped without shutdown() must not leave a kernel running
        self._finalizer = weakref.finalize(self, _clean_up, self._handles, self._home)

    # --- lifecycle -------------------------------------------------------------------------------
    def _spec_folder(self) -> Path:
        """A kernel spec whose command applies the memory limit before IPython starts."""
        folder = self._home / "kernels" / _SPEC_NAME
        folder.mkdir(parents=True, exist_ok=True)
        root = str(Path(__file__).resolve().parents[2])
        threads = str(min(4, os.cpu_count() or 1))
        env = {name: os.environ.get(name, threads) for name in _THREAD_VARIABLES}
        env.update(
            PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
            MPLBACKEND="module://matplotlib_inline.backend_inline",
            **self._env,
        )
        spec = {
            "argv": [
                sys.executable,
                "-m",
                "engines.kernel._launcher",
                "--memory-mb",
                str(self.limits.memory_mb),
                "-f",
                "{connection_file}",
            ],
            "display_name": "Neurodeck Python",
            "language": "python",
            "env": env,
        }
        (folder / "kernel.json").write_text(json.dumps(spec))
        return folder.parent

    def _start(self) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        specs = KernelSpecManager(kernel_dirs=[str(self._spec_folder())])
        # IPC sockets in this process's private (0700) folder: no TCP port other local users could reach
        manager = KernelManager(
            kernel_name=_SPEC_NAME,
            kernel_spec_manager=specs,
            transport="ipc",
            ip=str(self._home / "kernel"),
            connection_file=str(self._home / "connection.json"),
        )
        try:
            manager.start_kernel(
                cwd=str(self.workdir), env=kernel_environment(os.environ, self.limits.env_allow)
            )
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=_START_TIMEOUT_S)
        except (RuntimeError, OSError) as exc:
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
            raise KernelStartError(
                f"The Python kernel did not start ({exc}). Check that ipykernel is installed "
                "in the server's environment."
            ) from exc
        self._handles.manager, self._handles.client = manager, client

    def restart(self) -> None:
        """A fresh kernel process (variables lost, working folder kept)."""
        self._handles.close()
        self._start()

    def shutdown(self) -> None:
        """Stop a running cell, end the kernel and remove the temporary folders."""
        self.stop()
        with self._run_lock:
            self._finalizer()

    @property
    def running(self) -> bool:
        return self._run_lock.locked()

    def stop(self) -> bool:
        """Interrupt the running cell; its ``run`` returns status "stopped". False when nothing runs."""
        if not self._run_lock.locked():
            return False
        self._stop.set()
        return True

    # --- running ---------------------------------------------------------------------------------
    def run(self, code: str, on_output: OnOutput | None = None, time_s: float | None = None) -> CellResult:
        """Run ``code``; blocks until it ends, its time is up, the user stops it or the kernel dies.

        Starts the kernel first if needed (1–2 s). Raises ``KernelError`` when a cell is already
        running, ``KernelStartError`` when no kernel can start; anything the code does is a result.
        """
        if not self._run_lock.acquire(blocking=False):
            raise KernelError(
                "A cell is still running in this session's kernel. Stop it or wait for it to finish."
            )
        try:
            self._stop.clear()
            if self._handles.client is None:
                self._start()
            return run_cell(
                _ZmqChannel(self._handles),
                code,
                self.limits,
                self.limits.time_s if time_s is None else time_s,
                self._stop,
                on_output,
                self.restart,
            )
        finally:
            self._run_lock.release()
