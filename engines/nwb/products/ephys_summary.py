"""Ephys summary: per-channel firing-rate estimate and power spectrum of an ElectricalSeries.

A raw recording is hours x hundreds of channels x 30 kHz; a probe view needs one number per
channel (how much spiking) and one spectrum per channel (noise, line hum, LFP bands). Both
come from up to 20 one-second segments spread over the recording, so the cost is bounded
whatever the file size: about ``n_segments x segment_s x rate x channels x itemsize`` bytes
read (20 x 30,000 x 384 x 2 = 460 MB for a Neuropixels probe, one segment at a time).

Firing rate: band-pass 300-6000 Hz (upper edge at most 0.45 x rate; 3rd-order Butterworth,
zero-phase), threshold at -4.5 x the MAD noise (median |x| / 0.6745), count negative
crossings at least 1 ms apart. Skipped below 2 kHz sampling (LFP): ``rate_hz`` is None and
``rate_reason`` says why. Spectrum: Welch (Hann windows of up to 4,096 samples), averaged
over segments, in V^2/Hz after ``conversion``, ``channel_conversion`` and ``offset``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from engines._progress import Progress
from engines.nwb.errors import NwbReadError
from engines.nwb.extract._clock import group_clock
from engines.nwb.products.errors import ProductInputError, ProductNotFound

__all__ = ["EphysSummary", "summarize_ephys", "summarize_electrical_series", "SPIKE_MIN_RATE_HZ"]


ARRAYS_FILENAME = "ephys_summary.npz"
INFO_FILENAME = "ephys_summary.json"
SPIKE_MIN_RATE_HZ = 2000.0
BAND_HZ = (300.0, 6000.0)
MAX_NPERSEG = 4096
BLOCK_BYTES = 64 << 20  # float64 samples filtered at once (channels are processed in blocks)
MAX_TIMESTAMPS_READ = 100_000


@dataclass(frozen=True)
class EphysSummary:
    """Per-channel rates (or why there are none), spectra, positions, and which samples were analysed."""

    sampling_rate: float
    rate_hz: np.ndarray | None
    rate_reason: str | None
    noise_v: np.ndarray | None
    freqs: np.ndarray
    psd: np.ndarray
    positions: np.ndarray | None
    segments: np.ndarray
    analyzed_s: float

    @property
    def n_channels(self) -> int:
        return int(self.psd.shape[0])

    def save(self, out_dir: Path | str) -> None:
        """Write the arrays (npz) and the scalars (JSON) into ``out_dir``; channels x freqs x 4 bytes."""
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"freqs": self.freqs, "psd": self.psd, "segments": self.segments}
        for name in ("rate_hz", "noise_v", "positions"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        # numpy's stub types **kwds so that a key could be allow_pickle; these keys are array names
        np.savez_compressed(folder / ARRAYS_FILENAME, **arrays)  # type: ignore[arg-type]  # numpy stub
        info = {
            "sampling_rate": self.sampling_rate,
            "rate_reason": self.rate_reason,
            "analyzed_s": self.analyzed_s,
        }
        (folder / INFO_FILENAME).write_text(json.dumps(info))

    @classmethod
    def open(cls, out_dir: Path | str) -> EphysSummary:
        folder = Path(out_dir)
        try:
            info = json.loads((folder / INFO_FILENAME).read_text())
            with np.load(folder / ARRAYS_FILENAME) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as exc:
            raise ProductNotFound(
                f"No finished ephys summary in {out_dir}: compute it (again) first."
            ) from exc
        return cls(
            sampling_rate=info["sampling_rate"],
            rate_hz=arrays.get("rate_hz"),
            rate_reason=info["rate_reason"],
            noise_v=arrays.get("noise_v"),
            freqs=arrays["freqs"],
            psd=arrays["psd"],
            positions=arrays.get("positions"),
            segments=arrays["segments"],
            analyzed_s=info["analyzed_s"],
        )


def summarize_electrical_series(
    series: Any,
    out_dir: Path | str | None = None,
    electrode_positions: np.ndarray | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> EphysSummary:
    """``summarize_ephys`` for an NWB ElectricalSeries group (h5py-like): reads its rate and scaling.

    The rate comes from the median step of the first 100,000 timestamps where there are timestamps, else
    from ``starting_time``'s ``rate`` attribute (``group_clock``: a NaN starting_time counts as none).
    ``electrode_positions``: (channels, 2+) x/y from the electrodes table.
    """
    data = series["data"]
    try:
        clock = group_clock(series)
    except NwbReadError as exc:
        raise ProductInputError(f"{exc} Without it the sampling rate is unknown.") from exc
    if clock.timestamps is None:
        rate = clock.rate
    else:
        times = np.asarray(clock.timestamps[:MAX_TIMESTAMPS_READ], dtype=np.float64)
        steps = np.diff(times)
        steps = steps[steps > 0]
        if len(steps) == 0:
            raise ProductInputError(
                "This ElectricalSeries has fewer than two distinct timestamps: no sampling rate."
            )
        rate = 1.0 / float(np.median(steps))
    channel_conversion = np.asarray(series["channel_conversion"]) if "channel_conversion" in series else None
    return summarize_ephys(
        data,
        rate,
        out_dir,
        conversion=float(data.attrs.get("conversion", 1.0)),
        offset=float(data.attrs.get("offset", 0.0)),
        channel_conversion=channel_conversion,
        electrode_positions=electrode_positions,
        progress=progress,
        **options,
    )


def summarize_ephys(
    data: Any,
    rate: float,
    out_dir: Path | str | None = None,
    *,
    conversion: float = 1.0,
    offset: float = 0.0,
    channel_conversion: np.ndarray | None = None,
    electrode_positions: np.ndarray | None = None,
    n_segments: int = 20,
    segment_s: float = 1.0,
    threshold: float = 4.5,
    refractory_s: float = 0.001,
    progress: Progress | None = None,
) -> EphysSummary:
    """Summarize ``data`` (samples x channels, or samples; h5py dataset or array) sampled at ``rate`` Hz.

    Reads ``n_segments`` segments of ``segment_s`` spread evenly (all of a shorter recording);
    volts = raw x conversion x channel_conversion + offset. Saves into ``out_dir`` when given.
    """
    if not (math.isfinite(rate) and rate > 0):
        raise ProductInputError(f"The sampling rate must be a positive number of Hz, got {rate!r}.")
    n_samples, n_channels = _samples_and_channels(data.shape)
    scale = _channel_scale(conversion, channel_conversion, n_channels)
    positions = _positions(electrode_positions, n_channels)
    segments = _segments(n_samples, rate, n_segments, segment_s)
    length = int(segments[0, 1] - segments[0, 0])
    reason = _no_rate_reason(rate, length)
    nperseg = min(length, MAX_NPERSEG)
    freqs = np.fft.rfftfreq(nperseg, 1.0 / rate)
    totals = _Totals(
        np.zeros((n_channels, len(freqs))), np.zeros(n_channels, dtype=np.int64), np.zeros(n_channels)
    )
    channels_per_block = max(1, BLOCK_BYTES // (length * 8))
    for number, (start, stop) in enumerate(segments.tolist()):
        raw = np.asarray(data[start:stop]).reshape(length, n_channels)
        for first in range(0, n_channels, channels_per_block):
            part = slice(first, first + channels_per_block)
            volts = raw[:, part].astype(np.float64) * scale[part] + offset
            spikes = None if reason is not None else (threshold, refractory_s)
            totals.add(part, volts, rate, nperseg, spikes)
        if progress is not None:
            progress((number + 1) / len(segments), f"Analysed {number + 1} of {len(segments)} segments")
    analyzed_s = len(segments) * length / rate
    summary = EphysSummary(
        sampling_rate=float(rate),
        rate_hz=None if reason else totals.crossings / analyzed_s,
        rate_reason=reason,
        noise_v=None if reason else totals.noise / len(segments),
        freqs=freqs,
        psd=(totals.psd / len(segments)).astype(np.float32),
        positions=positions,
        segments=segments,
        analyzed_s=analyzed_s,
    )
    if out_dir is not None:
        summary.save(out_dir)
    return summary


@dataclass
class _Totals:
    """Per-channel sums over the segments read so far: power spectra, threshold crossings, noise levels."""

    psd: np.ndarray
    crossings: np.ndarray
    noise: np.ndarray

    def add(
        self, part: slice, volts: np.ndarray, rate: float, nperseg: int, spikes: tuple[float, float] | None
    ) -> None:
        """Add one block of channels of one segment; ``spikes`` (threshold, refractory s) None: no counts."""
        self.psd[part] += signal.welch(volts, fs=rate, nperseg=nperseg, axis=0)[1].T
        if spikes is not None:
            counted, level = _count_spikes(volts, rate, *spikes)
            self.crossings[part] += counted
            self.noise[part] += level


def _samples_and_channels(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(samples, channels)`` of a recording's shape; ``ProductInputError`` for any other shape."""
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (1, 2) or shape[0] < 2:
        raise ProductInputError(f"Expected samples x channels with 2+ samples, got data of shape {shape}.")
    return shape[0], (shape[1] if len(shape) == 2 else 1)


def _channel_scale(conversion: float, channel_conversion: np.ndarray | None, n_channels: int) -> np.ndarray:
    """Volts per stored unit, per channel (NWB's ``conversion`` x ``channel_conversion``)."""
    scale = conversion * (
        np.ones(n_channels)
        if channel_conversion is None
        else np.asarray(channel_conversion, dtype=np.float64).reshape(-1)
    )
    if len(scale) != n_channels:
        raise ProductInputError(f"channel_conversion has {len(scale)} values for {n_channels} channels.")
    return scale


def _positions(electrode_positions: np.ndarray | None, n_channels: int) -> np.ndarray | None:
    if electrode_positions is None:
        return None
    positions = np.asarray(electrode_positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[0] != n_channels or positions.shape[1] < 2:
        raise ProductInputError(
            f"electrode_positions must be (channels, 2+) x/y values for {n_channels} channels, "
            f"got shape {positions.shape}."
        )
    return positions[:, :2]


def _segments(n_samples: int, rate: float, n_segments: int, segment_s: float) -> np.ndarray:
    """``[start, stop)`` sample rows: ``n_segments`` equal, non-overlapping segments spread over the
    recording."""
    if n_segments < 1 or not segment_s > 0:
        raise ProductInputError("n_segments must be >= 1 and segment_s > 0.")
    length = min(n_samples, max(2, round(segment_s * rate)))
    count = min(n_segments, n_samples // length)
    starts = np.linspace(0, n_samples - length, count).astype(np.int64)
    return np.stack([starts, starts + length], axis=1)


def _no_rate_reason(rate: float, length: int) -> str | None:
    if rate < SPIKE_MIN_RATE_HZ:
        return (
            f"Sampled at {rate:g} Hz (below {SPIKE_MIN_RATE_HZ:g} Hz, e.g. LFP): spikes cannot be detected; "
            "spectra only."
        )
    if length < 0.05 * rate:
        return f"The recording is only {length / rate * 1e3:.1f} ms long: too short to estimate firing rates."
    return None


def _count_spikes(
    volts: np.ndarray, rate: float, threshold: float, refractory_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Negative threshold crossings per channel (at least ``refractory_s`` apart) and the MAD noise level."""
    sos = signal.butter(
        3, [BAND_HZ[0], min(BAND_HZ[1], 0.45 * rate)], btype="bandpass", fs=rate, output="sos"
    )
    filtered = signal.sosfiltfilt(sos, volts, axis=0)
    noise = np.median(np.abs(filtered), axis=0) / 0.6745
    below = filtered < -threshold * noise
    channel, sample = np.nonzero((below[1:] & ~below[:-1]).T)
    gap = np.diff(sample, prepend=-1)
    first_of_channel = np.diff(channel, prepend=-1) != 0
    kept = first_of_channel | (gap >= refractory_s * rate)
    return np.bincount(channel[kept], minlength=volts.shape[1]), noise
