"""The app's Neuroglancer proxy under many viewers: streams never starve the viewer, closed tabs give theirs
back.

Each open viewer holds an event stream (server-sent events) through ``/ngv/events/<token>`` for as
long as its tab lives. The proxy used to forward with tornado's shared ``AsyncHTTPClient`` (10
requests at once) and never cancelled a stream when its browser left: after ten tabs, opened at
once or one after another, every request to the viewer waited in the client's queue and failed
(``502 ... Timeout in request queue``) for every user. Here the real neuroglancer server sits
behind the app's proxy on a real Tornado server, and streams are opened and dropped as a browser
would, with the client's own query (``c``, ``gc``, ``gs``). A viewer held by another process of
the app (``--num-procs``) is reached through any process, and no other local port ever is.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import neuroglancer.server
import requests
import urllib3

from components.neuroglancer.proxy import neuroglancer_routes, open_event_streams
from components.neuroglancer.viewer import NeuroglancerViewer
from tests.support.tornado_app import serve_routes

QUICK_S = 5
"""A short request answers well within this (on the old proxy a queued one waited 10 s, then failed)."""


def _open_stream(proxy: str, token: str, client: str) -> requests.Response:
    """An event stream as the viewer's client opens it; returns once its first event (the state) arrived."""
    answer = requests.get(
        f"{proxy}/ngv/events/{token}", params={"c": client, "gc": "", "gs": ""}, stream=True, timeout=QUICK_S
    )
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"] == "text/event-stream"
    first = answer.raw.read(6)  # not iter_lines: leaving its generator would close the connection
    assert first == b"data: ", first
    return answer


def _events(answer: requests.Response, count: int) -> str:
    """The stream's next ``count`` events (each ends with a blank line), as text."""
    text = b""
    while text.count(b"\n\n") < count:
        byte = answer.raw.read(1)
        assert byte, f"the stream ended after {text!r}"
        text += byte
    return text.decode()


def _read_to_the_end(answer: requests.Response) -> None:
    """Returns once the proxy ended the stream; a stream left open fails here (read timeout)."""
    try:
        while answer.raw.read(1024):
            pass
    except urllib3.exceptions.ProtocolError:  # cut off mid-stream: the proxy closed the connection
        pass


def _streams_given_back(down_to: int = 0) -> None:
    """The streams the browser dropped are released by the proxy, upstream too, within moments."""
    deadline = time.monotonic() + QUICK_S
    while open_event_streams() > down_to and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_event_streams() == down_to


def _client_page_answers(proxy: str, token: str) -> None:
    started = time.monotonic()
    answer = requests.get(f"{proxy}/ngv/v/{token}/", timeout=QUICK_S)
    assert answer.status_code == 200 and "<html" in answer.text.lower(), answer.text[:300]
    assert time.monotonic() - started < QUICK_S


def test_thirty_streams_opened_and_dropped_one_after_another_leave_the_viewer_working(viewer):
    with serve_routes(neuroglancer_routes()) as proxy:
        for n in range(30):
            _open_stream(proxy, viewer.token, f"tab{n}").close()  # the tab closed
            _client_page_answers(proxy, viewer.token)
        _streams_given_back()


def test_fifteen_open_streams_at_once_never_hold_back_short_requests(viewer):
    with serve_routes(neuroglancer_routes()) as proxy:
        streams = [_open_stream(proxy, viewer.token, f"tab{n}") for n in range(15)]
        try:
            for _ in range(5):
                _client_page_answers(proxy, viewer.token)
        finally:
            for stream in streams:
                stream.close()
        _streams_given_back()


def test_a_closed_viewer_ends_its_stream_and_is_released_though_its_browser_never_left():
    """A session ends (its websocket is gone) while the viewer's stream is still open: a dead network keeps
    the browser side open for a long time. The stream ends, upstream too, and neuroglancer lets go of the
    viewer."""
    viewer = NeuroglancerViewer({"position": [1, 2, 3]}, debounce_s=0.1)
    token = viewer.token
    with serve_routes(neuroglancer_routes()) as proxy:
        stream = _open_stream(proxy, token, "still-open")
        viewer.close()
        ended = time.monotonic()
        _read_to_the_end(stream)
        assert time.monotonic() - ended < QUICK_S
        stream.close()
        _streams_given_back()
        deadline = time.monotonic() + QUICK_S
        while token in neuroglancer.server.global_server.viewers and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.1)
        assert token not in neuroglancer.server.global_server.viewers, (
            "the closed viewer is still held (by its open event stream or by the component)"
        )
        assert requests.get(f"{proxy}/ngv/v/{token}/", timeout=QUICK_S).status_code == 404


def test_a_viewer_beyond_the_limit_is_told_to_retry_and_connects_once_one_closes(viewer):
    with serve_routes(neuroglancer_routes(max_streams=2)) as proxy:
        first, second = _open_stream(proxy, viewer.token, "a"), _open_stream(proxy, viewer.token, "b")
        refused = requests.get(
            f"{proxy}/ngv/events/{viewer.token}", params={"c": "c", "gc": "", "gs": ""}, timeout=QUICK_S
        )
        assert refused.status_code == 503 and refused.headers.get("Retry-After")
        assert "2 viewers are open" in refused.text
        _client_page_answers(
            proxy, viewer.token
        )  # the limit is on streams, never on the viewer's other requests
        first.close()
        _streams_given_back(down_to=1)
        _open_stream(proxy, viewer.token, "c").close()
        second.close()
        _streams_given_back()


def _viewer_in_another_process(tokens: Connection, done: Event) -> None:
    viewer = NeuroglancerViewer({"position": [7, 8, 9]}, debounce_s=0.1)
    tokens.send(viewer.token)
    done.wait(60)


def test_a_viewer_of_another_server_process_is_reached_while_that_process_lives():
    """``--num-procs``: the viewer's requests reach any process of the app; each forwards to the viewer's
    own."""
    routes = neuroglancer_routes(several_processes=True)  # built before the fork, as the app does
    fork = multiprocessing.get_context("fork")
    tokens, there = fork.Pipe()
    done = fork.Event()
    other = fork.Process(target=_viewer_in_another_process, args=(there, done), daemon=True)
    other.start()
    try:
        assert tokens.poll(30), "the other process made no viewer"
        token = tokens.recv()
        with serve_routes(routes) as proxy:
            _client_page_answers(proxy, token)
            stream = _open_stream(proxy, token, "tab")
            assert '"position": [7, 8, 9]' in _events(
                stream, 2
            )  # the other process's viewer, not one of ours
            stream.close()
            done.set()
            other.join(10)
            gone = requests.get(f"{proxy}/ngv/v/{token}/", timeout=QUICK_S)
            assert gone.status_code == 404
            port = proxy.rsplit(":", 1)[1]  # a live local port that is no viewer server: never forwarded to
            assert requests.get(f"{proxy}/ngv/v/{port}p{'0' * 40}/", timeout=QUICK_S).status_code == 404
    finally:
        done.set()
        other.join(10)
