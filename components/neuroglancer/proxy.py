"""The Neuroglancer viewer through the app's own origin: ``<prefix>/ngv/...`` forwarded to its local server.

The ``neuroglancer`` package serves its bundled client and each viewer's state channel (``/v/<token>/``,
``/events/<token>``, ``/state/<token>``, ``/action/<token>``) on ``127.0.0.1:<random port>``. An iframe
pointing there is blank for anyone who opens the app from another machine, through a reverse proxy, or inside
another site. The client finds its server from its own address (the part before ``/v/<token>``), so serving it
at ``<prefix>/ngv/v/<token>/`` makes every request it sends come back here, to be forwarded, to the
neuroglancer server of whichever of the app's processes holds that viewer
(``components.neuroglancer.servers``).

Every forwarded request gets its own connection to the local server (tornado's own HTTP/1
client connection), never a slot of a shared client pool: each open viewer holds an event
stream (server-sent events) for as long as its tab lives, and with tornado's shared
``AsyncHTTPClient`` (10 requests at once) ten open or once-opened tabs left the viewer dead for
every user. A stream ends, upstream too, the moment its browser disconnects or its viewer is
closed (the session ended, see ``close_event_streams``); at most ``max_streams`` are open at
once (a viewer beyond that is told to retry, which its client does by itself). Short requests
(the client's files, ``state/``, ``action/``) are never queued behind streams.

``credentials/<token>`` hands out the server's own data-source tokens (DVID, Google, BOSS): it is
refused (403) unless the operator opted in (``--viewer-credentials``), whatever the viewer allows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable

from tornado import httputil, ioloop, iostream, web
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.tcpclient import TCPClient

from components.neuroglancer.servers import (
    neuroglancer_server_url,
    prepare_viewer_servers,
    viewer_server_port,
)

__all__ = [
    "DEFAULT_MAX_STREAMS",
    "NG_PATH",
    "NeuroglancerProxy",
    "close_event_streams",
    "neuroglancer_routes",
    "neuroglancer_server_url",
    "open_event_streams",
]

NG_PATH = "/ngv"
"""Where the viewer lives under the app's prefix."""

DEFAULT_MAX_STREAMS = 200
"""Viewers open at once per server process: each holds three sockets (browser, proxy to viewer server, and the
viewer server's end), and a process often may open no more than 1024 files."""

REQUEST_TIMEOUT_S = 60
"""A short request (the client's files, state, actions) that the local server does not answer within this
fails."""

_ALLOWED = re.compile(
    r"^(v|events|state|action|volume_response|credentials)/[A-Za-z0-9_\-]+(/[@A-Za-z0-9_\-./]*)?$"
)
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
    "te",
    "trailer",
    "proxy-connection",
}


class _EventStreams:
    """The event streams open now, by viewer token: what ``max_streams`` counts and what a closed viewer
    ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, set[NeuroglancerProxy]] = {}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(handlers) for handlers in self._by_token.values())

    def admit(self, token: str, handler: NeuroglancerProxy, max_streams: int) -> bool:
        with self._lock:
            if sum(len(handlers) for handlers in self._by_token.values()) >= max_streams:
                return False
            self._by_token.setdefault(token, set()).add(handler)
            return True

    def remove(self, token: str, handler: NeuroglancerProxy) -> None:
        with self._lock:
            handlers = self._by_token.get(token, set())
            handlers.discard(handler)
            if not handlers:
                self._by_token.pop(token, None)

    def close(self, token: str) -> None:
        with self._lock:
            handlers = list(self._by_token.get(token, ()))
        for handler in handlers:
            handler.end_stream()


_STREAMS = _EventStreams()


def open_event_streams() -> int:
    """How many viewer event streams this process forwards now (each holds one upstream connection)."""
    return len(_STREAMS)


def close_event_streams(token: str) -> None:
    """End the event streams of viewer ``token`` (its session ended), both to the browser and upstream; any
    thread."""
    _STREAMS.close(token)


class _Relay(httputil.HTTPMessageDelegate):
    """Passes the local server's answer to the browser as it arrives (the event stream flushed chunk by
    chunk)."""

    def __init__(self, handler: NeuroglancerProxy, streaming: bool) -> None:
        self._handler = handler
        self._streaming = streaming
        self.started = False

    def headers_received(self, start_line, headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        handler = self._handler
        self.started = True
        handler.set_status(start_line.code, start_line.reason)
        seen: set[str] = set()
        for key, value in headers.get_all():
            if key.lower() in _HOP_BY_HOP:
                continue
            if key.lower() in seen:  # a repeated header (Set-Cookie) keeps every value
                handler.add_header(key, value)
            else:  # replaces this handler's own default (Server, Content-Type, Date)
                handler.set_header(key, value)
                seen.add(key.lower())
        if self._streaming:
            handler.set_header(
                "X-Accel-Buffering", "no"
            )  # nginx in front: pass the event stream through unbuffered
            return self._send()
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self._handler.request.method == "HEAD" or self._handler.browser_gone:
            return None
        self._handler.write(chunk)
        return self._send()  # the browser's pace holds back the read: nothing piles up in memory

    async def _send(self) -> None:
        try:
            await self._handler.flush()
        except iostream.StreamClosedError:
            self._handler.browser_left()


class NeuroglancerProxy(web.RequestHandler):
    """Forward one request to the neuroglancer server; only its viewer paths, never anything else."""

    SUPPORTED_METHODS = ("GET", "POST", "HEAD")

    def initialize(self, allow_credentials: bool = False, max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        self._allow_credentials = allow_credentials
        self._max_streams = max_streams
        self._loop = ioloop.IOLoop.current()
        self._upstream: HTTP1Connection | None = None
        self._stream_token: str | None = None
        self.browser_gone = False

    async def _forward(self, path: str) -> None:
        if not _ALLOWED.match(path):
            raise web.HTTPError(404)
        if path.startswith("credentials/") and not self._allow_credentials:
            raise web.HTTPError(
                403, "the viewer does not hand out the server's credentials (--viewer-credentials)"
            )
        streaming, token = path.startswith("events/"), path.split("/")[1]
        port = viewer_server_port(token)
        if port is None:
            raise web.HTTPError(404, "this viewer's server process has ended: reload the page")
        if streaming:
            if not _STREAMS.admit(
                token, self, self._max_streams
            ):  # the client retries by itself, with backoff
                self.set_status(503)
                self.set_header("Retry-After", "5")
                self.finish(
                    f"{self._max_streams} viewers are open on this server (--max-viewers); "
                    "this one connects when one closes."
                )
                return
            self._stream_token = token
        try:
            await self._relay(path, port, streaming)
        finally:
            self._release()

    async def _relay(self, path: str, port: int, streaming: bool) -> None:
        try:
            stream = await TCPClient().connect("127.0.0.1", port, timeout=10)
        except (OSError, iostream.StreamClosedError, TimeoutError) as exc:
            raise web.HTTPError(502, f"the viewer server did not answer: {exc}") from exc
        connection = HTTP1Connection(
            stream,
            True,
            HTTP1ConnectionParameters(
                no_keep_alive=True,
                decompress=True,
                header_timeout=REQUEST_TIMEOUT_S,
                body_timeout=None if streaming else REQUEST_TIMEOUT_S,
                max_body_size=1024**3,
            ),
        )
        self._upstream = connection
        headers = httputil.HTTPHeaders(
            {k: v for k, v in self.request.headers.get_all() if k.lower() not in _HOP_BY_HOP}
        )
        headers["Host"], headers["Connection"] = f"127.0.0.1:{port}", "close"
        body = self.request.body if self.request.method == "POST" else b""
        if self.request.method == "POST":
            headers["Content-Length"] = str(len(body))
        query = f"?{self.request.query}" if self.request.query else ""
        relay = _Relay(self, streaming)
        try:
            if self.browser_gone:  # while we connected
                return
            connection.write_headers(
                httputil.RequestStartLine(self.request.method, f"/{path}{query}", "HTTP/1.1"),
                headers,
                body or None,
            )
            connection.finish()
            answered = await connection.read_response(relay)
        except iostream.StreamClosedError:
            answered = False
        finally:
            connection.close()  # a client connection stays open after its answer unless closed
        if not answered and not relay.started and not self.browser_gone:
            raise web.HTTPError(502, "the viewer server did not answer")

    def end_stream(self) -> None:
        """End this forward (its viewer closed): upstream and browser connections both; from any thread."""
        self._loop.add_callback(self._close_both)

    def _close_both(self) -> None:
        if self._finished:  # ended meanwhile: its browser connection may already carry another request
            return
        if self._upstream is not None:
            self._upstream.close()
        connection = self.request.connection  # an HTTP1Connection on Tornado's server; typed as its base
        if not self.browser_gone and isinstance(connection, HTTP1Connection):
            connection.close()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self.browser_left()

    def browser_left(self) -> None:
        """The browser went away (tab closed): close the upstream request now, so nothing waits on it."""
        self.browser_gone = True
        if self._upstream is not None:
            self._upstream.close()
        self._release()

    def _release(self) -> None:
        if self._stream_token is not None:
            _STREAMS.remove(self._stream_token, self)
            self._stream_token = None

    async def get(self, path: str) -> None:
        await self._forward(path)

    async def post(self, path: str) -> None:
        await self._forward(path)

    async def head(self, path: str) -> None:
        await self._forward(path)


def neuroglancer_routes(
    allow_credentials: bool = False, max_streams: int = DEFAULT_MAX_STREAMS, several_processes: bool = False
) -> list[tuple]:
    """The proxy's route; ``allow_credentials`` forwards ``credentials/`` (the operator's opt-in);
    ``max_streams``
    viewers may be open at once in this process (``--max-viewers``). ``several_processes``: called before
    ``--num-procs`` forks, so that the processes share the list of their viewer servers."""
    if several_processes:
        prepare_viewer_servers()
    return [
        (
            rf"{NG_PATH}/(.*)",
            NeuroglancerProxy,
            {"allow_credentials": allow_credentials, "max_streams": max_streams},
        )
    ]
