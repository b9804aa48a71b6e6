"""A Panel page served in this test's process, and a websocket client that opens it as a browser does.

For tests of the session-thread helpers against a real Bokeh server: the server's event loop
runs on its own thread, sessions end 100 ms after their connection closes, and the client
reads the server's patches as text.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import panel as pn
import requests
from bokeh.document import Document
from bokeh.document.events import MessageSentEvent
from bokeh.events import DocumentReady
from bokeh.protocol import Protocol
from tornado.websocket import websocket_connect

__all__ = ["serve_page", "read_patches"]


@contextmanager
def serve_page(page: Callable[[], pn.viewable.Viewable]) -> Iterator[str]:
    """Serve ``page`` (called once per session) on a free port; yields the page's URL."""
    server = pn.serve(
        {"/": lambda: page()},
        port=0,
        address="127.0.0.1",
        show=False,
        start=False,
        threaded=False,
        check_unused_sessions_milliseconds=100,
        unused_session_lifetime_milliseconds=100,
    )

    def serve() -> None:  # the server's loop runs here; its periodic checks must be started on it
        asyncio.set_event_loop(server.io_loop.asyncio_loop)
        server.start()
        server.io_loop.start()

    threading.Thread(target=serve, name="server-loop", daemon=True).start()
    deadline = time.time() + 10
    while not server._started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        server.io_loop.add_callback(server.stop)
        server.io_loop.add_callback(server.io_loop.stop)


async def read_patches(url: str, done: Callable[[list[str]], bool], timeout_s: float = 15) -> list[str]:
    """Open the page, then read the server's ``PATCH-DOC`` frames (as text) until ``done(frames)`` or the
    timeout (the page itself may take longer to build on a loaded machine: that is not what is read here)."""
    html = await asyncio.to_thread(lambda: requests.get(url, timeout=60).text)
    token = re.search(r'"token":\s*"([^"]+)"', html).group(1)
    connection = await websocket_connect(url.replace("http", "ws", 1) + "ws", subprotocols=["bokeh", token])
    protocol, frames = Protocol(), []
    try:
        for _ in range(3):  # ACK
            await connection.read_message()
        for message in (
            protocol.create("PULL-DOC-REQ"),
            protocol.create("PATCH-DOC", [MessageSentEvent(Document(), "bokeh_event", DocumentReady())]),
        ):
            for frame in (message.header_json, message.metadata_json, message.content_json):
                await connection.write_message(frame)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while not done(frames) and loop.time() < end:
            try:
                frame = await asyncio.wait_for(connection.read_message(), timeout=end - loop.time())
            except TimeoutError:
                break
            if isinstance(frame, str) and '"ModelChanged"' in frame:
                frames.append(frame)
        return frames
    finally:
        connection.close()
        while (
            await asyncio.wait_for(connection.read_message(), timeout=5) is not None
        ):  # until the server closes
            pass
