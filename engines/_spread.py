"""Evenly spaced runs of rows across a window: how a window larger than its byte budget is sampled.

Shared by NWB trace windows and EDF record windows, so both cover a long window the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["spread_runs"]


def spread_runs(first: int, stop: int, per_run: int, n_runs: int, align: int = 1) -> list[tuple[int, int]]:
    """``n_runs`` runs [a, b) of ``per_run`` rows spread from ``first`` to ``stop``, the first at the start
    and the last at the end, starts rounded down to multiples of ``align`` (not before ``first``), never
    overlapping."""
    starts = first + (np.arange(n_runs, dtype=np.int64) * (stop - first - per_run)) // max(n_runs - 1, 1)
    if align > 1:
        starts = np.maximum(starts // align * align, first)
    runs: list[tuple[int, int]] = []
    for start in starts.tolist():
        start = max(start, runs[-1][1]) if runs else start
        end = min(start + per_run, stop)
        if end > start:
            runs.append((start, end))
    return runs
