"""The storage view on a badly chunked remote file: facts, the warning, the grid, and the rechunk button."""

from __future__ import annotations

import os

import panel as pn
import pytest

from components.nwb.controller import NwbFileController
from components.nwb.views import view_by_id, views_for
from components.nwb.views.storage import StorageView
from engines.jobs import (
    InProcessBackend,
    JobEnvironment,
    JobStatus,
    JobStore,
    KindRegistry,
    ResultStore,
    Worker,
)
from engines.jobs.service import JobService
from engines.nwb.copies import RECHUNK
from engines.nwb.nwbfile import open_nwb
from engines.nwb.rechunk import job_kinds
from tests.support.nwb_files.bad_chunks import BAD_CHUNKS_PATH, write_bad_chunks_nwb
from tests.support.range_server import RangeServer


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory):
    return write_bad_chunks_nwb(tmp_path_factory.mktemp("bad") / "bad_chunks.nwb", rows=1000)


@pytest.fixture
def nwb(bad_file, workspace, policy, index_store):
    os.link(bad_file, workspace / "bad_chunks.nwb")
    with RangeServer(workspace) as server:
        yield open_nwb(server.url_for("bad_chunks.nwb"), policy, index_store)


def _texts(view: StorageView) -> str:
    return "\n".join(str(pane.object) for pane in (view._facts, view._cost, view._warning) if pane.visible)


def test_the_storage_view_shows_chunks_warning_and_grid(nwb):
    assert view_by_id("storage") is StorageView
    assert StorageView in views_for(nwb.index, BAD_CHUNKS_PATH)
    assert StorageView in views_for(nwb.index, BAD_CHUNKS_PATH + "/data")
    controller = NwbFileController(object_path=BAD_CHUNKS_PATH, time_window=(0.0, 0.01))
    view = StorageView(nwb, BAD_CHUNKS_PATH, controller=controller)
    pn.panel(view.__panel__()).get_root()
    text = _texts(view)
    assert "Chunk shape: **298,022 × 1**" in text
    assert "Compression and filters: none" in text
    assert "touches 96 chunks of 596 KB: 57 MB for 1.9 KB of data" in text
    assert "rows 0–300, 96 columns" in text, "the visible window: 10 ms at 30 kHz"
    (grid,) = view._grid
    assert [type(part).__name__ for part in grid.object] == ["Segments", "Rectangles", "Rectangles"]
    assert len(grid.object.Rectangles.I) == 96, "every touched chunk shaded"
    assert not view._button.visible, "no job system here: no button"
    controller.time_window = (0.02, 0.03)
    assert "rows 600–900" in _texts(view), "the view follows the shared window"


def test_the_button_starts_the_job_and_then_reads_use_the_copy(nwb, policy):
    store, results = JobStore(policy.workspace), ResultStore(policy.workspace)
    kinds = KindRegistry(job_kinds(JobEnvironment(source_policy=policy)))
    jobs = JobService(store, results, InProcessBackend(store, results, kinds, n_workers=0), kinds)
    view = StorageView(nwb, BAD_CHUNKS_PATH, jobs=jobs)
    pn.panel(view.__panel__()).get_root()
    assert view._button.visible
    view._button.clicks += 1
    assert not view._button.visible and len(view._job) == 1
    Worker(store, results, kinds, lease_s=30).run_one()
    job = store.get(view.watcher.state.job.id)
    assert (job.kind, job.status) == (RECHUNK, JobStatus.DONE), job.error
    again = StorageView(nwb, BAD_CHUNKS_PATH, jobs=jobs)
    text = _texts(again)
    assert "Reads use the rechunked copy" in text and "from the rechunked copy on disk in 0 requests" in text
    assert not again._warning.visible and not again._button.visible
