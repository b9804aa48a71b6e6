"""A kernel on a Jupyter server (JupyterHub, a lab machine), through Jupyter Server's REST and WebSocket API.

The server's URL and token come from the operator's settings, not from users. Per session:
a folder on the server (``neurodeck-<id>``, the kernel's working folder) and a kernel
started there (REST), one WebSocket carrying the kernel's messages (the JSON protocol every
Jupyter Server speaks), interrupts and restarts over REST. The time limit works as locally;
the memory limit is the server's own (JupyterHub's per-user limit), not ``KernelLimits.memory_mb``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlparse

from engines.io.errors import SourceError
from engines.io.operator_service import OperatorService
from engines.kernel._cell import run_cell
from engines.kernel._kernel_setup import SETUP_CODE
from engines.kernel.base import KernelLimits, OnOutput
from engines.kernel.errors import KernelError, KernelStartError, RemoteKernelError
from engines.kernel.results import CellResult

__all__ = ["RemoteKernel"]

_READY_TIMEOUT_S = 60.0
_ALIVE_CHECK_S = 1.0
_RESTART_WAIT_S = 30.0
"""How long a restart waits for the server's own restart of a kernel that died."""


class RemoteKernel:
    """One session's kernel on a Jupyter server. ``run`` from one thread at a time; ``stop`` from any
    thread."""

    def __init__(
        self,
        server_url: str,
        token: str,
        limits: KernelLimits | None = None,
        kernel_name: str = "python3",
        request_timeout_s: float = 10.0,
    ) -> None:
        self.limits = limits or KernelLimits(memory_mb=0)
        self.server_url = server_url.rstrip("/")
        self.kernel_name = kernel_name
        self.workdir = f"neurodeck-{uuid.uuid4().hex[:12]}"
        """The kernel's folder on the server, relative to the server's root."""
        self._timeout = request_timeout_s
        self._http = OperatorService(
            f"{self.server_url}/api", {"Authorization": f"token {token}"}, request_timeout_s
        )
        self._token = token
        self._session_id = uuid.uuid4().hex
        self._kernel_id: str | None = None
        self._socket: Any = None
        self._reader: threading.Thread | None = None
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._alive = (0.0, True)
        self._died = False

    # --- REST ------------------------------------------------------------------------------------
    def _rest(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        try:
            reply = self._http.request(method, route, body)
            if reply.status in (401, 403):
                raise RemoteKernelError(
                    f"The Jupyter server refused the token (HTTP {reply.status}). "
                    "Check the token in the settings."
                )
            if reply.status >= 400:
                raise RemoteKernelError(
                    f"The Jupyter server answered HTTP {reply.status} to {method} {route}."
                )
            return reply.json()
        except SourceError as exc:
            raise RemoteKernelError(
                f"Cannot use the Jupyter server at {urlparse(self.server_url).netloc}: {exc} "
                "Check its address in the settings."
            ) from exc

    # --- lifecycle -------------------------------------------------------------------------------
    def _start(self) -> None:
        self._rest("PUT", f"contents/{quote(self.workdir)}", {"type": "directory"})
        kernel = self._rest("POST", "kernels", {"name": self.kernel_name, "path": self.workdir})
        self._kernel_id = kernel["id"]
        self._connect()
        self._request(
            "execute_request",
            {
                "code": SETUP_CODE,
                "silent": True,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": False,
            },
        )

    def _connect(self) -> None:
        import websocket

        base = self.server_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url = f"{base}/api/kernels/{self._kernel_id}/channels?session_id={self._session_id}"
        try:
            self._socket = websocket.create_connection(
                url, header=[f"Authorization: token {self._token}"], timeout=self._timeout
            )
        except (OSError, websocket.WebSocketException) as exc:
            raise KernelStartError(
                f"Cannot open the kernel's connection on the Jupyter server ({exc})."
            ) from exc
        self._socket.settimeout(None)
        self._inbox = queue.Queue()
        self._died = False
        self._alive = (0.0, True)
        self._reader = threading.Thread(
            target=self._read, args=(self._socket, self._inbox), daemon=True, name="remote-kernel-reader"
        )
        self._reader.start()
        self._wait_ready()

    @staticmethod
    def _read(socket: Any, inbox: queue.Queue) -> None:
        """Put every IOPub message in ``inbox``; None once the connection closes."""
        try:
            while True:
                frame = socket.recv()
                if not frame:
                    break
                message = json.loads(frame)
                if message.get("channel") in ("iopub", "shell"):
                    inbox.put(message)
        except Exception:  # the connection closed (shutdown, server gone): the runner sees None
            pass
        inbox.put(None)

    def _wait_ready(self) -> None:
        """Until the kernel answers on both channels: its reply (shell) and the status it publishes for that
        request (IOPub). A reply alone is not enough: right after a restart the IOPub subscription can still
        be connecting, and a cell run then loses its printed output (as jupyter_client's ``wait_for_ready``
        does)."""
        msg_id = self._request("kernel_info_request", {})
        replied, published = False, False
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                message = self._inbox.get(timeout=0.5)
            except queue.Empty:
                msg_id = self._request(
                    "kernel_info_request", {}
                )  # asked before the kernel listened: ask again
                replied = published = False
                continue
            if message is None:
                raise KernelStartError("The Jupyter server closed the kernel's connection while it started.")
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            replied = replied or message.get("msg_type") == "kernel_info_reply"
            published = published or message.get("channel") == "iopub"
            if replied and published:
                return
        raise KernelStartError(
            f"The kernel on the Jupyter server did not answer within {_READY_TIMEOUT_S:g} s "
            f"(last request {msg_id})."
        )

    def _request(self, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "username": "neurodeck",
            "session": self._session_id,
            "msg_type": msg_type,
            "version": "5.3",
            "date": datetime.now(UTC).isoformat(),
        }
        message = {
            "header": header,
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": "shell",
            "buffers": [],
        }
        try:
            self._socket.send(json.dumps(message))
        except Exception as exc:  # websocket-client raises several types for a closed connection
            raise RemoteKernelError(
                f"The connection to the kernel on the Jupyter server is closed ({exc})."
            ) from exc
        return msg_id

    def restart(self) -> None:
        """A fresh kernel on the server (variables lost, its folder kept).

        The server restarts a kernel that died by itself, and a restart asked while that one is
        under way is refused (HTTP 500, seen on a loaded machine): then the server's own restart
        is awaited instead of failing the cell."""
        try:
            self._rest("POST", f"kernels/{self._kernel_id}/restart")
        except RemoteKernelError:
            if not self._wait_until_running(_RESTART_WAIT_S):
                raise
        self._close_socket()
        self._connect()

    def _wait_until_running(self, wait_s: float) -> bool:
        """Whether the server reports the kernel running (idle or busy) within ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self._rest("GET", f"kernels/{self._kernel_id}").get("execution_state") in ("idle", "busy"):
                return True
            time.sleep(0.25)
        return False

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._reader is not None:
            self._reader.join(timeout=2.0)
            self._reader = None

    def shutdown(self) -> None:
        """Stop a running cell, delete the kernel and its folder on the server."""
        self.stop()
        with self._run_lock:
            self._close_socket()
            if self._kernel_id is not None:
                self._rest("DELETE", f"kernels/{self._kernel_id}")
                self._kernel_id = None
                self._rest("DELETE", f"contents/{quote(self.workdir)}")
            self._http.close()

    def stop(self) -> bool:
        """Interrupt the running cell; its ``run`` returns status "stopped". False when nothing runs."""
        if not self._run_lock.locked():
            return False
        self._stop.set()
        return True

    # --- running ---------------------------------------------------------------------------------
    def run(self, code: str, on_output: OnOutput | None = None, time_s: float | None = None) -> CellResult:
        """Run ``code`` on the server's kernel (started on first use); same results as ``LocalKernel.run``."""
        if not self._run_lock.acquire(blocking=False):
            raise KernelError(
                "A cell is still running in this session's kernel. Stop it or wait for it to finish."
            )
        try:
            self._stop.clear()
            if self._kernel_id is None:
                self._start()
            return run_cell(
                self,
                code,
                self.limits,
                self.limits.time_s if time_s is None else time_s,
                self._stop,
                on_output,
                self.restart,
            )
        finally:
            self._run_lock.release()

    # ``KernelChannel`` for run_cell
    def execute(self, code: str) -> str:
        return self._request(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        try:
            message = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if message is None:
            raise RemoteKernelError("The Jupyter server closed the kernel's connection. Run the cell again.")
        if message.get("channel") != "iopub":
            return None
        if message.get("msg_type") == "status" and message["content"].get("execution_state") in (
            "restarting",
            "dead",
        ):
            self._died = True  # the server restarts a dead kernel itself; the running cell is lost either way
        return message

    def interrupt(self) -> None:
        self._rest("POST", f"kernels/{self._kernel_id}/interrupt")

    def alive(self) -> bool:
        """The server's word on the kernel, asked at most once a second."""
        if self._died:
            return False
        checked, alive = self._alive
        if time.monotonic() - checked > _ALIVE_CHECK_S:
            state = self._rest("GET", f"kernels/{self._kernel_id}").get("execution_state")
            self._alive = (time.monotonic(), state != "dead")
        return self._alive[1]

    def finish(self, msg_id: str) -> None:
        """Replies arrive on the same connection and are skipped there: nothing to do."""
