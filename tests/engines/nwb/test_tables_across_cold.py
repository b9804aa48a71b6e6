"""Tables across files from an empty workspace: each remote file (through the Range server) is walked only
as far as the table's branch, that scoped index is kept for the next read, a second table of the same open
files walks its own branch without a new probe, and a whole open later still builds the whole index."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pynwb
import pytest

from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.tables_across import OpenFiles, collect, scan_table
from tests.support.frames import polars_from_pandas
from tests.support.nwb_files.session_tables import write_session_tables_nwb
from tests.support.range_server import RangeServer

SESSIONS = 3
PROBE = "bytes=0-"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cold_sessions")
    for seed in range(SESSIONS):
        write_session_tables_nwb(folder / f"session{seed}.nwb", seed=seed, units=50, trials=30)
    return folder


@pytest.fixture
def server(sessions: Path):
    with RangeServer(sessions) as running:
        yield running


def _files(workspace: Path) -> tuple[OpenFiles, IndexStore, SourcePolicy]:
    policy = SourcePolicy(workspace=workspace, allow_private_urls=True)
    store = IndexStore(workspace)
    return OpenFiles(lambda source: open_nwb(source, policy, store)), store, policy


def _trials(path: Path) -> pl.DataFrame:
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        frame = io.read().trials.to_dataframe().reset_index()
    return polars_from_pandas(frame)


def _urls(server: RangeServer) -> list[str]:
    return [server.url_for(f"session{seed}.nwb") for seed in range(SESSIONS)]


def test_a_cold_scan_walks_only_the_tables_branch(server, sessions, workspace):
    files, store, _ = _files(workspace)
    scan = scan_table("/intervals/trials", _urls(server), files)
    frame = collect(scan.lazy())
    assert scan.errors == []
    for seed, url in enumerate(_urls(server)):
        ours = frame.filter(pl.col("_nwb_path") == url).drop("_nwb_path", "_table_row")
        theirs = _trials(sessions / f"session{seed}.nwb")
        assert ours.select(theirs.columns).equals(theirs.select(ours.columns)), url
        index = files(url).index
        # the table's branch and its ancestors, nothing of the units, the electrodes or the specifications
        assert "/intervals/trials/start_time" in index
        assert not any(p.startswith(("/units", "/general/", "/specifications/")) for p in index.objects)
        assert index.covers("/intervals/trials") and not index.covers("/units")
        assert store.get(files(url).version_key) is None  # no whole index stored as if it were one


def test_the_next_read_of_the_table_costs_one_probe_per_file(server, workspace):
    urls = _urls(server)
    files, _, _ = _files(workspace)
    first = collect(scan_table("/intervals/trials", urls, files).lazy())
    files.close()
    again, _, _ = _files(workspace)  # a new session on the same workspace
    server.log.clear()
    scan = scan_table("/intervals/trials", urls, again)
    opening = [entry[1] for entry in server.log.entries]
    assert len(opening) == SESSIONS and all(r.startswith(PROBE) for r in opening)
    assert collect(scan.lazy()).equals(first)


def test_a_second_table_of_the_same_files_walks_its_branch_without_a_new_probe(server, sessions, workspace):
    urls = _urls(server)
    files, _, _ = _files(workspace)
    collect(scan_table("/intervals/trials", urls, files).lazy())
    server.log.clear()
    scan = scan_table("/units", urls, files)
    units = collect(scan.lazy().select("_nwb_path", "id", "spike_times_count"))
    assert not any(entry[1].startswith(PROBE) for entry in server.log.entries)
    with pynwb.NWBHDF5IO(str(sessions / "session2.nwb"), "r") as io:
        expected = [len(times) for times in io.read().units["spike_times"][:]]
    assert units.filter(pl.col("_nwb_path") == urls[2])["spike_times_count"].to_list() == expected
    index = files(urls[2]).index
    assert index.covers("/units") and index.covers("/intervals/trials") and not index.covers("/general")


def test_a_whole_open_after_a_scoped_one_builds_the_whole_index(server, workspace):
    files, store, policy = _files(workspace)
    collect(scan_table("/intervals/trials", _urls(server), files).lazy())
    whole = open_nwb(_urls(server)[0], policy, store)
    assert whole.index.covers("/") and "/units/spike_times" in whole.index
    assert (
        "/specifications" in whole.index
        and whole.index.get("/").children == files(_urls(server)[0]).index.get("/").children
    )


def test_files_opened_at_once_do_not_wait_for_each_others_round_trips(sessions, workspace):
    """Opening a remote file fetches its root group; done inside h5py's open it would hold h5py's global
    lock for a round trip, and eight files would take eight round trips more than one file does."""
    latency = 0.3
    with RangeServer(sessions, latency_s=latency) as slow:
        urls = [slow.url_for(f"session{seed % SESSIONS}.nwb?copy={seed}") for seed in range(8)]

        def timed(sources: list[str], folder: str) -> float:
            files, _, _ = _files(workspace / folder)
            started = time.perf_counter()
            scan = scan_table("/intervals/trials", sources, files)
            assert scan.errors == []
            return time.perf_counter() - started

        one = timed(urls[:1], "one")
        eight = timed(urls, "eight")
    assert eight < one + 3 * latency, (one, eight)


def test_one_sessions_units_and_trials_cost_the_probe_and_the_files_end(server, sessions, workspace):
    """From an empty workspace: the probe (the file's start) and, with the root group, the file's end,
    where h5py left the metadata and these small tables' columns; nothing fetched twice."""
    url = _urls(server)[1]
    files, _, _ = _files(workspace)
    server.log.clear()
    units = collect(scan_table("/units", [url], files).lazy().select("id", "quality", "spike_times_count"))
    trials = collect(scan_table("/intervals/trials", [url], files).lazy())
    ranges = [entry[1] for entry in server.log.entries]
    assert len(ranges) == 2 and ranges[0].startswith(PROBE), ranges
    assert trials.drop("_nwb_path", "_table_row").equals(_trials(sessions / "session1.nwb"))
    with pynwb.NWBHDF5IO(str(sessions / "session1.nwb"), "r") as io:
        assert units["quality"].to_list() == list(io.read().units["quality"][:])
