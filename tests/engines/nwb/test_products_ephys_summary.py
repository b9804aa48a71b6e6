"""Ephys summary: rates recovered from injected spikes, spectral peaks where the sine is, bounded reads."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from engines.nwb.nwbfile import open_nwb
from engines.nwb.products import ProductInputError, ProductNotFound
from engines.nwb.products.ephys_summary import EphysSummary, summarize_electrical_series, summarize_ephys

TYPES = "pynwb-types"


class CountingReads:
    """An array that records how many samples each read asks for (a stand-in for an h5py dataset)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.samples_read = 0

    def __getitem__(self, selection):
        block = self.array[selection]
        self.samples_read += block.shape[0]
        return block


def electrode_xy(f: h5py.File, series: str) -> np.ndarray:
    table = f["general/extracellular_ephys/electrodes"]
    rows = f[f"{series}/electrodes"][:]
    return np.stack([table["x"][:], table["y"][:]], axis=1)[rows]


def test_electrical_series_test_file_gives_spectra_without_rates(tmp_path, nwb_data_dir, policy, index_store):
    nwb = open_nwb(str(nwb_data_dir / TYPES / "test_ElectricalSeries.nwb"), policy, index_store)
    try:
        series = nwb.h5["/acquisition/test_eS"]
        summary = summarize_electrical_series(
            series, tmp_path, electrode_positions=electrode_xy(nwb.h5, series.name)
        )
    finally:
        nwb.close()
    assert summary.sampling_rate == pytest.approx(10.0)
    assert summary.rate_hz is None and "10 Hz" in summary.rate_reason
    assert summary.n_channels == 2 and summary.psd.shape == (2, len(summary.freqs))
    assert summary.freqs[-1] == pytest.approx(5.0)
    np.testing.assert_array_equal(summary.positions, [[1.0, 2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(summary.segments, [[0, 10]])
    stored = EphysSummary.open(tmp_path)
    np.testing.assert_array_equal(stored.psd, summary.psd)
    assert stored.rate_reason == summary.rate_reason and stored.rate_hz is None


def test_lfp_test_file_both_series(nwb_data_dir):
    with h5py.File(nwb_data_dir / TYPES / "test_LFP.nwb", "r") as f:
        for name in ("test_eS1", "test_eS2"):
            summary = summarize_electrical_series(f[f"acquisition/LFP/{name}"])
            assert summary.rate_hz is None and summary.psd.shape[0] == 2
            assert np.isfinite(summary.psd).all() and (summary.psd >= 0).all()


def test_injected_spikes_give_their_rate_from_bounded_reads(tmp_path):
    fs, duration = 30_000, 60
    rng = np.random.default_rng(0)
    noise_v = 10e-6
    raw = rng.normal(0.0, noise_v, (fs * duration, 4)).astype(np.float32)
    offsets = np.arange(-15, 16)
    waveform = -120e-6 * np.exp(-((offsets / (0.0003 * fs)) ** 2))
    rates = [0.0, 4.0, 20.0, 60.0]
    truth = []
    for channel, rate in enumerate(rates):
        slots = np.arange(100, fs * duration - 100, int(0.003 * fs))  # at least 3 ms apart
        times = np.sort(rng.choice(slots, rng.poisson(rate * duration), replace=False))
        for t in times:
            raw[t + offsets, channel] += waveform
        truth.append(times)
    data = CountingReads(raw)
    summary = summarize_ephys(data, float(fs), tmp_path, electrode_positions=np.arange(12.0).reshape(4, 3))
    assert len(summary.segments) == 20 and summary.analyzed_s == pytest.approx(20.0)
    assert data.samples_read == 20 * fs
    for channel, times in enumerate(truth):
        inside = sum(((times >= a) & (times < b)).sum() for a, b in summary.segments)
        expected = inside / summary.analyzed_s
        assert summary.rate_hz[channel] == pytest.approx(expected, rel=0.1, abs=0.5), channel
    assert summary.noise_v == pytest.approx(np.full(4, noise_v * np.sqrt(5700 / 15000)), rel=0.25)
    assert summary.positions.shape == (4, 2)
    np.testing.assert_array_equal(EphysSummary.open(tmp_path).rate_hz, summary.rate_hz)


def test_sine_peaks_at_its_frequency_and_power_is_in_volts():
    fs = 1000.0
    t = np.arange(int(fs * 30)) / fs
    counts = np.stack([1000 * np.sin(2 * np.pi * 37.0 * t), 500 * np.sin(2 * np.pi * 123.0 * t)], axis=1)
    summary = summarize_ephys(
        counts.astype(np.int16), fs, conversion=1e-6, channel_conversion=np.array([1.0, 2.0])
    )
    assert summary.rate_hz is None and "1000 Hz" in summary.rate_reason
    peaks = summary.freqs[summary.psd.argmax(axis=1)]
    np.testing.assert_allclose(peaks, [37.0, 123.0])
    df = summary.freqs[1] - summary.freqs[0]
    power = summary.psd.sum(axis=1) * df
    np.testing.assert_allclose(power, [(1000e-6) ** 2 / 2, (1000e-6) ** 2 / 2], rtol=0.05)


def test_high_rate_sine_and_single_channel():
    fs = 20_000.0
    t = np.arange(int(fs * 3)) / fs
    summary = summarize_ephys(np.sin(2 * np.pi * 1500.0 * t), fs, n_segments=5, segment_s=0.5)
    assert summary.psd.shape[0] == 1 and len(summary.segments) == 5
    assert summary.freqs[summary.psd[0].argmax()] == pytest.approx(1500.0, abs=fs / 4096)
    assert summary.rate_hz is not None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: summarize_ephys(np.zeros((100, 2)), 0.0), "sampling rate"),
        (lambda: summarize_ephys(np.zeros((100, 2, 2)), 1000.0), "samples x channels"),
        (
            lambda: summarize_ephys(np.zeros((100, 2)), 1000.0, electrode_positions=np.zeros((3, 2))),
            "electrode_positions",
        ),
        (
            lambda: summarize_ephys(np.zeros((100, 2)), 1000.0, channel_conversion=np.ones(3)),
            "channel_conversion",
        ),
    ],
)
def test_bad_inputs_are_refused(call, message):
    with pytest.raises(ProductInputError, match=message):
        call()


def test_missing_summary(tmp_path):
    with pytest.raises(ProductNotFound):
        EphysSummary.open(tmp_path)
