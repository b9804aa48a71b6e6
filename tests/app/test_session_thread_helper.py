"""``run_on_session_thread`` against a real Panel server in this process: a change asked from a foreign thread
reaches the browser's websocket, in the order asked, on the server's event loop; once the session has ended the
change is dropped, not run on the asking thread; outside a server it runs at once."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import panel as pn
import pytest
import requests
from bokeh.document import Document
from bokeh.document.events import MessageSentEvent
from bokeh.events import DocumentReady
from bokeh.protocol import Protocol
from tornado.websocket import websocket_connect

from components.background import run_on_session_thread

pytestmark = pytest.mark.timeout(60)


class _App:
    """One page: a label a foreign thread changes twice once the page has loaded; records where changes ran."""

    def __init__(self) -> None:
        self.ran_on: list[str] = []
        self.docs: list[Document] = []
        self.ended = threading.Event()

    def __call__(self) -> pn.viewable.Viewable:
        label = pn.pane.Markdown("before")
        doc = pn.state.curdoc
        self.docs.append(doc)
        pn.state.on_session_destroyed(lambda _ctx: self.ended.set())

        def change(text: str) -> None:
            self.ran_on.append(threading.current_thread().name)
            label.object = text

        def foreign() -> None:
            run_on_session_thread(doc, lambda: change("first"))
            run_on_session_thread(doc, lambda: change("second"))

        pn.state.onload(lambda: threading.Thread(target=foreign, name="foreign").start())
        return label


@pytest.fixture
def served():
    app = _App()

    def page() -> pn.viewable.Viewable:  # Panel calls plain functions once per session
        return app()

    server = pn.serve({"/": page}, port=0, address="127.0.0.1", show=False, start=False, threaded=False,
                      check_unused_sessions_milliseconds=100, unused_session_lifetime_milliseconds=100)
    def serve() -> None:  # the server's loop runs here; its periodic checks must be started on it
        asyncio.set_event_loop(server.io_loop.asyncio_loop)
        server.start()
        server.io_loop.start()

    loop_thread = threading.Thread(target=serve, name="server-loop", daemon=True)
    loop_thread.start()
    deadline = time.time() + 10
    while not server._started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.port}/", app
    server.io_loop.add_callback(server.stop)
    server.io_loop.add_callback(server.io_loop.stop)


async def _patches_until(url: str, wanted: str, timeout_s: float = 15) -> list[str]:
    """Open the page as a browser does and collect the label texts the server sends until ``wanted`` arrives."""
    html = await asyncio.to_thread(lambda: requests.get(url, timeout=10).text)
    token = re.search(r'"token":\s*"([^"]+)"', html).group(1)
    connection = await websocket_connect(url.replace("http", "ws", 1) + "ws", subprotocols=["bokeh", token])
    protocol, seen = Protocol(), []
    try:
        for _ in range(3):  # ACK
            await connection.read_message()
        for message in (protocol.create("PULL-DOC-REQ"),
                        protocol.create("PATCH-DOC", [MessageSentEvent(Document(), "bokeh_event", DocumentReady())])):
            for frame in (message.header_json, message.metadata_json, message.content_json):
                await connection.write_message(frame)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while wanted not in seen and loop.time() < end:
            frame = await asyncio.wait_for(connection.read_message(), timeout=end - loop.time())
            if isinstance(frame, str) and '"ModelChanged"' in frame:
                seen += [word for word in ("first", "second") if word in frame]
        return seen
    finally:
        connection.close()
        while await asyncio.wait_for(connection.read_message(), timeout=5) is not None:  # until the server closes
            pass


def test_changes_from_a_foreign_thread_reach_the_browser_in_order_from_the_event_loop(served):
    url, app = served
    seen = asyncio.run(_patches_until(url, "second"))
    assert seen[-2:] == ["first", "second"], seen
    assert app.ran_on == ["server-loop", "server-loop"]  # never on the asking thread


def test_after_the_session_ended_a_change_is_dropped(served):
    url, app = served
    asyncio.run(_patches_until(url, "second"))
    assert app.ended.wait(10), "the server did not end the closed session"
    ran = []
    run_on_session_thread(app.docs[0], lambda: ran.append("ran"))
    time.sleep(0.3)
    assert ran == []


def test_outside_a_server_it_runs_at_once():
    ran = []
    run_on_session_thread(None, lambda: ran.append(threading.current_thread().name))
    run_on_session_thread(Document(), lambda: ran.append(threading.current_thread().name))
    assert ran == [threading.current_thread().name] * 2
