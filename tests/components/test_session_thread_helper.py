"""``run_on_session_thread`` against a real Panel server in this process: a change asked from a foreign thread
reaches the browser's websocket, in the order asked, on the server's event loop (changes asked together may
reach it as one patch, never an older one after a newer); one change that fails does not drop the others; once
the session has ended the change is dropped, not run on the asking thread; outside a server it runs at
once."""

from __future__ import annotations

import asyncio
import threading
import time

import panel as pn
import pytest
from bokeh.document import Document

from components.background import run_on_session_thread
from tests.support.panel_page import read_patches, serve_page

pytestmark = pytest.mark.timeout(60)


class _App:
    """One page: a label a foreign thread changes twice once the page has loaded; records where changes
    ran."""

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

        def broken() -> None:
            raise RuntimeError("a change that fails")

        def foreign() -> None:
            run_on_session_thread(doc, lambda: change("first"))
            run_on_session_thread(doc, broken)
            run_on_session_thread(doc, lambda: change("second"))

        pn.state.onload(lambda: threading.Thread(target=foreign, name="foreign").start())
        return label


@pytest.fixture
def served():
    app = _App()
    with serve_page(app) as url:
        yield url, app


async def _patches_until(url: str, wanted: str) -> list[str]:
    """The label texts the server sends until ``wanted`` arrives."""
    frames = await read_patches(url, lambda frames: wanted in _words(frames))
    return _words(frames)


def _words(frames: list[str]) -> list[str]:
    return [word for frame in frames for word in ("first", "second") if word in frame]


def test_changes_from_a_foreign_thread_reach_the_browser_in_order_from_the_event_loop(served):
    url, app = served
    seen = asyncio.run(_patches_until(url, "second"))
    assert seen[-1] == "second" and "first" not in seen[seen.index("second") :], seen
    assert app.ran_on == ["server-loop", "server-loop"]  # both ran, in order, never on the asking thread


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
