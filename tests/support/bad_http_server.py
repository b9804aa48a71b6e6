"""A real HTTP server on 127.0.0.1 that misbehaves the ways a hostile one would, for the source-policy tests.

Modes (one per server):

* ``oversend_declared``: answers ``206`` with a ``Content-Length`` of ``oversend_bytes`` and sends them,
  whatever range was asked for;
* ``oversend_unbounded``: answers ``206`` with no length (``Connection: close``) and sends
  ``oversend_bytes``;
* ``drip``: sends its answer a byte every ``drip_s`` seconds, forever (until the client hangs up).

``requests`` counts the requests that reached it, ``sent`` the body bytes the kernel accepted.
"""

from __future__ import annotations

import socket
import threading
from typing import Literal

__all__ = ["BadHttpServer"]

Mode = Literal["oversend_declared", "oversend_unbounded", "drip"]
_BLOCK = b"x" * (64 * 1024)


class BadHttpServer:
    def __init__(self, mode: Mode, oversend_bytes: int = 64 << 20, drip_s: float = 0.2) -> None:
        self.mode = mode
        self.oversend_bytes = oversend_bytes
        self.drip_s = drip_s
        self.requests = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    def url(self, path: str = "file.nwb") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> BadHttpServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                with self._lock:
                    self.requests += 1
                getattr(self, f"_{self.mode}")(conn)
            except OSError:  # the client hung up: what a well-behaved client does to this server
                return

    def _body(self, conn: socket.socket, head: bytes) -> None:
        conn.sendall(head)
        left = self.oversend_bytes
        while left > 0 and not self._stop.is_set():
            block = _BLOCK[:left]
            conn.sendall(block)
            with self._lock:
                self.sent += len(block)
            left -= len(block)

    def _oversend_declared(self, conn: socket.socket) -> None:
        self._body(
            conn,
            (
                f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/{self.oversend_bytes}\r\n"
                f"Content-Length: {self.oversend_bytes}\r\n\r\n"
            ).encode(),
        )

    def _oversend_unbounded(self, conn: socket.socket) -> None:
        self._body(
            conn,
            (
                f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/{self.oversend_bytes}\r\n"
                "Connection: close\r\n\r\n"
            ).encode(),
        )

    def _drip(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/1000\r\nX-Drip: " + b"y" * 10_000
        for byte in answer:
            if self._stop.wait(self.drip_s):
                return
            conn.sendall(bytes([byte]))
            with self._lock:
                self.sent += 1
