"""Default windows from the bulk of the timestamps, strays reported, and sparse integer series read as
events."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from engines.nwb.extract import (
    InvalidRequest,
    event_series_info,
    is_event_series,
    read_events,
    read_trace_window,
    robust_time_range,
)
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.engines.nwb.test_extract_timeseries import write_nwb

DEMO = DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"
EVENTS = "/acquisition/events"


@pytest.fixture
def demo(policy, index_store):
    return open_nwb(str(DEMO), policy, index_store)


@pytest.fixture(scope="module")
def demo_truth() -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(DEMO) as h5:
        return h5[f"{EVENTS}/timestamps"][()], h5[f"{EVENTS}/data"][()]


def test_stray_first_timestamp_is_reported_not_used_for_the_range(demo, demo_truth):
    times, _ = demo_truth
    span = robust_time_range(demo, EVENTS)
    assert (span.n_before, span.n_after, span.n_nan) == (1, 0, 0)
    assert span.start == times[1] == 0.0 and span.stop == times[-1]
    assert span.first == times[0] < -1e9 and span.before == [times[0]]
    assert span.describe() == (
        "1 timestamp lies outside 0–2821.07 s, where the other 1,716 are: 1 before (e.g. -1.5429e+09 s)."
    )


def test_default_window_of_the_demo_events_starts_at_the_bulk_and_is_not_empty(demo, demo_truth):
    times, codes = demo_truth
    window = read_trace_window(demo, EVENTS)
    assert (window.t_start, window.t_stop) == (0.0, 10.0)
    keep = (times >= 0.0) & (times < 10.0)
    np.testing.assert_array_equal(window.t, times[keep])
    np.testing.assert_array_equal(window.values[:, 0], codes[keep])
    assert window.series_start == times[0], "the true first sample is still reported"


def test_demo_events_are_a_sparse_integer_event_series(demo, demo_truth):
    _, codes = demo_truth
    info = event_series_info(demo, EVENTS)
    assert info is not None and info.n_events == 1717 and info.codes_complete
    assert info.codes == sorted(set(codes.tolist()))
    assert info.rate_hz == pytest.approx(1716 / 2821.074916, rel=1e-6)
    assert info.time_range.n_before == 1


def test_events_of_a_window_and_of_the_whole_bulk(demo, demo_truth):
    times, codes = demo_truth
    window = read_events(demo, EVENTS, 100.0, 160.0)
    keep = (times >= 100.0) & (times < 160.0)
    np.testing.assert_array_equal(window.times, times[keep])
    np.testing.assert_array_equal(window.codes, codes[keep])
    assert window.total_in_window == keep.sum() and not window.truncated
    assert window.distinct_codes == sorted(set(codes[keep].tolist()))
    everything = read_events(demo, EVENTS)
    np.testing.assert_array_equal(everything.times, times[1:])  # the bulk: all but the stray
    capped = read_events(demo, EVENTS, max_events=100)
    assert capped.truncated and len(capped.times) == 100 and capped.total_in_window == 1716
    stray = read_events(demo, EVENTS, -2e9, -1e9)
    assert stray.codes.tolist() == [codes[0]], "a stray is there when asked for"


def test_signals_and_rate_series_are_not_events(workspace, policy, index_store):
    rng = np.random.default_rng(4)
    file = write_nwb(
        workspace / "kinds.nwb",
        {
            "/acquisition/lfp": {"data": rng.normal(size=5000), "timestamps": np.arange(5000) / 1000.0},
            "/acquisition/counts": {"data": rng.integers(0, 5, 500), "rate": 10.0},
            "/acquisition/ttl": {
                "data": np.array([1.0, 0.0, 3.0, 0.0] * 50),
                "timestamps": np.arange(200) * 2.5,
            },
            "/acquisition/fast_codes": {
                "data": rng.integers(0, 3, 20_000),
                "timestamps": np.arange(20_000) / 5000.0,
            },
        },
    )
    nwb = open_nwb(str(file), policy, index_store)
    assert not is_event_series(nwb, "/acquisition/lfp"), "not whole numbers"
    assert not is_event_series(nwb, "/acquisition/counts"), "regularly sampled"
    assert not is_event_series(nwb, "/acquisition/fast_codes"), "5 kHz is a signal, not events"
    ttl = event_series_info(nwb, "/acquisition/ttl")
    assert ttl is not None and ttl.codes == [0, 1, 3], "whole-number floats are codes"
    with pytest.raises(InvalidRequest, match="no events"):
        read_events(nwb, "/acquisition/counts")


def test_strays_at_both_ends_and_missing_times_are_counted(workspace, policy, index_store):
    bulk = np.linspace(100.0, 200.0, 10_000)
    times = np.concatenate([[-5e8, -4e8], bulk, [9e9], [np.nan] * 3])
    file = write_nwb(
        workspace / "strays.nwb",
        {"/acquisition/s": {"data": np.arange(len(times), dtype=float), "timestamps": times}},
    )
    nwb = open_nwb(str(file), policy, index_store)
    span = robust_time_range(nwb, "/acquisition/s")
    assert (span.start, span.stop) == (100.0, 200.0)
    assert (span.n_before, span.n_after, span.n_nan, span.n_samples) == (2, 1, 3, len(times))
    assert span.before == [-5e8, -4e8] and span.after == [9e9]
    assert "6 timestamps lie outside" in span.describe() and "3 without a valid time" in span.describe()
    window = read_trace_window(nwb, "/acquisition/s")
    assert window.t[0] == 100.0 and window.t_stop == 110.0


def test_series_without_strays_keep_their_whole_range(workspace, policy, index_store):
    timestamps = np.cumsum(np.random.default_rng(1).exponential(0.5, 3000))
    file = write_nwb(
        workspace / "clean.nwb",
        {
            "/acquisition/s": {"data": np.zeros(3000), "timestamps": timestamps},
            "/acquisition/r": {"data": np.zeros(100), "rate": 10.0, "start": 3.0},
        },
    )
    nwb = open_nwb(str(file), policy, index_store)
    span = robust_time_range(nwb, "/acquisition/s")
    assert (span.start, span.stop, span.n_outside) == (
        timestamps[0],
        timestamps[-1],
        0,
    ) and span.describe() == ""
    rate = robust_time_range(nwb, "/acquisition/r")
    assert (rate.start, rate.stop) == (3.0, pytest.approx(12.9))
