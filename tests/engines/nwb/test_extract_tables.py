"""Table pages: the same rows pynwb's to_dataframe() gives, read page by page."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pynwb
import pytest

from engines.nwb.errors import ObjectNotFound
from engines.nwb.extract import UnsupportedData, read_intervals, read_table_page
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.support.range_server import RangeServer

TABLES: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("anm369963.nwb", "/intervals/trials", lambda nwb: nwb.trials),
    ("anm369963.nwb", "/units", lambda nwb: nwb.units),
    ("anm369963.nwb", "/general/extracellular_ephys/electrodes", lambda nwb: nwb.electrodes),
    (
        "sub-4_ses-4_ecephys+image.nwb",
        "/intervals/recognition_table",
        lambda nwb: nwb.intervals["recognition_table"],
    ),
    ("sub-4_ses-4_ecephys+image.nwb", "/units", lambda nwb: nwb.units),
    ("A8604-211122_phy.nwb", "/units", lambda nwb: nwb.units),
    ("A8604-211122_phy.nwb", "/intervals/epochs", lambda nwb: nwb.epochs),
    ("pynwb-types/test_TimeIntervals.nwb", "/intervals/epochs", lambda nwb: nwb.epochs),
    ("pynwb-types/test_DynamicTable.nwb", "/units", lambda nwb: nwb.units),
    ("pynwb-types/test_Units.nwb", "/acquisition/UnitsTest", lambda nwb: nwb.acquisition["UnitsTest"]),
    (
        "pynwb-types/test_DecompositionSeries.nwb",
        "/processing/test_mod/LFPSpectralAnalysis/bands",
        lambda nwb: nwb.processing["test_mod"]["LFPSpectralAnalysis"].bands,
    ),
]


def _same_cell(ours: Any, theirs: Any) -> bool:
    """Our display cell against pynwb's value: counts for lists, names for objects, equality otherwise."""
    if isinstance(ours, str) and ours.startswith("[") and " item" in ours.split("]")[0]:
        return int(ours[1:].split(" ")[0]) == len(theirs)
    if hasattr(theirs, "name") and hasattr(theirs, "fields"):
        return isinstance(ours, str) and ours.rsplit("/", 1)[-1] == theirs.name
    if isinstance(theirs, bytes):
        theirs = theirs.decode()
    if isinstance(theirs, float) or isinstance(ours, float):
        return bool(np.isclose(float(ours), float(theirs), equal_nan=True))
    return ours == theirs


@pytest.mark.parametrize("name,path,accessor", TABLES, ids=[f"{n}:{p}" for n, p, _ in TABLES])
def test_page_equals_pynwb_dataframe_rows(name, path, accessor, range_server, policy, index_store):
    f = open_nwb(range_server.url_for(name), policy, index_store)
    with warnings.catch_warnings(), pynwb.NWBHDF5IO(str(DATA_DIR / name), "r") as io:
        warnings.simplefilter("ignore")
        expected = accessor(io.read()).to_dataframe(index=True)
        page = read_table_page(f, path, offset=1, limit=3)
        rows = expected.iloc[1:4]
        assert page.total_rows == len(expected)
        assert page.columns == list(expected.columns)
        assert list(page.frame.columns) == ["id", *expected.columns]
        np.testing.assert_array_equal(page.frame["id"], rows.index)
        for column in expected.columns:
            for ours, theirs in zip(page.frame[column], rows[column]):
                assert _same_cell(ours, theirs), (column, ours, theirs)


def test_ragged_cells_show_count_and_first_items(policy, index_store):
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_TimeIntervals.nwb"), policy, index_store)
    frame = read_table_page(f, "/intervals/epochs").frame
    assert list(frame["tags"]) == ["[0 items]", "[0 items]", "[2 items] fizz, buzz", "[1 item] qaz"]
    assert frame["timeseries"][0] == "[1 item] (2, 1, /acquisition/a)"
    units = read_table_page(open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, index_store), "/units").frame
    assert units["spike_times"][0] == "[1679 items] 372.76, 392.84, 403.069, …"


def test_references_show_as_paths_and_regions_as_row_numbers(policy, index_store):
    f = open_nwb(str(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    electrodes = read_table_page(f, "/general/extracellular_ephys/electrodes", limit=2).frame
    assert electrodes["group"][0] == "/general/extracellular_ephys/NLX-microwires-139"
    units = read_table_page(f, "/units", offset=30, limit=10)
    with h5py.File(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb") as h5:
        np.testing.assert_array_equal(units.frame["electrodes"], h5["/units/electrodes"][30:35])
    assert units.frame.index.tolist() == [30, 31, 32, 33, 34], "rows are numbered by their place in the table"


def test_page_reads_only_its_rows(workspace, policy, index_store):
    n = 1_000_000
    with h5py.File(workspace / "tall.nwb", "w") as h5:
        h5.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")
        table = h5.create_group("table")
        table.attrs.update(
            neurodata_type="DynamicTable", namespace="hdmf-common", colnames=["value", "label"]
        )
        table.create_dataset("id", data=np.arange(n))
        table.create_dataset("value", data=np.arange(n) * 0.5)
        table.create_dataset("label", data=np.array([b"row%d" % (i % 10) for i in range(n)], dtype="S8"))
    with RangeServer(workspace) as server:
        f = open_nwb(server.url_for("tall.nwb"), policy, index_store)
        server.log.clear()
        page = read_table_page(f, "/table", offset=600_000, limit=50)
        assert page.frame["value"].tolist() == [i * 0.5 for i in range(600_000, 600_050)]
        assert page.frame["label"][600_001] == "row1"
        assert server.log.bytes < 1_000_000, "24 MB of columns, one page read"


def test_doubly_ragged_cells_count_their_lists(workspace, policy, index_store):
    with h5py.File(workspace / "waveforms.nwb", "w") as h5:
        h5.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")
        table = h5.create_group("units")
        table.attrs.update(neurodata_type="Units", namespace="core", colnames=["waveforms"])
        table.create_dataset("id", data=[0, 1])
        table.create_dataset("waveforms", data=np.zeros((7, 3)))
        table.create_dataset("waveforms_index", data=[2, 4, 7])
        table.create_dataset("waveforms_index_index", data=[1, 3])
    frame = read_table_page(open_nwb(str(workspace / "waveforms.nwb"), policy, index_store), "/units").frame
    assert list(frame["waveforms"]) == ["[1 list]", "[2 lists]"]


def test_column_subset_and_page_past_the_end(policy, index_store):
    f = open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, index_store)
    page = read_table_page(f, "/intervals/trials", offset=170, limit=20, columns=["start_time", "type"])
    assert list(page.frame.columns) == ["id", "start_time", "type"] and len(page.frame) == 8
    assert len(read_table_page(f, "/intervals/trials", offset=500).frame) == 0
    with pytest.raises(ObjectNotFound, match="has no column 'nope'. Its columns: start_time, stop_time"):
        read_table_page(f, "/intervals/trials", columns=["nope"])


def test_intervals_give_start_and_stop_of_every_row(range_server, policy, index_store):
    f = open_nwb(range_server.url_for("sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    intervals = read_intervals(f, "/intervals/recognition_table", offset=10, limit=5)
    with h5py.File(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb") as h5:
        np.testing.assert_array_equal(intervals.start, h5["/intervals/recognition_table/start_time"][()])
        np.testing.assert_array_equal(intervals.stop, h5["/intervals/recognition_table/stop_time"][()])
    assert len(intervals.page.frame) == 5 and intervals.page.total_rows == 180
    capped = read_intervals(f, "/intervals/recognition_table", max_rows=100)
    assert len(capped.start) == 100 < capped.page.total_rows


def test_table_without_times_is_not_intervals(policy, index_store):
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_DynamicTable.nwb"), policy, index_store)
    with pytest.raises(UnsupportedData, match="no start_time/stop_time"):
        read_intervals(f, "/units")
    assert isinstance(read_table_page(f, "/units").frame, pd.DataFrame)
