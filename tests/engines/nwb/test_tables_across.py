"""Tables across files: the frame is pynwb's tables of each file, concatenated; remote files are read
through the Range server (only what a query needs); a broken file is listed, not fatal; cancel stops."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pynwb
import pytest

from engines._progress import Cancelled
from engines.io.errors import SourceNotAllowed
from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.tables_across import collect, list_sources, query_sql, scan_table
from engines.tables.errors import SqlRefused
from tests.conftest import DATA_DIR
from tests.support.dandi_server import DandiApiServer, FakeAsset, FakeDandiset
from tests.support.frames import polars_from_pandas
from tests.support.nwb_files.session_tables import write_session_tables_nwb
from tests.support.range_server import RangeServer

SESSIONS = 3


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> Path:
    """Three generated sessions and one file that is no NWB file, in one folder."""
    folder = tmp_path_factory.mktemp("sessions")
    for seed in range(SESSIONS):
        write_session_tables_nwb(folder / f"session{seed}.nwb", seed=seed, units=60, trials=40)
    (folder / "broken.nwb").write_bytes(b"this is not an HDF5 file" * 100)
    return folder


@pytest.fixture
def local_policy(workspace: Path, sessions: Path) -> SourcePolicy:
    return SourcePolicy(workspace=workspace, allowed_roots=(sessions, DATA_DIR), allow_private_urls=True)


def _opener(policy: SourcePolicy):
    store = IndexStore(policy.workspace)
    return lambda source: open_nwb(source, policy, store)


def _pynwb_frame(path: Path, table: str) -> pl.DataFrame:
    """What pynwb's ``to_dataframe`` gives for the table, as Polars (regions as row numbers)."""
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        frame = (nwb.units if table == "/units" else nwb.trials).to_dataframe(index=True).reset_index()
    return polars_from_pandas(
        frame.assign(
            **{c: frame[c].map(list) for c in frame.columns if isinstance(frame[c].iloc[0], np.ndarray)}
        )
    )


@pytest.mark.parametrize("table", ["/units", "/intervals/trials"])
def test_frame_is_each_files_pynwb_table_concatenated(sessions, local_policy, table):
    sources = list_sources(str(sessions), local_policy)
    scan = scan_table(table, sources, _opener(local_policy))
    frame = collect(scan.lazy())
    good = sorted(str(p) for p in sessions.glob("session*.nwb"))
    assert frame["_nwb_path"].unique(maintain_order=True).to_list() == good
    for path in good:
        ours = frame.filter(pl.col("_nwb_path") == path)
        theirs = _pynwb_frame(Path(path), table)
        assert ours["_table_row"].to_list() == list(range(theirs.height))
        for column in theirs.columns:
            assert ours[column].to_list() == theirs[column].to_list(), column
    if table == "/units":
        counts = frame["spike_times"].list.len().to_list()
        assert frame["spike_times_count"].to_list() == counts


def test_a_broken_file_is_listed_and_the_others_are_read(sessions, local_policy):
    sources = [*list_sources(str(sessions), local_policy), str(DATA_DIR / "nothing-here.nwb")]
    scan = scan_table("/units", sources, _opener(local_policy))
    reasons = {Path(e.path).name: e.reason for e in scan.errors}
    assert set(reasons) == {"broken.nwb", "nothing-here.nwb"}
    assert "not a readable HDF5 file" in reasons["broken.nwb"]
    assert collect(scan.lazy())["_nwb_path"].n_unique() == SESSIONS


def test_a_file_without_the_table_is_listed(sessions, local_policy):
    human = DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"
    scan = scan_table(
        "/intervals/trials", [str(sessions / "session0.nwb"), str(human)], _opener(local_policy)
    )
    assert [(Path(e.path).name, e.reason) for e in scan.errors] == [
        (human.name, "This file has no table at '/intervals/trials'.")
    ]
    assert collect(scan.lazy()).height == 40


def test_remote_files_read_only_the_columns_a_query_needs(sessions, workspace):
    policy = SourcePolicy(workspace=workspace, allow_private_urls=True)
    with RangeServer(sessions) as server:
        urls = [server.url_for(f"session{seed}.nwb") for seed in range(SESSIONS)]
        scan = scan_table("/units", urls, _opener(policy))
        assert scan.errors == []
        server.log.clear()
        counts = collect(scan.lazy().select("_nwb_path", "id", "spike_times_count", "quality"))
        projected = server.log.bytes
        server.log.clear()
        whole = collect(scan.lazy())
        everything = server.log.bytes
    assert counts["_nwb_path"].unique(maintain_order=True).to_list() == urls
    assert counts["spike_times_count"].to_list() == whole["spike_times"].list.len().to_list()
    # small columns come from the index or the blocks the open read; the spike times (most of each file)
    # are fetched only for the query that asks for them
    assert projected * 10 < everything
    local = collect(
        scan_table("/units", [str(sessions / "session1.nwb")], _opener(policy_for(sessions))).lazy()
    )
    assert whole.filter(pl.col("_nwb_path") == urls[1]).drop("_nwb_path").equals(local.drop("_nwb_path"))


def policy_for(folder: Path) -> SourcePolicy:
    return SourcePolicy(workspace=folder / ".workspace", allowed_roots=(folder,))


def test_a_filter_skips_files_and_rows_it_rules_out(sessions, local_policy):
    scan = scan_table("/units", list_sources(str(sessions), local_policy), _opener(local_policy))
    only = collect(scan.lazy().filter(pl.col("_nwb_path").str.ends_with("session2.nwb")).select("id"))
    assert only.height == 60
    good = collect(scan.lazy().filter(pl.col("quality") == "good").select("_nwb_path", "quality", "depth"))
    assert set(good["quality"]) == {"good"} and good.height > 0
    assert collect(scan.lazy().head(5)).height == 5


def test_cancel_stops_between_files(sessions, local_policy):
    sources = [str(sessions / f"session{seed}.nwb") for seed in range(SESSIONS)] * 4
    cancel = threading.Event()
    reported: list[str] = []

    def progress(_fraction: float, message: str) -> None:
        reported.append(message)
        cancel.set()  # the user presses Stop as soon as the first file is read

    scan = scan_table("/units", sources, _opener(local_policy), cancel=cancel)
    scan.progress = progress
    with pytest.raises(Cancelled):
        collect(scan.lazy(), cancel)
    assert len(reported) < len(sources)


def test_sql_runs_checked_and_refuses_writes_and_file_reads(sessions, local_policy):
    scan = scan_table("/intervals/trials", list_sources(str(sessions), local_policy), _opener(local_policy))
    frame = collect(scan.lazy())
    per_file = query_sql(
        frame, "SELECT _nwb_path, avg(reaction_time) AS rt, count(*) AS n FROM across GROUP BY _nwb_path"
    )
    assert sorted(per_file["n"].to_list()) == [40] * SESSIONS
    for refused in (
        "DROP TABLE across",
        "DELETE FROM across",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM across; DROP TABLE across",
    ):
        with pytest.raises(SqlRefused):
            query_sql(frame, refused)


def test_a_folder_outside_the_roots_is_refused(tmp_path, local_policy):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb", outside / "x.nwb")
    with pytest.raises(SourceNotAllowed):
        list_sources(str(outside), local_policy)


def test_a_dandiset_version_is_read_through_the_archive(sessions, workspace):
    policy = SourcePolicy(workspace=workspace, allow_private_urls=True)
    with RangeServer(sessions) as files:
        assets = [
            FakeAsset(f"sub-{i}/sub-{i}_ecephys.nwb", 1000, f"id-{i}", files.url_for(f"session{i}.nwb"))
            for i in range(2)
        ]
        assets.append(FakeAsset("sub-9/sub-9_ecephys.nwb", 1000, "id-gone"))  # its download answers 404
        with DandiApiServer([FakeDandiset("000123", "Study", assets=assets)]) as archive:
            policy = dataclasses.replace(policy, dandi_api_url=archive.api_url)
            sources = list_sources("000123@draft", policy)
            assert [s.rsplit("/", 3)[-3] for s in sources] == ["id-0", "id-1", "id-gone"]
            scan = scan_table("/intervals/trials", sources, _opener(policy))
            frame = collect(scan.lazy())
    assert frame["_nwb_path"].unique(maintain_order=True).to_list() == sources[:2]
    assert [e.path for e in scan.errors] == [sources[2]]
