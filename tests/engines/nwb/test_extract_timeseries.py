"""Trace windows: right samples, right scaling, bounded reads, whatever the series' size or layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.nwb.errors import NwbReadError
from engines.nwb.extract import (
    InvalidRequest,
    UnsupportedData,
    read_trace_window,
    robust_time_range,
    series_time_range,
)
from engines.nwb.nwbfile import open_nwb
from tests.conftest import ALL_NWB_FILES, DATA_DIR
from tests.support.range_server import RangeServer


def write_nwb(path: Path, series: dict[str, dict]) -> Path:
    """A minimal NWB file holding TimeSeries groups: {path: {data, rate | timestamps, chunks, type,
    attrs}}."""
    with h5py.File(path, "w") as h5:
        h5.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")
        for where, spec in series.items():
            group = h5.create_group(where)
            group.attrs.update(neurodata_type=spec.get("type", "TimeSeries"), namespace="core")
            data = group.create_dataset("data", data=spec["data"], chunks=spec.get("chunks"))
            data.attrs.update({"unit": "V", **spec.get("attrs", {})})
            if "timestamps" in spec:
                group.create_dataset("timestamps", data=spec["timestamps"], chunks=spec.get("ts_chunks"))
            elif "rate" in spec:
                start = group.create_dataset("starting_time", data=spec.get("start", 0.0))
                start.attrs["rate"] = spec["rate"]
            for name, value in spec.get("extra", {}).items():
                group.create_dataset(name, data=value)
    return path


def _expected_window(h5: h5py.File, path: str, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth for the default window (10 s from ``t0``, half-open), straight from h5py."""
    group = h5[path]
    data = group["data"][()]
    data = data.reshape(len(data), -1).astype(np.float64)
    if "timestamps" in group:
        t = group["timestamps"][()][: len(data)]
    else:
        rate = float(group["starting_time"].attrs["rate"])
        t = float(group["starting_time"][()]) + np.arange(len(data)) / rate
    keep = (t >= t0) & ((t < t0 + 10.0) | (t0 + 10.0 > t[-1]))
    conversion = float(group["data"].attrs.get("conversion", 1.0))
    offset = float(group["data"].attrs.get("offset", 0.0))
    return t[keep], data[keep][:, :64] * conversion + offset


@pytest.mark.parametrize("file", ALL_NWB_FILES, ids=lambda p: p.name)
def test_every_timeseries_in_every_file_gives_a_window_or_a_typed_error(file, policy, index_store):
    f = open_nwb(str(file), policy, index_store)
    with h5py.File(file, "r") as h5:
        for info in f.index.find_by_type("TimeSeries"):
            data = h5[info.path].get("data")
            if data is None or data.ndim not in (1, 2):
                with pytest.raises(UnsupportedData, match="Frames view|raw data view|external files"):
                    read_trace_window(f, info.path)
                continue
            window = read_trace_window(f, info.path)
            t, values = _expected_window(h5, info.path, robust_time_range(f, info.path).start)
            assert not window.decimated and not window.sampled
            np.testing.assert_allclose(window.t, t)
            np.testing.assert_allclose(window.values, values)
            assert len(window.channel_labels) == len(window.channels) == values.shape[1]
            assert window.series_start == pytest.approx(series_time_range(f, info.path)[0])


def test_electrical_series_over_http_matches_h5py_with_electrode_labels(range_server, policy, index_store):
    f = open_nwb(range_server.url_for("pynwb-types/test_ElectricalSeries.nwb"), policy, index_store)
    window = read_trace_window(f, "/acquisition/test_eS")
    with h5py.File(DATA_DIR / "pynwb-types/test_ElectricalSeries.nwb") as h5:
        np.testing.assert_array_equal(window.values, h5["/acquisition/test_eS/data"][()])
        np.testing.assert_array_equal(window.t, h5["/acquisition/test_eS/timestamps"][()])
    assert window.channel_labels == ["electrode 1", "electrode 3"]
    assert window.unit == "volt"
    assert series_time_range(f, "/acquisition/test_eS") == pytest.approx((0.0, 0.9))


def test_timestamps_shared_through_a_link_give_the_same_times(policy, index_store):
    file = DATA_DIR / "pynwb-types/test_timestamps_linking.nwb"
    f = open_nwb(str(file), policy, index_store)
    a = read_trace_window(f, "/acquisition/a", 100.0, 200.0)
    b = read_trace_window(f, "/acquisition/b", 100.0, 200.0)
    with h5py.File(file) as h5:
        times = h5["/acquisition/a/timestamps"][()]
        keep = (times >= 100) & (times < 200)
        np.testing.assert_array_equal(b.t, times[keep])
        np.testing.assert_array_equal(b.values[:, 0], h5["/acquisition/b/data"][()][keep])
    np.testing.assert_array_equal(a.t, b.t)


def test_default_window_is_the_first_ten_seconds(workspace, policy, index_store):
    file = write_nwb(
        workspace / "rate.nwb", {"/acquisition/s": {"data": np.arange(6000.0), "rate": 100.0, "start": 5.0}}
    )
    window = read_trace_window(open_nwb(str(file), policy, index_store), "/acquisition/s", max_points=5000)
    assert (window.t_start, window.t_stop) == (5.0, 15.0)
    assert (window.series_start, window.series_stop) == (5.0, pytest.approx(64.99))
    np.testing.assert_allclose(window.t, 5.0 + np.arange(1000) / 100.0)
    np.testing.assert_array_equal(window.values[:, 0], np.arange(1000.0))


def test_conversion_offset_and_channel_conversion_are_applied(workspace, policy, index_store):
    raw = np.arange(40, dtype=np.int16).reshape(20, 2)
    file = write_nwb(
        workspace / "scaled.nwb",
        {
            "/acquisition/e": {
                "data": raw,
                "rate": 10.0,
                "type": "ElectricalSeries",
                "attrs": {"conversion": 2.0, "offset": 0.5},
                "extra": {"channel_conversion": np.array([1.0, 10.0])},
            }
        },
    )
    window = read_trace_window(open_nwb(str(file), policy, index_store), "/acquisition/e")
    np.testing.assert_allclose(window.values, raw * np.array([1.0, 10.0]) * 2.0 + 0.5)
    assert window.channel_labels == ["ch 0", "ch 1"]


def test_decimated_envelope_keeps_the_true_min_and_max(workspace, policy, index_store):
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(200_000, 4)).astype(np.float32)
    file = write_nwb(
        workspace / "long.nwb", {"/acquisition/s": {"data": raw, "rate": 1000.0, "chunks": (5000, 4)}}
    )
    window = read_trace_window(
        open_nwb(str(file), policy, index_store), "/acquisition/s", 20.0, 120.0, max_points=500
    )
    expected = raw[20_000:120_000].astype(np.float64)
    assert window.decimated and not window.sampled
    assert len(window.t) <= 500 and np.all(np.diff(window.t) >= 0)
    np.testing.assert_allclose(window.values.min(axis=0), expected.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(window.values.max(axis=0), expected.max(axis=0), rtol=1e-6)
    assert window.t[0] == pytest.approx(20.0) and window.t[-1] == pytest.approx(119.999)


def _long_file(workspace: Path) -> Path:
    """8 channels × 2M int16 samples (32 MB), chunked along time."""
    raw = (np.arange(2_000_000, dtype=np.int64)[:, None] * np.arange(1, 9) % 30_000).astype(np.int16)
    return write_nwb(
        workspace / "big.nwb", {"/acquisition/s": {"data": raw, "rate": 30_000.0, "chunks": (8192, 8)}}
    )


def test_long_window_reads_bounded_bytes(workspace, policy, index_store):
    f = open_nwb(str(_long_file(workspace)), policy, index_store)
    start, stop = series_time_range(f, "/acquisition/s")
    window = read_trace_window(f, "/acquisition/s", start, stop, max_bytes=4 * 2**20)
    assert window.sampled and window.decimated
    assert window.bytes_read <= 4 * 2**20
    assert window.t[0] == pytest.approx(start) and window.t[-1] > 0.9 * stop
    assert window.values.min() >= 0 and window.values.max() <= 29_999
    assert len(window.t) <= 2000


def test_long_window_over_http_transfers_about_max_bytes(workspace, policy, index_store):
    file = _long_file(workspace)
    with RangeServer(workspace) as server:
        f = open_nwb(server.url_for(file.name), policy, index_store)
        server.log.clear()
        window = read_trace_window(f, "/acquisition/s", 0.0, 70.0, channels=[0, 5], max_bytes=2 * 2**20)
        assert window.sampled and window.bytes_read <= 2 * 2**20
        assert server.log.bytes <= 3 * 2 * 2**20, "chunks are read whole, but far less than the 32 MB series"


def test_timestamps_window_is_found_with_few_requests(workspace, policy, index_store):
    n = 2_000_000
    timestamps = np.cumsum(np.full(n, 0.001)) + 3.0
    file = write_nwb(
        workspace / "stamped.nwb",
        {"/acquisition/s": {"data": np.arange(n, dtype=np.float64), "timestamps": timestamps}},
    )
    with RangeServer(workspace) as server:
        f = open_nwb(server.url_for(file.name), policy, index_store)
        server.log.clear()
        window = read_trace_window(f, "/acquisition/s", 1000.0, 1001.0)
        keep = (timestamps >= 1000.0) & (timestamps < 1001.0)
        np.testing.assert_array_equal(window.t, timestamps[keep])
        np.testing.assert_array_equal(window.values[:, 0], np.flatnonzero(keep).astype(float))
        assert server.log.count <= 10, "interpolation search: the ends, then the right block"
        assert server.log.bytes <= 2**20, "the 16 MB of timestamps are never read whole"


def test_window_search_agrees_with_numpy_on_irregular_timestamps(workspace, policy, index_store):
    rng = np.random.default_rng(3)
    steps = np.where(rng.random(300_000) < 0.001, 50.0, rng.exponential(0.01, 300_000))
    steps[rng.random(300_000) < 0.05] = 0.0  # repeated times
    timestamps = np.cumsum(steps)
    file = write_nwb(
        workspace / "irregular.nwb",
        {
            "/acquisition/s": {
                "data": np.arange(300_000, dtype=np.int32),
                "timestamps": timestamps,
                "ts_chunks": (4096,),
            }
        },
    )
    f = open_nwb(str(file), policy, index_store)
    for t0 in rng.uniform(timestamps[0] - 5, timestamps[-1], 25):
        window = read_trace_window(f, "/acquisition/s", t0, t0 + 3.0, max_points=10**6)
        keep = np.flatnonzero((timestamps >= t0) & ((timestamps < t0 + 3.0) | (t0 + 3.0 > timestamps[-1])))
        np.testing.assert_array_equal(window.values[:, 0], keep.astype(float))


def test_scattered_channels_cost_only_the_chunks_holding_them(workspace, policy, index_store):
    raw = np.arange(64 * 1000, dtype=np.float32).reshape(1000, 64)
    file = write_nwb(
        workspace / "wide.nwb", {"/acquisition/s": {"data": raw, "rate": 100.0, "chunks": (500, 8)}}
    )
    window = read_trace_window(
        open_nwb(str(file), policy, index_store), "/acquisition/s", channels=[40, 3, 41]
    )
    np.testing.assert_array_equal(window.values, raw[:, [40, 3, 41]])
    assert window.channels == [40, 3, 41]
    assert window.bytes_read == 1000 * 2 * 8 * 4, "two chunk columns of 8 channels, not all 64"


def test_window_outside_the_series_is_empty(workspace, policy, index_store):
    file = write_nwb(workspace / "short.nwb", {"/acquisition/s": {"data": np.arange(100.0), "rate": 10.0}})
    window = read_trace_window(open_nwb(str(file), policy, index_store), "/acquisition/s", 50.0, 60.0)
    assert window.values.shape == (0, 1) and window.bytes_read == 0


def test_bad_requests_are_rejected_with_typed_errors(workspace, policy, index_store):
    file = write_nwb(workspace / "short.nwb", {"/acquisition/s": {"data": np.zeros((100, 2)), "rate": 10.0}})
    f = open_nwb(str(file), policy, index_store)
    with pytest.raises(InvalidRequest, match="t_stop must be after t_start"):
        read_trace_window(f, "/acquisition/s", 5.0, 1.0)
    with pytest.raises(InvalidRequest, match="channel 7 does not exist"):
        read_trace_window(f, "/acquisition/s", channels=[0, 7])


def test_image_and_text_series_are_refused_with_a_pointer_elsewhere(workspace, policy, index_store):
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_TwoPhotonSeries.nwb"), policy, index_store)
    with pytest.raises(UnsupportedData, match="3-D data.*Frames view"):
        read_trace_window(f, "/acquisition/test_2ps")
    file = write_nwb(
        workspace / "text.nwb",
        {"/acquisition/s": {"data": np.array([b"a", b"b"], dtype=object), "rate": 1.0}},
    )
    with pytest.raises(UnsupportedData, match="not numbers"):
        read_trace_window(open_nwb(str(file), policy, index_store), "/acquisition/s")


def test_series_without_data_or_time_raise_read_errors(workspace, policy, index_store):
    with h5py.File(workspace / "broken.nwb", "w") as h5:
        h5.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")
        h5.create_group("/acquisition/empty").attrs.update(neurodata_type="TimeSeries", namespace="core")
        untimed = h5.create_group("/acquisition/untimed")
        untimed.attrs.update(neurodata_type="TimeSeries", namespace="core")
        untimed.create_dataset("data", data=np.zeros(5))
    f = open_nwb(str(workspace / "broken.nwb"), policy, index_store)
    with pytest.raises(NwbReadError, match="has no data"):
        read_trace_window(f, "/acquisition/empty")
    with pytest.raises(NwbReadError, match="neither timestamps nor starting_time"):
        series_time_range(f, "/acquisition/untimed")
