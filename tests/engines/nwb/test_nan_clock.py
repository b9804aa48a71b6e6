"""A NaN or missing ``starting_time``: timestamps are used where they exist, and a series with neither
says so, in every reader (traces, events, frames, products); scalars show from the index, read-free."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from engines.nwb.errors import NwbReadError
from engines.nwb.extract import read_trace_window, series_time_range
from engines.nwb.extract._clock import group_clock
from engines.nwb.extract.images import read_frame
from engines.nwb.index import scalar_text
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.products.ephys_summary import summarize_electrical_series
from engines.nwb.products.errors import ProductInputError
from tests.support.nwb_files.nan_clock import SESSION_DESCRIPTION, write_nan_clock_nwb
from tests.support.range_server import RangeServer


@pytest.fixture
def nan_clock_file(workspace) -> Path:
    """Written inside the workspace, a folder the policy lets the tests read."""
    return write_nan_clock_nwb(workspace / "nan_clock.nwb")


@pytest.fixture
def nwb(nan_clock_file, policy, index_store):
    opened = open_nwb(str(nan_clock_file), policy, index_store)
    yield opened
    opened.close()


def test_nan_starting_time_with_timestamps_uses_the_timestamps(nwb):
    assert series_time_range(nwb, "/acquisition/stamped") == pytest.approx((5.0, 24.9))
    window = read_trace_window(nwb, "/acquisition/stamped", 5.0, 6.0)
    assert window.t[0] == pytest.approx(5.0)
    assert len(window.t) == 10


def test_nan_starting_time_without_timestamps_says_so(nwb):
    with pytest.raises(NwbReadError, match="no timestamps and its starting_time is nan"):
        read_trace_window(nwb, "/acquisition/nan_start")


def test_a_series_with_neither_says_so(nwb):
    with pytest.raises(NwbReadError, match="neither timestamps nor starting_time"):
        read_trace_window(nwb, "/acquisition/no_clock")


def test_a_valid_rate_series_is_unchanged(nwb):
    assert series_time_range(nwb, "/acquisition/fine") == pytest.approx((2.0, 2.0 + 199 / 30000.0))


def test_frames_take_their_time_from_the_timestamps(nwb):
    assert read_frame(nwb, "/acquisition/frames", 2).time == pytest.approx(9.0)


def test_products_read_groups_by_the_same_rule(nan_clock_file):
    with h5py.File(nan_clock_file, "r") as h5:
        clock = group_clock(h5["acquisition/stamped"])
        assert clock.timestamps is not None and clock.timestamps[0] == pytest.approx(5.0)
        assert group_clock(h5["acquisition/fine"]).rate == 30000.0
        with pytest.raises(NwbReadError, match="starting_time is nan"):
            group_clock(h5["acquisition/nan_start"])
        with pytest.raises(ProductInputError, match="neither timestamps nor starting_time"):
            summarize_electrical_series(h5["acquisition/no_clock"])


def test_scalars_are_shown_from_the_index_without_a_read(nan_clock_file, policy, workspace):
    with RangeServer(nan_clock_file.parent) as server:
        remote = open_nwb(server.url_for(nan_clock_file.name), policy, IndexStore(workspace / "remote"))
        try:
            server.log.clear()
            texts = {info.path: scalar_text(info) for info in remote.index.walk()}
            assert server.log.count == 0
        finally:
            remote.close()
    assert texts["/acquisition/fine/starting_time"] == "2.0"
    assert texts["/acquisition/nan_start/starting_time"] == "NaN"
    assert texts["/acquisition/fine/data"] is None
    assert texts["/acquisition"] is None
    description = texts["/session_description"]
    assert description is not None and len(description) == 24 and description.endswith("…")
    assert SESSION_DESCRIPTION.startswith(description[:-1])
