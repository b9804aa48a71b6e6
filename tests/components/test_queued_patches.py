"""Every change Panel queues for a browser is sent, even one queued as the previous send completes.

Panel queues a session's changes as PATCH-DOC messages while an earlier write is still on its way
(``schedule_write_events``) and sends them from a task (``_dispatch_msgs``). When that task's last write
completed in the same turn of the event loop as a new change was queued, the task cleared the session's
write block before the new task ran, the new task found no block and returned, and the change stayed in
the queue: the server's model changed, the browser never heard of it (the curation grid's missing
pictures after paging back, a movie that kept its old file). The socket here is Panel's own extension
point for sockets that are not tornado's; what it holds back stands for a network write still under way.
"""

from __future__ import annotations

import asyncio

import pytest
from bokeh.document import Document
from bokeh.document.events import ModelChangedEvent
from bokeh.models import Div
from bokeh.protocol import Protocol
from panel.io import document as panel_document

from components.queued_patches import send_every_queued_patch


class _NetworkSocket:
    """A socket whose sends complete only when the test says the network has caught up."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.in_flight: list[asyncio.Future] = []

    def send(self, text_data: str | None = None, binary_data: bytes | None = None) -> asyncio.Future:
        self.sent.append(text_data if text_data is not None else "<binary>")
        future = asyncio.get_running_loop().create_future()
        self.in_flight.append(future)
        return future

    def catch_up(self) -> None:
        for future in self.in_flight:
            if not future.done():
                future.set_result(None)


class _Connection:
    def __init__(self, socket: _NetworkSocket) -> None:
        self._socket, self.protocol = socket, Protocol()


def _send_with_panel(socket: _NetworkSocket, text: Div, doc: Document) -> None:
    panel_document.extra_socket_handlers[_NetworkSocket] = panel_document.dispatch_django
    connection = _Connection(socket)

    def change(value: str) -> None:
        text.text = value  # what a session callback does
        event = ModelChangedEvent(doc, text, "text", value)
        panel_document.schedule_write_events(doc, [connection], [event])

    async def scenario() -> None:
        change("first")
        await asyncio.sleep(0)  # Panel's task sends the first change; its write is on its way
        socket.catch_up()  # the write completes (the task resumes next turn) ...
        change("second")  # ... and in the same turn the session changes the model again
        for _ in range(20):
            await asyncio.sleep(0.01)
            socket.catch_up()

    asyncio.run(scenario())


@pytest.fixture
def text_on_a_page():
    doc = Document()
    text = Div(text="start")
    doc.add_root(text)
    yield text, doc
    panel_document.extra_socket_handlers.pop(_NetworkSocket, None)
    panel_document._WRITE_MSGS.pop(doc, None)
    panel_document._WRITE_BLOCK.pop(doc, None)


def test_a_change_queued_as_the_previous_write_completes_reaches_the_browser(text_on_a_page):
    text, doc = text_on_a_page
    send_every_queued_patch()
    socket = _NetworkSocket()
    _send_with_panel(socket, text, doc)
    contents = [message for message in socket.sent if '"kind":"ModelChanged"' in message]
    assert [('"new":"first"' in m, '"new":"second"' in m) for m in contents] == [(True, False), (False, True)]
    assert doc not in panel_document._WRITE_MSGS  # nothing left waiting
    assert doc not in panel_document._WRITE_BLOCK  # and the next change goes straight out again


def test_installing_twice_keeps_one_mend():
    send_every_queued_patch()
    mended = panel_document._dispatch_msgs
    send_every_queued_patch()
    assert panel_document._dispatch_msgs is mended
