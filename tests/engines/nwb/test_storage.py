"""The storage view's engine: chunk facts as h5py tells them, window costs as the Range server counts them,
the warning on badly chunked data, and the rechunk job whose copy every later read uses."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from engines._progress import Cancelled
from engines.io.range_file import reader_of
from engines.jobs import JobEnvironment, JobKind, JobStatus, JobStore, KindRegistry, ResultStore, Worker
from engines.jobs.catalog import all_job_kinds
from engines.jobs.model import hash_inputs
from engines.nwb.copies import RECHUNK, RECHUNK_VERSION, copy_inputs, rechunked_copy
from engines.nwb.extract import read_trace_window
from engines.nwb.extract._chunk_index import chunk_locations
from engines.nwb.nwbfile import open_nwb
from engines.nwb.rechunk import job_kinds, run_rechunk, write_rechunked_copy
from engines.nwb.storage import storage_facts, verdict, window_cost
from tests.engines.nwb.test_extract_timeseries import write_nwb
from tests.support.nwb_files.bad_chunks import (
    BAD_CHUNKS,
    BAD_CHUNKS_PATH,
    RATE,
    bad_chunks_values,
    write_bad_chunks_nwb,
)
from tests.support.range_server import RangeServer

ROWS = 1000
DATA = f"{BAD_CHUNKS_PATH}/data"


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory):
    return write_bad_chunks_nwb(tmp_path_factory.mktemp("bad") / "bad_chunks.nwb", rows=ROWS)


@pytest.fixture
def served(bad_file, workspace):
    """The bad file and a well-chunked, gzip-compressed file, over the Range server."""
    os.link(bad_file, workspace / "bad_chunks.nwb")  # the server serves no links out of its folder
    raw = bad_chunks_values(0, 20_000)
    write_nwb(workspace / "good.nwb", {"/acquisition/s": {"data": raw, "rate": RATE}})
    with h5py.File(workspace / "good.nwb", "a") as h5:
        del h5["/acquisition/s/data"]
        h5.create_dataset(
            "/acquisition/s/data",
            data=raw,
            chunks=(4000, 96),
            compression="gzip",
            compression_opts=5,
            shuffle=True,
        ).attrs["unit"] = "V"
        h5.create_dataset("/acquisition/s/flat", data=raw[:100])
        h5.create_dataset("/acquisition/s/small", data=raw, chunks=(100, 8))  # 2,400 chunks: a deeper tree
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((8,))
        h5py.h5d.create(h5.id, b"/acquisition/s/tiny", h5py.h5t.STD_I64LE, space, dcpl=dcpl)
        h5["/acquisition/s/tiny"][:] = np.arange(8)
    with RangeServer(workspace, latency_s=0.01) as server:
        yield server, raw


@pytest.mark.parametrize(
    ("path", "layout"),
    [
        ("/acquisition/s/data", "chunked"),
        ("/acquisition/s/flat", "contiguous"),
        ("/acquisition/s/tiny", "compact"),
    ],
)
def test_chunk_facts_are_h5pys(path, layout, served, policy, index_store):
    server, _ = served
    nwb = open_nwb(server.url_for("good.nwb"), policy, index_store)
    facts = storage_facts(nwb, path)
    with h5py.File(policy.workspace / "good.nwb", "r") as h5:
        dset = h5[path]
        assert facts.chunks == dset.chunks
        assert facts.shape == dset.shape
        assert ("gzip (level 5)" in facts.filters) == (dset.compression == "gzip")
        assert ("shuffle" in facts.filters) == dset.shuffle
    assert facts.layout == layout
    assert facts.remote


def test_a_group_shows_its_data_and_the_bad_files_facts(served, policy, index_store):
    server, _ = served
    nwb = open_nwb(server.url_for("bad_chunks.nwb"), policy, index_store)
    facts = storage_facts(nwb, BAD_CHUNKS_PATH)
    assert (facts.path, facts.chunks, facts.filters, facts.layout) == (DATA, BAD_CHUNKS, [], "chunked")
    assert facts.n_chunks == 96 and facts.chunk_bytes == BAD_CHUNKS[0] * 2


@pytest.mark.parametrize(
    ("name", "path", "lo", "hi"),
    [
        ("bad_chunks.nwb", DATA, (0, 0), (0, 95)),
        ("good.nwb", "/acquisition/s/data", (0, 0), (16_000, 0)),
        ("good.nwb", "/acquisition/s/small", (0, 0), (19_900, 88)),
        ("good.nwb", "/acquisition/s/small", (5_000, 16), (5_300, 24)),
    ],
)
def test_chunks_located_from_the_index_are_where_hdf5_says(name, path, lo, hi, served, policy, index_store):
    server, _ = served
    nwb = open_nwb(server.url_for(name), policy, index_store)
    located = chunk_locations(reader_of(nwb.h5), nwb.dataset(path), lo, hi)
    with h5py.File(policy.workspace / name, "r") as h5:
        dset = h5[path]
        where = {
            info.chunk_offset: (info.byte_offset, info.size)
            for info in map(dset.id.get_chunk_info, range(dset.id.get_num_chunks()))
        }
    wanted = {offsets: found for offsets, found in where.items() if lo <= offsets <= hi}
    assert located is not None and wanted
    assert {offsets: located[offsets] for offsets in wanted} == wanted


def _read_window(nwb, path, lo, hi):
    return read_trace_window(nwb, path, lo / RATE, hi / RATE, max_channels=96, max_points=10**6)


@pytest.mark.parametrize(
    ("name", "path", "lo", "hi", "end"),
    [
        ("bad_chunks.nwb", BAD_CHUNKS_PATH, 10, 20, ROWS),
        ("good.nwb", "/acquisition/s", 3990, 8100, 20_000),
    ],
)
def test_window_cost_is_what_the_range_server_counts(name, path, lo, hi, end, served, policy, index_store):
    server, _ = served
    nwb = open_nwb(server.url_for(name), policy, index_store)
    _read_window(nwb, path, end - 10, end)  # the chunk index is then cached, as for the view's estimate
    cost = window_cost(nwb, path, lo, hi)
    server.log.clear()
    window = _read_window(nwb, path, lo, hi)
    assert window.values.shape == (hi - lo, 96)
    assert (cost.requests, cost.fetch_bytes) == (server.log.count, server.log.bytes)


def test_the_bad_file_gets_the_warning_with_numbers_and_reads_only_the_rows(served, policy, index_store):
    server, raw = served
    nwb = open_nwb(server.url_for("bad_chunks.nwb"), policy, index_store)
    cost = window_cost(nwb, BAD_CHUNKS_PATH, 10, 20)
    text = verdict(storage_facts(nwb, BAD_CHUNKS_PATH), cost)
    assert text is not None
    assert "10 rows × 96 channels touches 96 chunks of 596 KB: 57 MB for 1.9 KB" in text
    assert "a rechunked copy would read 1 chunk" in text
    server.log.clear()
    window = _read_window(nwb, BAD_CHUNKS_PATH, 10, 20)
    np.testing.assert_array_equal(window.values, bad_chunks_values(10, 20) * 1e-6)
    assert server.log.bytes == 10 * 96 * 2, "the rows' bytes in each chunk, not 57 MB of whole chunks"
    good = open_nwb(server.url_for("good.nwb"), policy, index_store)
    assert verdict(storage_facts(good, "/acquisition/s"), window_cost(good, "/acquisition/s", 10, 20)) is None


def _run_job(policy, inputs, kinds=None):
    store, results = JobStore(policy.workspace), ResultStore(policy.workspace)
    kinds = kinds or KindRegistry(job_kinds(JobEnvironment(source_policy=policy)))
    job = store.submit(RECHUNK, inputs, RECHUNK_VERSION, max_attempts=1)
    Worker(store, results, kinds, lease_s=30).run_one()
    job = store.get(job.id)
    return job, results.path_for(RECHUNK, job.input_hash, RECHUNK_VERSION)


def test_reads_after_the_rechunk_job_use_the_copy_and_equal_the_data(served, policy, index_store):
    server, _ = served
    nwb = open_nwb(server.url_for("bad_chunks.nwb"), policy, index_store)
    job, folder = _run_job(policy, copy_inputs(nwb, BAD_CHUNKS_PATH + "/data"))
    assert job.status == JobStatus.DONE, job.error
    assert folder is not None and ResultStore(policy.workspace).manifest(folder)["summary"]["chunks"] == [
        ROWS,
        96,
    ]
    server.log.clear()
    window = _read_window(nwb, BAD_CHUNKS_PATH, 10, 20)
    whole = _read_window(nwb, BAD_CHUNKS_PATH, 0, ROWS)
    assert server.log.count == 0, "read from the copy in the workspace, not the remote file"
    np.testing.assert_array_equal(window.values, bad_chunks_values(10, 20) * 1e-6)
    np.testing.assert_array_equal(whole.values, bad_chunks_values(0, ROWS) * 1e-6)
    cost = window_cost(nwb, BAD_CHUNKS_PATH, 10, 20)
    assert cost.from_copy and cost.requests == 0 and cost.chunks == 1
    assert verdict(storage_facts(nwb, BAD_CHUNKS_PATH), cost) is None
    assert storage_facts(nwb, BAD_CHUNKS_PATH).copy_chunks == (ROWS, 96)


def test_a_cancelled_or_failed_job_leaves_no_copy_that_reads_use(served, policy, index_store):
    server, _ = served
    nwb = open_nwb(server.url_for("bad_chunks.nwb"), policy, index_store)
    inputs = copy_inputs(nwb, DATA)
    store = JobStore(policy.workspace)

    def cancelled_midway(inputs, ctx):
        store.cancel(ctx.job.id)  # the person pressed Cancel while the first block was copied
        ctx.mark_cancelled()
        return run_rechunk(inputs, ctx, policy=policy)

    kinds = KindRegistry([JobKind(RECHUNK, cancelled_midway, RECHUNK_VERSION, inputs=("source", "path"))])
    job, folder = _run_job(policy, inputs, kinds)
    assert job.status == JobStatus.CANCELLED and folder is None
    changed, folder = _run_job(policy, {**inputs, "version": "another-version"})
    assert changed.status == JobStatus.FAILED and "changed" in changed.error and folder is None
    assert rechunked_copy(nwb, DATA) is None
    assert not list((policy.workspace / "results" / RECHUNK).glob("*/data.zarr"))
    server.log.clear()
    _read_window(nwb, BAD_CHUNKS_PATH, 10, 20)
    assert server.log.count > 0, "still read from the file"


def test_the_copy_is_written_block_by_block_with_progress(served, policy, index_store, tmp_path):
    server, raw = served
    nwb = open_nwb(server.url_for("good.nwb"), policy, index_store)
    seen = []

    def progress(fraction, message):
        seen.append(fraction)
        if len(seen) == 2:
            raise Cancelled("stop")

    import engines.nwb.rechunk as rechunk

    with pytest.raises(Cancelled):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(rechunk, "_BLOCK_BYTES", 1 << 20)  # 20,000 rows of 192 bytes: 4 blocks
            write_rechunked_copy(nwb, "/acquisition/s/data", tmp_path / "c.zarr", progress)
    assert seen == pytest.approx([5461 / 20_000, 2 * 5461 / 20_000])
    summary = write_rechunked_copy(nwb, "/acquisition/s/data", tmp_path / "d.zarr", lambda f, m: None)
    import zarr

    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "d.zarr"), mode="r")[:], raw)
    assert summary["chunks"] == [5461, 96]


def test_the_compute_page_lists_the_rechunk_kind(policy):
    assert RECHUNK in all_job_kinds(JobEnvironment(source_policy=policy)).names()
    assert hash_inputs({"source": "a", "path": "/b", "version": "c"})  # the inputs are plain JSON
