"""Served sessions change their widgets only on the session's thread: the runtime check beside the scan.

Each page is served in this process and opened as a browser does; its background paths then run
(``onload``, the periodic reads, ``BackgroundWork`` results) while ``foreign_widget_changes`` records
every widget, pane or layout change made on any other thread than the session's, unless
``run_on_session_thread`` ran it.
"""

from __future__ import annotations

import asyncio
import threading
import time

import panel as pn
import pytest
import requests

import app.pages  # noqa: F401  (registers every page)
from app.registry import PAGES
from components.background import BackgroundWork
from tests.support.panel_page import read_patches, serve_page
from tests.support.widget_threads import foreign_widget_changes

pytestmark = pytest.mark.timeout(120)


def _served_changes(page, seconds: float = 1.5) -> list[str]:
    """Serve ``page``, open it, let its background paths run for ``seconds``; the off-thread changes."""
    with foreign_widget_changes() as foreign, serve_page(page) as url:
        requests.get(url, timeout=120)  # a first visit pays the imports
        asyncio.run(read_patches(url, lambda _frames: False, timeout_s=seconds))
        time.sleep(0.3)  # results still on their way to the session
    return foreign


def _label_set_by(work_changes_label: bool):
    """A page whose background read shows its result: from the pool thread, or through ``apply``."""
    done = threading.Event()

    def page() -> pn.viewable.Viewable:
        label, work = pn.pane.Markdown("before"), BackgroundWork(name="deliberate")

        def read() -> str:
            if work_changes_label:
                label.object = "set from the pool"  # the bug the check is for
            done.set()
            return "read"

        pn.state.onload(lambda: work.run("read", read, apply=lambda text: setattr(label, "object", text)))
        return label

    return page, done


def test_a_widget_change_from_a_pool_thread_is_caught():
    page, done = _label_set_by(work_changes_label=True)
    foreign = _served_changes(page)
    assert done.is_set()
    assert any(change.startswith("Markdown.object from reads-deliberate") for change in foreign), foreign


def test_a_result_applied_through_the_helper_passes():
    page, done = _label_set_by(work_changes_label=False)
    assert _served_changes(page) == [] and done.is_set()


@pytest.fixture
def context(tmp_path):
    from app.context import AppContext
    from app.settings import Settings

    ctx = AppContext.create(Settings(workspace=tmp_path / "workspace", show=False, workers=1))
    yield ctx
    ctx.close()


@pytest.mark.parametrize("name", PAGES.names())
def test_every_page_changes_its_widgets_on_the_session_thread(name, context):
    """Each page as a first visit builds it; the training page with a run open, so its follower reads."""
    from tests.components.training.test_training_components import write_finished_run

    spec = PAGES.get(name)
    link = spec.link() if spec.link is not None else None
    if name == "training":
        link.run = write_finished_run(context.settings.workspace)
    assert _served_changes(lambda: spec.factory(context, link), seconds=2.5) == []
