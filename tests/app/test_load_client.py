"""The load benchmark's simulated tab against a real Panel server: it loads a page as a browser does (Panel's
``onload`` runs), clicks, reads the answer (text and array data) and reports a click nobody answers as an
error."""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource

from benchmarks._load_client import Tab, TabError
from benchmarks._load_visit import Outcome
from benchmarks.load import Step, max_users_under, per_session_mb


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _app():
    status = pn.pane.Markdown("waiting")
    source = ColumnDataSource({"time": np.zeros(3)})
    button = pn.widgets.Button(label="Read")
    silent = pn.widgets.Button(label="Nothing")

    def read(_event):
        source.data = {"time": np.arange(100.0, 105.0)}
        status.object = "read 5 samples"

    button.on_click(read)
    pn.state.onload(lambda: setattr(status, "object", "loaded"))
    return pn.Column(status, button, silent, pn.pane.Bokeh(_plot(source)))


def _plot(source):
    from bokeh.plotting import figure

    plot = figure(height=100, width=100)
    plot.line("time", "time", source=source)
    return plot


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    server = pn.serve(
        {"/": _app},
        port=port,
        address="127.0.0.1",
        show=False,
        threaded=True,
        websocket_origin=[f"127.0.0.1:{port}"],
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the server thread binds its port a moment after it starts
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


def _run(coroutine):
    return asyncio.new_event_loop().run_until_complete(coroutine)


def test_a_tab_loads_clicks_and_reads_the_answer(app_url):
    async def visit():
        tab = Tab(app_url, {})
        loaded = await tab.open("", lambda: any("loaded" in t for t in tab.texts()), 20)
        button = tab.find("Button", label="Read")[0]
        source = tab.find("ColumnDataSource")[0]["id"]
        seconds = await tab.act(
            tab.event("button_click", button),
            lambda: any("read 5 samples" in t for t in tab.texts(fresh=True)) and source in tab.touched,
            20,
        )
        times = np.asarray(tab.data[source]["time"])
        await tab.close()
        return loaded, seconds, times

    loaded, seconds, times = _run(visit())
    assert 0 < loaded < 20 and 0 < seconds < 20
    assert times.tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]


def test_a_click_nobody_answers_is_an_error(app_url):
    async def visit():
        tab = Tab(app_url, {})
        await tab.open("", lambda: any("loaded" in t for t in tab.texts()), 20)
        try:
            await tab.act(
                tab.event("button_click", tab.find("Button", label="Nothing")[0]),
                lambda: any("read" in t for t in tab.texts(fresh=True)),
                1.0,
            )
        finally:
            await tab.close()

    with pytest.raises(TabError, match="no answer within 1 s"):
        _run(visit())


def _step(users: int, seconds: list[float], errors: int = 0, rss_open_mb: float = 0.0) -> Step:
    outcome = Outcome(
        clicks=[("nwb", "raster", s) for s in seconds], errors=[("nwb", "zoom", "no answer")] * errors
    )
    return Step(users, [outcome], 10.0, 100.0, rss_open_mb, 1.0, 0.1)


def test_the_largest_step_under_the_limit_counts_only_steps_without_errors():
    steps = [_step(5, [0.5] * 20), _step(10, [0.6] * 20, errors=1), _step(20, [3.0] * 20)]
    assert max_users_under(steps, 2.0) == 5
    assert max_users_under([_step(5, [2.5] * 20)], 2.0) == 0


def test_memory_per_session_is_the_slope_over_the_steps():
    steps = [
        _step(5, [0.1], rss_open_mb=150.0),
        _step(10, [0.1], rss_open_mb=200.0),
        _step(20, [0.1], rss_open_mb=300.0),
    ]
    assert per_session_mb(steps) == pytest.approx(10.0)
    assert per_session_mb([_step(10, [0.1], rss_open_mb=150.0)]) == pytest.approx(5.0)
