"""Benchmark the spike density pyramid: build time, bytes on disk, viewport query time.

Run ``python benchmarks/spike_density.py``. Two seeded synthetic recordings of one hour,
Poisson units with log-normal rates: 1,000 units / 10M spikes and 100 units / 1M spikes.
For each: ``build_s`` (pyramid build from in-memory arrays), ``store_ratio`` (pyramid bytes
on disk / float64 spike-time bytes), ``query_ms_median`` (1,000-px images for 30 viewports
from the whole hour down to 1 s, log-spaced, random positions) and ``query_speedup``
(median time of binning the raw spikes per request with ``np.histogram2d`` over the same
viewports / ours). ``query_speedup_windowed`` is the same against a stronger baseline that
first masks the spikes inside the viewport. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.nwb.products import SpikeDensityPyramid, build_spike_density_pyramid  # noqa: E402

DURATION_S = 3600.0
WIDTH_PX = 1000
N_VIEWPORTS = 30


def synthetic_units(n_units: int, n_spikes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat sorted-per-unit spike times and their VectorIndex; ~16 bytes per spike while building."""
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(0.0, 1.0, n_units)
    rates *= n_spikes / (rates.sum() * DURATION_S)
    counts = rng.poisson(rates * DURATION_S)
    times = rng.uniform(0.0, DURATION_S, int(counts.sum()))
    ends = np.cumsum(counts)
    for start, stop in zip((ends - counts).tolist(), ends.tolist()):
        times[start:stop].sort()
    return times, ends


def viewports(seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    lengths = np.geomspace(DURATION_S, 1.0, N_VIEWPORTS)
    return [
        (float(start), float(start + length))
        for length, start in ((length, rng.uniform(0.0, DURATION_S - length)) for length in lengths)
    ]


def timed_ms(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1e3


def run_case(n_units: int, n_spikes: int, seed: int) -> dict[str, float]:
    times, index = synthetic_units(n_units, n_spikes, seed)
    unit_of_spike = np.repeat(np.arange(n_units), np.diff(index, prepend=0)).astype(np.float64)
    with tempfile.TemporaryDirectory() as folder:
        summary = build_spike_density_pyramid(times, index, folder)
        pyramid = SpikeDensityPyramid.open(folder)
        windows = viewports(seed + 1)
        pyramid.query(*windows[0], WIDTH_PX)
        ours = [timed_ms(lambda w=w: pyramid.query(w[0], w[1], WIDTH_PX)) for w in windows]
        raw = [
            timed_ms(
                lambda w=w: np.histogram2d(
                    unit_of_spike, times, bins=(n_units, WIDTH_PX), range=((0, n_units), w)
                )
            )
            for w in windows
        ]

        def windowed(w: tuple[float, float]) -> None:
            inside = (times >= w[0]) & (times < w[1])
            np.histogram2d(
                unit_of_spike[inside], times[inside], bins=(n_units, WIDTH_PX), range=((0, n_units), w)
            )

        masked = [timed_ms(lambda w=w: windowed(w)) for w in windows]
    result = {
        "build_s": round(summary.build_s, 3),
        "store_ratio": round(summary.stored_bytes / (len(times) * 8), 4),
        "query_ms_median": round(float(np.median(ours)), 3),
        "query_ms_max": round(float(np.max(ours)), 3),
        "query_speedup": round(float(np.median(raw) / np.median(ours)), 1),
        "query_speedup_windowed": round(float(np.median(masked) / np.median(ours)), 1),
    }
    levels = ", ".join(
        f"{level.bin_s * 1e3:g} ms x {level.n_bins:,} ({level.dtype})" for level in summary.levels
    )
    print(f"{n_units:,} units, {len(times):,} spikes over {DURATION_S:g} s")
    print(f"  levels: {levels}")
    print(
        f"  build {result['build_s']:.2f} s; store {summary.stored_bytes / 1e6:.1f} MB = "
        f"{result['store_ratio']:.3f} x the float64 spike times ({len(times) * 8 / 1e6:.0f} MB)"
    )
    print(
        f"  query ({WIDTH_PX} px, {N_VIEWPORTS} viewports {DURATION_S:g} s .. 1 s): median "
        f"{result['query_ms_median']:.2f} ms, max {result['query_ms_max']:.2f} ms"
    )
    print(
        f"  raw histogram2d per request: median {np.median(raw):.1f} ms -> speedup "
        f"{result['query_speedup']}x; "
        f"masked to the viewport first: median {np.median(masked):.1f} ms -> "
        f"{result['query_speedup_windowed']}x"
    )
    return result


def main() -> None:
    large = run_case(1000, 10_000_000, seed=1)
    small = run_case(100, 1_000_000, seed=2)
    print(json.dumps({**large, "small": small}))


if __name__ == "__main__":
    main()
