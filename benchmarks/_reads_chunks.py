"""Badly chunked data (Neurosift issue #52): 10 rows × 96 channels of a series chunked one channel per chunk.

The file is a ``(21 × 298022, 96)`` int16 TimeSeries chunked ``(298022, 1)`` (21 chunks per
channel, 1.2 GB, generated once under ``bench_data/reads/``). Each run reads rows in the
middle of it, remote over the Range server, from an empty workspace:

* ``bad_chunks_first_s``: ours, ``open_nwb`` and ``read_trace_window`` (the rows' bytes in each
  of the 96 chunks, fetched concurrently);
* ``bad_chunks_h5py_s``: h5py over remfile, opening the file and reading the same rows (HDF5
  reads each of the 96 chunks whole, one after another); ``bad_chunks_ratio`` = theirs / ours;
* ``bad_chunks_cached_s``: ours again after the ``rechunk`` job wrote its copy into the
  workspace (an open that validates the file, then the rows from the copy on disk);
  ``bad_chunks_rechunk_s`` is what the job took, once;
* ``bad_chunks_read_s`` / ``bad_chunks_h5py_read_s`` / ``bad_chunks_read_ratio``: the read alone,
  after each side opened the file (what a view pays for every short read of such data);
* ``bad_chunks_round_trips``: requests and bytes of each phase on each side, as the server logs them
  (one more, untimed run each), and ``bad_chunks_latency_bound_ratio``: the ratio ours could reach if
  it cost nothing but its dependent round trips (``_OUR_WAVES`` × the server's latency).

Ours cannot need fewer than ``_OUR_WAVES`` round trips one after another: the probe (superblock,
headers, and in this file the chunk index's root, which HDF5 put beside the data set's header), the
index's leaves (their addresses are in the root), then the rows' bytes (their chunks' addresses are in
the leaves). At 20 ms each that is 60 ms before any CPU, while h5py over remfile needs about 0.5 s (its
read fetches 57 MB of whole chunks in 13 requests): at most about 8×, so the issue's 10× is out of
reach under these conditions; the figures printed show it.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from engines.io.policy import SourcePolicy
from engines.jobs import JobEnvironment, JobStatus, JobStore, KindRegistry, ResultStore, Worker
from engines.nwb.copies import RECHUNK, RECHUNK_VERSION, copy_inputs
from engines.nwb.extract import read_trace_window
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.rechunk import job_kinds
from tests.support.nwb_files.bad_chunks import BAD_CHUNKS, BAD_CHUNKS_PATH, RATE, write_bad_chunks_nwb
from tests.support.range_server import RangeServerProcess

_OUR_WAVES = 3
"""Dependent round trips of our open and read: the probe (with the index root), the index leaves, the rows'
bytes."""

ROWS = 21 * BAD_CHUNKS[0]
FIRST_ROW = 10 * BAD_CHUNKS[0] + 1234
"""The rows read: 10 rows in the middle of the series, inside one chunk row."""


def _policy(workspace: Path) -> SourcePolicy:
    return SourcePolicy(workspace=workspace, allowed_roots=(workspace,), allow_private_urls=True)


def _ours(url: str, workspace: Path) -> tuple[float, float]:
    """(open and read, read alone) in seconds; the workspace's index store exists first, as in a server."""
    store = IndexStore(workspace)
    started = time.perf_counter()
    nwb = open_nwb(url, _policy(workspace), store)
    opened = time.perf_counter()
    window = read_trace_window(
        nwb, BAD_CHUNKS_PATH, FIRST_ROW / RATE, (FIRST_ROW + 10) / RATE, max_channels=96
    )
    done = time.perf_counter()
    assert window.values.shape == (10, 96), window.values.shape
    nwb.close()
    return done - started, done - opened


def _theirs(url: str) -> tuple[float, float]:
    """(open and read, read alone) in seconds."""
    import h5py
    import remfile

    started = time.perf_counter()
    with h5py.File(remfile.File(url), "r") as h5:
        dset = h5[f"{BAD_CHUNKS_PATH}/data"]
        opened = time.perf_counter()
        rows = dset[FIRST_ROW : FIRST_ROW + 10, :]
        done = time.perf_counter()
    assert rows.shape == (10, 96)
    return done - started, done - opened


def _round_trips(server: RangeServerProcess, url: str) -> dict[str, list[int]]:
    """Requests and bytes per phase, both sides, from the server's log (an untimed run each)."""
    import h5py
    import remfile

    log, found = server.log, {}

    def phase(name: str) -> None:
        entries = log.entries
        found[name] = [len(entries), sum(entry[2] for entry in entries)]
        log.clear()

    workspace = Path(tempfile.mkdtemp(prefix="bench-chunks-trips-"))
    try:
        log.clear()
        nwb = open_nwb(url, _policy(workspace), IndexStore(workspace))
        phase("ours_open")
        read_trace_window(nwb, BAD_CHUNKS_PATH, FIRST_ROW / RATE, (FIRST_ROW + 10) / RATE, max_channels=96)
        phase("ours_read")
        nwb.close()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    with h5py.File(remfile.File(url), "r") as h5:
        dset = h5[f"{BAD_CHUNKS_PATH}/data"]
        phase("h5py_open")
        dset[FIRST_ROW : FIRST_ROW + 10, :]
        phase("h5py_read")
    return found


def _rechunk(url: str, workspace: Path) -> float:
    policy = _policy(workspace)
    nwb = open_nwb(url, policy, IndexStore(workspace))
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = KindRegistry(job_kinds(JobEnvironment(source_policy=policy)))
    started = time.perf_counter()
    job = store.submit(RECHUNK, copy_inputs(nwb, BAD_CHUNKS_PATH + "/data"), RECHUNK_VERSION, 1)
    Worker(store, results, kinds, lease_s=120).run_one()
    seconds = time.perf_counter() - started
    job = store.get(job.id)
    assert job.status == JobStatus.DONE, job.error
    nwb.close()
    return seconds


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    path = data / "bad_chunks.nwb"
    if not path.exists():
        write_bad_chunks_nwb(path, rows=ROWS)
    url = server.url_for(path.resolve().relative_to(server.root))
    ours, theirs = [], []
    for _ in range(runs):
        workspace = Path(tempfile.mkdtemp(prefix="bench-chunks-"))
        try:
            ours.append(_ours(url, workspace))
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
        theirs.append(_theirs(url))
    trips = _round_trips(server, url)
    workspace = Path(tempfile.mkdtemp(prefix="bench-chunks-copy-"))
    try:
        rechunk_s = _rechunk(url, workspace)
        cached = [_ours(url, workspace)[0] for _ in range(runs)]
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    first, baseline = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in theirs)
    read, their_read = statistics.median(r for _, r in ours), statistics.median(r for _, r in theirs)
    after = statistics.median(cached)
    print(
        f"  10 rows × 96 channels, chunks {BAD_CHUNKS}: ours {first:.3f} s (read {read:.3f} s), "
        f"h5py+remfile {baseline:.3f} s (read {their_read:.3f} s): {baseline / first:.1f}×; "
        f"after the rechunk job ({rechunk_s:.1f} s) {after:.3f} s"
    )
    bound = baseline / (_OUR_WAVES * server.latency_s) if server.latency_s else float("inf")
    print(
        "  requests, bytes per phase: "
        + ", ".join(f"{name} {count} ({size / 1e6:.2f} MB)" for name, (count, size) in trips.items())
        + f"; ours needs {_OUR_WAVES} dependent round trips: at best {bound:.1f}× with no CPU at all"
    )
    return {
        "bad_chunks_first_s": round(first, 3),
        "bad_chunks_h5py_s": round(baseline, 3),
        "bad_chunks_ratio": round(baseline / first, 1),
        "bad_chunks_read_s": round(read, 3),
        "bad_chunks_h5py_read_s": round(their_read, 3),
        "bad_chunks_read_ratio": round(their_read / read, 1),
        "bad_chunks_cached_s": round(after, 3),
        "bad_chunks_rechunk_s": round(rechunk_s, 1),
        "bad_chunks_round_trips": trips,
        "bad_chunks_latency_bound_ratio": round(bound, 1),
    }
