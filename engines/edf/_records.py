"""Plan which data records a window needs, fetch just their bytes, and decode the chosen signals.

A record holds every signal's samples for ``record_duration`` seconds. A window needs the
records that overlap it; of each, the bytes from the first to the last chosen signal (whole
records when that is most of them). Windows longer than the byte budget read evenly spaced
runs of records instead (flagged ``sampled``), like NWB trace windows.
"""

from __future__ import annotations

import math

import numpy as np

from engines._spread import spread_runs
from engines.edf._header import EdfChannel, EdfHeader

__all__ = ["record_runs", "record_spans", "decode_signal"]

_MIN_RUN_BYTES = 128 * 1024
"""Sampled runs are at least this big: a remote read costs a ~100 KB request whatever its size ..."""
_MIN_RUNS = 8
"""... unless the budget then allows fewer runs than this: a window is better covered thinly than in one
place."""


def record_runs(
    first: int, stop: int, row_bytes: int, max_points: int, max_bytes: int
) -> tuple[list[tuple[int, int]], bool]:
    """Runs of records [a, b) to read for records [first, stop): all of them, or evenly spaced runs within
    budget."""
    n = stop - first
    if n <= 0:
        return [], False
    if n * row_bytes <= max_bytes:
        return [(first, stop)], False
    budget = max(max_bytes // max(row_bytes, 1), 1)
    n_bins = max(1, max_points // 2)
    at_least = min(
        math.ceil(_MIN_RUN_BYTES / max(row_bytes, 1)), budget // _MIN_RUNS
    )  # runs of 128 KB, but 8 of them
    per_run = min(max(budget // n_bins, at_least, 1), budget)
    n_runs = max(1, min(n_bins, budget // per_run))
    return spread_runs(first, stop, per_run, n_runs), True


def record_spans(
    header: EdfHeader, runs: list[tuple[int, int]], chosen: list[EdfChannel]
) -> tuple[list[tuple[int, int]], int, int]:
    """Byte spans to read for the runs, the offset of the first chosen byte in a record, and the bytes per
    record read.

    One span per run when the chosen signals cover at least half a record (whole records);
    otherwise one span per record, from the first to the last chosen signal.
    """
    sb = header.sample_bytes
    low = min(c.offset for c in chosen)
    high = max(c.offset + c.samples_per_record * sb for c in chosen)
    rb = header.record_bytes
    if high - low >= rb / 2:
        return [(header.header_bytes + a * rb, header.header_bytes + b * rb) for a, b in runs], 0, rb
    spans = [
        (header.header_bytes + r * rb + low, header.header_bytes + r * rb + high)
        for a, b in runs
        for r in range(a, b)
    ]
    return spans, low, high - low


def decode_signal(rows: np.ndarray, channel: EdfChannel, base: int, sample_bytes: int) -> np.ndarray:
    """One signal's digital samples (int32, record after record) from ``rows`` (records × bytes read per
    record)."""
    start = channel.offset - base
    raw = np.ascontiguousarray(rows[:, start : start + channel.samples_per_record * sample_bytes]).reshape(-1)
    if sample_bytes == 2:
        return raw.view("<i2").astype(np.int32)
    padded = np.zeros((raw.size // 3, 4), dtype=np.uint8)  # int24: shift into the top bytes of an int32
    padded[:, 1:] = raw.reshape(-1, 3)
    return padded.view("<i4").reshape(-1) >> 8
