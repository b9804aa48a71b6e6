"""``BackgroundWork.poll`` against a real Panel server in this process: a timer that asks faster than its
reads
are answered still gets every answer shown (with ``run``, each answer was superseded before it was shown)."""

from __future__ import annotations

import asyncio
import itertools
import time

import panel as pn
import pytest

from components.background import BackgroundWork
from tests.support.panel_page import read_patches, serve_page

pytestmark = pytest.mark.timeout(60)


def _page(ask: str):
    def page() -> pn.viewable.Viewable:
        label = pn.pane.Markdown("nothing read yet")
        work = BackgroundWork()
        counter = itertools.count(1)

        def slow_read() -> int:  # a busy server: reading the runs takes longer than the timer's period
            time.sleep(0.3)
            return next(counter)

        def tick() -> None:
            getattr(work, ask)(
                "runs", slow_read, apply=lambda n: setattr(label, "object", f"read number {n}")
            )

        pn.state.onload(lambda: pn.state.add_periodic_callback(tick, period=100))
        return label

    return page


def _shown(ask: str) -> list[str]:
    with serve_page(_page(ask)) as url:
        frames = asyncio.run(
            read_patches(url, lambda frames: sum("read number" in f for f in frames) >= 3, timeout_s=4)
        )
    return [frame for frame in frames if "read number" in frame]


def test_a_timer_faster_than_its_reads_shows_every_read_it_waits_for():
    assert len(_shown("poll")) >= 3  # about one read every 0.3 s reaches the page


def test_with_run_the_same_timer_never_shows_a_read():
    assert _shown("run") == []  # why the page's timers poll: each answer was replaced before it was shown
