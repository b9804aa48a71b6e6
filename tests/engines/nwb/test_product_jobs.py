"""NWB products as jobs: real files through real workers, the queue CLI, Dask, and vanished sources."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import imageio_ffmpeg
import numpy as np
import pytest

from engines.io.errors import SourceNotAllowed
from engines.jobs import DaskBackend, JobEnvironment, JobStatus, JobStore, KindRegistry, ResultStore, Worker
from engines.jobs.service import JobService
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.product_jobs import (
    EPHYS_SUMMARY,
    PREVIEW_MOVIE,
    RASTERMAP,
    SPIKE_DENSITY,
    expand_sources,
    job_kinds,
    plan_product_jobs,
    product_inputs,
)
from engines.nwb.products import SpikeDensityPyramid
from engines.nwb.products.ephys_summary import EphysSummary
from engines.nwb.products.preview_movie import PreviewMovie
from engines.nwb.products.rastermap_order import RastermapOrder
from tests.conftest import DATA_DIR
from tests.support.dandi_server import DandiApiServer, FakeAsset, FakeDandiset

ROOT = Path(__file__).resolve().parents[3]
HUMAN = str(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb")


def nwb_job_kinds(policy) -> KindRegistry:
    return KindRegistry(job_kinds(JobEnvironment(source_policy=policy)))


def _run(policy, kind: str, source: str, path: str, max_attempts: int = 3):
    store, results = JobStore(policy.workspace), ResultStore(policy.workspace)
    kinds = nwb_job_kinds(policy)
    job = store.submit(kind, {"source": source, "path": path}, kinds.get(kind).code_version, max_attempts)
    Worker(store, results, kinds, lease_s=30).run_one()
    job = store.get(job.id)
    return job, results.path_for(job.kind, job.input_hash, job.code_version)


def test_spike_density_job_builds_a_pyramid_equal_to_a_histogram(policy):
    job, folder = _run(policy, SPIKE_DENSITY, HUMAN, "/units")
    assert job.status == JobStatus.DONE, job.error
    pyramid = SpikeDensityPyramid.open(folder)
    with h5py.File(HUMAN, "r") as f:
        times, ends = f["units/spike_times"][:], f["units/spike_times_index"][:]
    base = pyramid.levels[0]
    counts = pyramid.level_counts(0)
    first_unit = times[: ends[0]]
    np.testing.assert_array_equal(counts[0], np.histogram(first_unit, base.edges())[0])
    assert counts.sum() == len(times)


def test_rastermap_job_orders_every_unit(policy):
    job, folder = _run(policy, RASTERMAP, HUMAN, "/units")
    assert job.status == JobStatus.DONE, job.error
    order = RastermapOrder.open(folder).order
    assert sorted(order.tolist()) == list(range(35))


def test_preview_movie_job_writes_a_decodable_mp4(policy):
    job, folder = _run(
        policy, PREVIEW_MOVIE, str(DATA_DIR / "pynwb-types/test_TwoPhotonSeries.nwb"), "/acquisition/test_2ps"
    )
    assert job.status == JobStatus.DONE, job.error
    movie = PreviewMovie.open(folder)
    reader = imageio_ffmpeg.read_frames(movie.path)
    meta = next(reader)
    frames = list(reader)
    assert len(frames) == movie.n_frames
    assert tuple(meta["size"]) == (movie.width, movie.height)


def test_ephys_summary_job_on_electrical_series(policy):
    job, folder = _run(
        policy, EPHYS_SUMMARY, str(DATA_DIR / "pynwb-types/test_ElectricalSeries.nwb"), "/acquisition/test_eS"
    )
    assert job.status == JobStatus.DONE, job.error
    summary = EphysSummary.open(folder)
    assert summary.n_channels == 2 and summary.psd.shape[0] == 2


def test_job_whose_source_disappeared_fails_with_the_reason(policy, workspace):
    copy = workspace / "gone.nwb"
    shutil.copy(HUMAN, copy)
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = nwb_job_kinds(policy)
    job = store.submit(SPIKE_DENSITY, {"source": str(copy), "path": "/units"}, "1", max_attempts=1)
    copy.unlink()
    other = store.submit(SPIKE_DENSITY, {"source": HUMAN, "path": "/units"}, "1")
    worker = Worker(store, results, kinds)
    worker.run_one()
    worker.run_one()
    assert store.get(job.id).status == JobStatus.FAILED
    assert "No file at" in store.get(job.id).error
    assert store.get(other.id).status == JobStatus.DONE  # other jobs go on


def test_units_with_truncated_ragged_array_fail_clearly(policy, workspace):
    broken = workspace / "truncated_units.nwb"
    shutil.copy(DATA_DIR / "anm369963.nwb", broken)
    with h5py.File(broken, "a") as f:
        index = f["units/spike_times_index"]
        index[-1] = f["units/spike_times"].shape[0] + 1000
    job, _ = _run(policy, SPIKE_DENSITY, str(broken), "/units", max_attempts=1)
    assert job.status == JobStatus.FAILED
    assert "truncated" in job.error.lower()


def test_plan_names_every_product_a_file_needs(policy, index_store):
    human = plan_product_jobs(open_nwb(HUMAN, policy, index_store))
    assert {(k, i["path"]) for k, i in human} >= {(SPIKE_DENSITY, "/units"), (RASTERMAP, "/units")}
    lfp = plan_product_jobs(open_nwb(str(DATA_DIR / "pynwb-types/test_LFP.nwb"), policy, index_store))
    assert {k for k, _ in lfp} == {EPHYS_SUMMARY}
    waveforms = plan_product_jobs(
        open_nwb(str(DATA_DIR / "pynwb-types/test_EventWaveform.nwb"), policy, index_store)
    )
    assert all(
        i["path"] != "/acquisition/EventWaveform/test_sES" for _, i in waveforms
    )  # snippets, not signals


def test_queue_and_standalone_worker_commands(workspace):
    folder = workspace / "lab"
    folder.mkdir()
    shutil.copy(DATA_DIR / "anm369963.nwb", folder)
    shutil.copy(DATA_DIR / "pynwb-types/test_ElectricalSeries.nwb", folder)
    common = ["--workspace", str(workspace), "--root", str(workspace)]
    first = subprocess.run(
        [sys.executable, "run.py", "queue", "--source", str(folder), *common],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    assert "3 job(s) queued" in first.stdout
    worker = subprocess.Popen(
        [sys.executable, "run.py", "worker", *common, "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        store = JobStore(workspace)
        deadline = time.time() + 120
        while time.time() < deadline and store.counts().get(JobStatus.DONE, 0) < 3:
            time.sleep(0.5)
        assert store.counts().get(JobStatus.DONE, 0) == 3
    finally:
        worker.terminate()
        worker.wait(30)
    again = subprocess.run(
        [sys.executable, "run.py", "queue", "--source", str(folder), *common],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "0 job(s) queued, 3 already done" in again.stdout


def test_dask_backend_runs_nwb_jobs_on_a_local_cluster(policy):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    store, results = JobStore(policy.workspace), ResultStore(policy.workspace)
    kinds = nwb_job_kinds(policy)
    backend = DaskBackend(store, results, kinds, cluster.scheduler_address, lease_s=30, poll_s=0.2)
    backend.start()
    try:
        jobs = JobService(store, results, backend, kinds)
        nwb = open_nwb(HUMAN, policy, IndexStore(policy.workspace))
        state = jobs.request(SPIKE_DENSITY, product_inputs(nwb, "/units"))
        deadline = time.time() + 90
        while time.time() < deadline and not (state := jobs.state(state.job.id)).job.is_finished:
            time.sleep(0.3)
        assert state.done, state.describe()
        assert SpikeDensityPyramid.open(state.result_dir).summary.n_spikes == 214_278
    finally:
        backend.stop()
        cluster.close()


def test_rastermap_reuses_the_published_density_pyramid(policy):
    density, pyramid_dir = _run(policy, SPIKE_DENSITY, HUMAN, "/units")
    job, folder = _run(policy, RASTERMAP, HUMAN, "/units")
    assert (density.status, job.status) == (JobStatus.DONE, JobStatus.DONE), job.error
    assert not (folder / "spike_density.zarr").exists()  # ordered over the density job's pyramid
    assert (pyramid_dir / "spike_density.zarr").is_dir()
    assert sorted(RastermapOrder.open(folder).order.tolist()) == list(range(35))


def test_queue_lists_a_dandisets_nwb_files_page_by_page_under_the_source_policy(policy):
    assets = [FakeAsset(f"sub-{i:03d}/sub-{i:03d}_ecephys.nwb", 1000, f"id-{i}") for i in range(250)]
    assets.append(FakeAsset("sub-000/sub-000_eeg.edf", 1000, "id-edf"))
    with DandiApiServer([FakeDandiset("000123", "Many sessions", assets=assets)]) as server:
        found = expand_sources("000123", dataclasses.replace(policy, dandi_api_url=server.api_url))
        assert sorted(found) == sorted(f"dandi://000123/{a.path}" for a in assets if a.path.endswith(".nwb"))
        assert len(server.requests) == 2  # 250 assets: two pages of at most 200
        strict = dataclasses.replace(policy, dandi_api_url=server.api_url, allow_private_urls=False)
        with pytest.raises(SourceNotAllowed, match="private address"):
            expand_sources("000123", strict)
        assert len(server.requests) == 2
