"""The bulk of a sorted time column: where its samples really are, and which lie far outside.

Real files carry stray timestamps: a TTL series whose first event is stamped -1.54e9 s (a
clock before synchronisation) while the rest lie between 0 and 2821 s. A window chosen from
the first timestamp shows nothing. Timestamps are sorted, so strays sit at the ends: the
bulk is found from a few elements at fixed ranks (5 %, 50 %, 95 %) and two searches, a few
64 KB block reads whatever the length of the column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engines.nwb.extract._search import SortedColumn

__all__ = ["TimeRange", "bulk_of", "exact_range"]

_TAIL = 0.05
"""Ranks that bound the core of the column (5 % and 95 %)."""
_REACH = 2.0
"""Samples further than this many core spans beyond the core are strays."""
_MIN_SAMPLES = 5
"""Fewer samples than this are taken as they are: too few to tell a stray from a sparse event."""
_EXAMPLES = 3


@dataclass(frozen=True)
class TimeRange:
    """A series' time span: ``start``..``stop`` covers the bulk of its samples (use it for default windows),
    ``first``..``last`` every sample; ``n_before``/``n_after`` samples lie outside the bulk (a few of
    their times in ``before``/``after``), ``n_nan`` samples have no valid time."""

    start: float
    stop: float
    first: float
    last: float
    n_samples: int
    n_before: int = 0
    n_after: int = 0
    n_nan: int = 0
    before: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)

    @property
    def n_outside(self) -> int:
        return self.n_before + self.n_after

    def describe(self) -> str:
        """One sentence for the UI: empty when every sample lies in the bulk."""
        parts = []
        if self.n_before:
            parts.append(f"{self.n_before:,} before (e.g. {', '.join(f'{t:.6g}' for t in self.before)} s)")
        if self.n_after:
            parts.append(f"{self.n_after:,} after (e.g. {', '.join(f'{t:.6g}' for t in self.after)} s)")
        if self.n_nan:
            parts.append(f"{self.n_nan:,} without a valid time (NaN)")
        if not parts:
            return ""
        noun = "timestamp lies" if self.n_outside + self.n_nan == 1 else "timestamps lie"
        return (
            f"{self.n_outside + self.n_nan:,} {noun} outside {self.start:.6g}–{self.stop:.6g} s, "
            "where the other "
            f"{self.n_samples - self.n_outside - self.n_nan:,} are: " + "; ".join(parts) + "."
        )


def exact_range(first: float, last: float, n_samples: int) -> TimeRange:
    """A range without strays (a series with a start time and a rate)."""
    return TimeRange(start=first, stop=last, first=first, last=last, n_samples=n_samples)


def bulk_of(column: SortedColumn) -> TimeRange:
    """The bulk of a sorted column (NaN sorted last). Costs a few block reads (cached for later searches)."""
    begin, end = column.start, column.stop
    n = end - begin
    valid_end = column.searchsorted(math.inf, "right")
    n_valid = valid_end - begin
    if n_valid == 0:
        return TimeRange(math.nan, math.nan, math.nan, math.nan, n, n_nan=n)
    first, last = column.element(begin), column.element(valid_end - 1)
    if n_valid < _MIN_SAMPLES:
        return TimeRange(first, last, first, last, n, n_nan=n - n_valid)
    low_rank = max(int(_TAIL * (n_valid - 1)), 1)
    high_rank = min(math.ceil((1 - _TAIL) * (n_valid - 1)), n_valid - 2)
    low, high = column.element(begin + low_rank), column.element(begin + high_rank)
    reach = _REACH * max(high - low, np.finfo(np.float64).eps * max(abs(low), abs(high), 1.0))
    i0 = column.searchsorted(low - reach, "left", begin, valid_end)
    i1 = column.searchsorted(high + reach, "right", begin, valid_end)
    before = column.values(begin, min(i0, begin + _EXAMPLES)).tolist()
    after = column.values(max(i1, valid_end - _EXAMPLES), valid_end).tolist()
    return TimeRange(
        start=column.element(i0),
        stop=column.element(i1 - 1),
        first=first,
        last=last,
        n_samples=n,
        n_before=i0 - begin,
        n_after=valid_end - i1,
        n_nan=n - n_valid,
        before=before,
        after=after,
    )
