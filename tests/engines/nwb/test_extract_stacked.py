"""Objects stacked on one time axis: what can be stacked (index only), and each one's window."""

from __future__ import annotations

import numpy as np
import pytest

from engines.nwb.errors import NwbReadError
from engines.nwb.extract import EventWindow, InvalidRequest, SpikeWindow, TraceWindow
from engines.nwb.extract.stacked import (
    IntervalSpans,
    default_stacked_window,
    read_stacked,
    stack_item,
    stackable_objects,
    stacked_extent,
)
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.aligned import BROKEN, CRAFTED_NAME, write_aligned_nwb

HUMAN = "sub-4_ses-4_ecephys+image.nwb"


@pytest.fixture
def nwb(workspace, policy, index_store):
    f = open_nwb(str(write_aligned_nwb(workspace / "aligned.nwb")), policy, index_store)
    yield f
    f.close()


@pytest.fixture
def human(range_server, policy, index_store):
    f = open_nwb(range_server.url_for(HUMAN), policy, index_store)
    yield f
    f.close()


def test_every_time_based_object_is_found_with_its_kind(nwb):
    kinds = {item.path: item.kind for item in stackable_objects(nwb.index)}
    assert kinds == {
        "/acquisition/lfp": "traces",
        f"/acquisition/{CRAFTED_NAME}": "traces",
        f"/acquisition/{BROKEN}": "traces",
        "/acquisition/ttl": "events",
        "/acquisition/notes": "events",
        "/events/lever_presses": "events",
        "/intervals/trials": "intervals",
        "/units": "units",
    }
    assert stack_item(nwb.index, "/general") is None and stack_item(nwb.index, "/") is None


def test_traces_of_a_long_window_are_decimated_and_bounded(nwb):
    window = read_stacked(nwb, stack_item(nwb.index, "/acquisition/lfp"), 0.0, 120.0, max_points=400)
    trace = window.data
    assert isinstance(trace, TraceWindow) and trace.decimated and len(trace.t) <= 400
    assert trace.channels == [0, 1, 2] and trace.t.min() >= 0.0 and trace.t.max() < 120.0
    assert "decimated" in window.summary()


def test_events_coded_and_bare_hold_only_the_window(nwb):
    ttl = read_stacked(nwb, stack_item(nwb.index, "/acquisition/ttl"), 10.0, 30.0)
    assert isinstance(ttl.data, EventWindow) and ttl.coded
    assert list(ttl.data.times) == [13.0, 17.0, 21.0, 25.0, 29.0] and set(ttl.data.codes) <= {1, 2, 3}
    notes = read_stacked(nwb, stack_item(nwb.index, "/acquisition/notes"), 10.0, 30.0)
    assert not notes.coded and list(notes.data.times) == [12.5, 22.5]
    presses = read_stacked(nwb, stack_item(nwb.index, "/events/lever_presses"), 10.0, 30.0)
    assert list(presses.data.times) == [10.0, 17.0, 24.0] and presses.summary().endswith("3 events")


def test_intervals_overlapping_the_window(nwb):
    spans = read_stacked(nwb, stack_item(nwb.index, "/intervals/trials"), 15.0, 31.0).data
    assert isinstance(spans, IntervalSpans)
    assert list(spans.start) == [10.0, 20.0, 30.0] and list(spans.row) == [1, 2, 3] and spans.total_rows == 11


def test_units_spikes_of_the_window(nwb):
    spikes = read_stacked(nwb, stack_item(nwb.index, "/units"), 50.0, 60.0).data
    assert isinstance(spikes, SpikeWindow) and not spikes.truncated
    assert len(spikes.times) > 0 and spikes.times.min() >= 50.0 and spikes.times.max() < 60.0


def test_a_broken_series_says_why(nwb):
    with pytest.raises(NwbReadError, match="rate"):
        read_stacked(nwb, stack_item(nwb.index, f"/acquisition/{BROKEN}"), 0.0, 10.0)
    with pytest.raises(InvalidRequest, match="end must be after its start"):
        read_stacked(nwb, stack_item(nwb.index, "/units"), 10.0, 10.0)


def test_default_window_starts_at_the_earliest_object(nwb):
    extents = [
        stacked_extent(nwb, stack_item(nwb.index, p)) for p in ("/acquisition/ttl", "/intervals/trials")
    ]
    assert default_stacked_window(extents) == (0.0, 30.0)
    assert default_stacked_window([]) == (0.0, 30.0)


def test_a_remote_recording_reads_each_kind_for_one_window(human):
    """Over HTTP range requests: the 35-unit human recording's TTLs, trials and spikes, 100-110 s."""
    kinds = {item.path: item.kind for item in stackable_objects(human.index)}
    assert kinds["/units"] == "units" and kinds["/acquisition/events"] == "events"
    assert kinds["/intervals/encoding_table"] == "intervals"
    windows = {p: read_stacked(human, stack_item(human.index, p), 100.0, 110.0) for p in kinds}
    spikes = windows["/units"].data
    assert spikes.total_in_window > 0 and np.all((spikes.times >= 100.0) & (spikes.times < 110.0))
    assert windows["/acquisition/events"].coded
    trials = windows["/intervals/encoding_table"].data
    assert len(trials.start) > 0 and np.all(trials.start < 110.0)
