"""A small real reverse proxy on 127.0.0.1 (tornado): HTTP and WebSocket, under a path prefix, with
X-Forwarded-*.

It stands for nginx or a lab's gateway in front of the app: ``http://127.0.0.1:<port>/neurodeck/...``
is forwarded to ``<upstream>/neurodeck/...`` with the browser's Host and Origin kept, as
``proxy_set_header Host $host`` does. Requests are counted, so a test can check that what the
page loaded came through the proxy.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from tornado import httpclient, web, websocket
from tornado.httpserver import HTTPServer

__all__ = ["ReverseProxy"]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
}


class _Forward(web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

    def initialize(self, proxy: ReverseProxy) -> None:
        self.proxy = proxy

    async def _forward(self) -> None:
        self.proxy.count(self.request.path)
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in _HOP_BY_HOP}
        headers.update(
            {
                "X-Forwarded-For": self.request.remote_ip,
                "X-Forwarded-Proto": "http",
                "X-Forwarded-Host": self.request.host,
            }
        )
        body = self.request.body if self.request.method in ("POST", "PUT", "PATCH") else None
        request = httpclient.HTTPRequest(
            self.proxy.upstream + self.request.uri,
            method=self.request.method,
            headers=headers,
            body=body,
            follow_redirects=False,
            allow_nonstandard_methods=True,
            request_timeout=3600,
            decompress_response=True,
            header_callback=self._header,
            streaming_callback=self._chunk,
        )
        try:
            await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except Exception:  # the browser went away in the middle of a stream
            pass

    def _header(self, line: str) -> None:
        """Streamed through like nginx with buffering off: status and headers as they come."""
        if line.startswith("HTTP/"):
            self.set_status(int(line.split()[1]))
        elif ":" in line:
            key, value = line.split(":", 1)
            if key.strip().lower() not in _HOP_BY_HOP:
                self.add_header(key.strip(), value.strip())

    def _chunk(self, chunk: bytes) -> None:
        if not self._finished and self.request.method != "HEAD":
            self.write(chunk)
            self.flush()

    get = head = post = put = delete = patch = options = _forward


class _ForwardSocket(websocket.WebSocketHandler):
    def initialize(self, proxy: ReverseProxy) -> None:
        self.proxy = proxy
        self.upstream: websocket.WebSocketClientConnection | None = None
        self.pending: list[Any] = []

    def check_origin(self, origin: str) -> bool:
        return True  # the app behind decides

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[0] if subprotocols else None  # Bokeh sends its token as a subprotocol

    async def open(self, *_args: Any) -> None:
        self.proxy.count(self.request.path)
        headers = {
            k: v
            for k, v in self.request.headers.get_all()
            if k.lower() in ("origin", "cookie", "host", "user-agent")
        }
        headers["X-Forwarded-For"] = self.request.remote_ip
        target = "ws" + self.proxy.upstream[len("http") :] + self.request.uri
        request = httpclient.HTTPRequest(target, headers=headers, request_timeout=60)
        self.upstream = await websocket.websocket_connect(
            request,
            subprotocols=self.request.headers.get("Sec-WebSocket-Protocol", "").replace(" ", "").split(",")
            if self.request.headers.get("Sec-WebSocket-Protocol")
            else None,
            max_message_size=100 * 2**20,
        )
        for message in self.pending:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))
        self.pending.clear()
        asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        while self.upstream is not None:
            message = await self.upstream.read_message()
            if message is None:
                self.close()
                return
            await self.write_message(message, binary=isinstance(message, bytes))

    async def on_message(self, message: Any) -> None:
        if self.upstream is None:
            self.pending.append(message)
        else:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


class ReverseProxy:
    """``with ReverseProxy("http://127.0.0.1:5006") as proxy: proxy.url`` (no trailing slash)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.paths: list[str] = []
        self._lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="reverse-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application(
            [(r".*/ws", _ForwardSocket, {"proxy": self}), (r".*", _Forward, {"proxy": self})],
            websocket_max_message_size=100 * 2**20,
        )
        server = HTTPServer(app, xheaders=False)
        server.listen(self.port, "127.0.0.1")
        self._ready.set()
        self._loop.run_forever()
        server.stop()

    def __enter__(self) -> ReverseProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
