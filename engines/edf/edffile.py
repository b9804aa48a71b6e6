"""Open EDF/EDF+/BDF/BDF+ recordings from a path or URL and read time windows of their signals.

``open_edf`` costs one request for a remote file (the probe brings the header) or one read of
the header for a local one; no data is read. ``EdfFile.read_window`` reads the data records
that overlap the window (concurrent range requests remotely), decodes the chosen signals with
numpy and returns the ``TraceWindow`` the NWB traces view draws. pyedflib and MNE need a file
name, so they would download a remote file whole; the header is simple enough to parse here.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from engines.edf._header import FIXED_BYTES, EdfChannel, EdfHeader, parse_fixed, parse_header
from engines.edf._records import decode_signal, record_runs, record_spans
from engines.edf._tal import Annotation, parse_record_tals
from engines.edf.byte_source import ByteSource, open_bytes
from engines.edf.errors import EdfOpenError, EdfRequestError
from engines.io.errors import SourceError
from engines.io.policy import SourcePolicy
from engines.nwb.extract.decimate import min_max_envelope
from engines.nwb.extract.timeseries import DEFAULT_WINDOW_S, TraceWindow

__all__ = ["EdfFile", "open_edf"]


class EdfFile:
    """One open EDF/BDF file: its header now, its records on demand. Reads are thread-safe."""

    def __init__(self, source: ByteSource, header: EdfHeader) -> None:
        self.source = source
        self.label = source.label
        self.header = header
        self.signals: list[EdfChannel] = [c for c in header.channels if not c.is_annotation]
        """The data channels; channel numbers in windows index this list (annotation signals left out)."""
        self._annotation_signals = [c for c in header.channels if c.is_annotation]
        self._onsets: np.ndarray | None = None
        self._annotations: list[Annotation] | None = None
        self._lock = threading.Lock()

    @property
    def stats(self):
        """Requests and bytes this file has cost so far (``RequestStats``)."""
        return self.source.stats

    @property
    def has_annotations(self) -> bool:
        return bool(self._annotation_signals)

    def record_onsets(self) -> np.ndarray:
        """Start time (s) of every data record: evenly spaced, except in EDF+D/BDF+D files, where the
        annotation signal says (the first call reads it: see ``annotations`` for the cost)."""
        with self._lock:
            if self._onsets is None:
                if self.header.discontinuous and self._annotation_signals:
                    return self._read_annotations()
                self._onsets = np.arange(self.header.n_records) * self.header.record_duration
            return self._onsets

    def time_range(self) -> tuple[float, float]:
        """Start of the first record and end of the last (s from the recording's start)."""
        onsets = self.record_onsets()
        if not len(onsets):
            return 0.0, 0.0
        return float(onsets[0]), float(onsets[-1] + self.header.record_duration)

    def annotations(self) -> list[Annotation]:
        """The EDF+/BDF+ annotations (onset, duration, text) in time order; empty for plain EDF/BDF.

        Costs one read of the annotation signal of every data record, once: locally about one
        ``pread`` per record; remotely concurrent range requests (records close together share
        one), so about the whole file for small records. Later calls cost nothing.
        """
        with self._lock:
            if self._annotations is None:
                self._read_annotations()
            return list(self._annotations or [])

    def _read_annotations(self) -> np.ndarray:
        """Read every annotation signal; keeps the annotations and record onsets, returns the onsets."""
        header, n = self.header, self.header.n_records
        found: list[Annotation] = []
        onsets = np.arange(n) * header.record_duration
        for signal in self._annotation_signals:
            size = signal.samples_per_record * header.sample_bytes
            spans = [
                (
                    header.header_bytes + r * header.record_bytes + signal.offset,
                    header.header_bytes + r * header.record_bytes + signal.offset + size,
                )
                for r in range(n)
            ]
            for record, data in enumerate(self.source.read_spans(spans)):
                try:
                    start, annotations = parse_record_tals(data)
                except ValueError as exc:
                    raise SourceError(
                        f"The annotations of data record {record} of {self.label} are damaged "
                        f"({exc}). The signals can still be read."
                    ) from exc
                if start is not None and signal is self._annotation_signals[0]:
                    onsets[record] = start
                found.extend(annotations)
        self._annotations = sorted(found, key=lambda a: a.onset)
        self._onsets = onsets
        return onsets

    def _choose(self, channels: Sequence[int] | None, max_channels: int) -> list[int]:
        if not self.signals:
            raise EdfRequestError(f"{self.label} holds annotations only, no signals to draw.")
        if channels is None:
            rate = self.signals[0].sampling_rate
            return [i for i, c in enumerate(self.signals) if c.sampling_rate == rate][:max_channels]
        picked = [int(c) for c in channels][:max_channels]
        if not picked:
            raise EdfRequestError("Choose at least one channel to show.")
        outside = [c for c in picked if not 0 <= c < len(self.signals)]
        if outside:
            raise EdfRequestError(
                f"{self.label} has channels 0–{len(self.signals) - 1}; channel {outside[0]} does not exist."
            )
        rates = {self.signals[c].sampling_rate for c in picked}
        if len(rates) > 1:
            raise EdfRequestError(
                "The chosen channels are sampled at different rates "
                f"({', '.join(f'{r:g}' for r in sorted(rates))} Hz); show channels of one rate at a time."
            )
        return picked

    def read_window(
        self,
        t_start: float | None = None,
        t_stop: float | None = None,
        channels: Sequence[int] | None = None,
        max_points: int = 2000,
        max_channels: int = 64,
        max_bytes: int = 64 * 2**20,
    ) -> TraceWindow:
        """Samples of ``channels`` (indexes into ``signals``; default: the first ``max_channels`` of the
        first signal's rate) with ``t_start <= t < t_stop``, in physical units, min/max decimated to
        ``max_points``. Without bounds: the first 10 s.

        Reads the records overlapping the window, only the bytes from the first to the last chosen
        signal of each (at most ``max_bytes``; longer windows read evenly spaced runs of records:
        ``sampled``); ``bytes_read`` reports them. Remotely: about one round trip.
        """
        if max_points < 2:
            raise EdfRequestError("max_points must be at least 2 (one minimum and one maximum).")
        picked = self._choose(channels, max_channels)
        chosen = [self.signals[c] for c in picked]
        rate, per_record = chosen[0].sampling_rate, chosen[0].samples_per_record
        onsets = self.record_onsets()
        first = float(onsets[0]) if len(onsets) else 0.0
        last = float(onsets[-1]) + (per_record - 1) / rate if len(onsets) and rate > 0 else first
        t_start = first if t_start is None else float(t_start)
        t_stop = t_start + DEFAULT_WINDOW_S if t_stop is None else float(t_stop)
        if not (math.isfinite(t_start) and math.isfinite(t_stop)) or t_stop < t_start:
            raise EdfRequestError(
                f"The window {t_start}–{t_stop} s is not valid: t_stop must be after t_start."
            )
        duration = self.header.record_duration
        r0 = max(int(np.searchsorted(onsets + duration, t_start, "right")), 0)
        r1 = int(np.searchsorted(onsets, t_stop, "left")) if t_stop <= last else len(onsets)
        _, _, row_bytes = record_spans(self.header, [(0, 1)], chosen) if r1 > r0 else ([], 0, 1)
        runs, sampled = record_runs(r0, r1, row_bytes, max_points, max_bytes)
        t, raw = self._decode(runs, chosen, onsets)
        keep = (t >= t_start) & ((t < t_stop) | (t_stop > last))
        t, raw = t[keep], raw[keep]
        decimated = len(t) > max_points
        if decimated:
            t, raw = min_max_envelope(t, raw, max_points // 2)
        gain = np.array([c.gain for c in chosen])
        offset = np.array([c.physical_offset for c in chosen])
        units = list(dict.fromkeys(c.unit for c in chosen))
        return TraceWindow(
            t=t,
            values=raw.astype(np.float64) * gain + offset,
            channels=picked,
            channel_labels=[c.label for c in chosen],
            unit=", ".join(units),
            t_start=max(t_start, first),
            t_stop=min(t_stop, last),
            series_start=first,
            series_stop=last,
            decimated=decimated,
            sampled=sampled,
            bytes_read=sum(b - a for a, b in runs) * row_bytes,
        )

    def _decode(
        self, runs: list[tuple[int, int]], chosen: list[EdfChannel], onsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Times and digital samples (samples × channels) of the chosen signals in the runs of records."""
        per_record, rate = chosen[0].samples_per_record, chosen[0].sampling_rate
        if not runs:
            return np.empty(0), np.empty((0, len(chosen)), dtype=np.int32)
        spans, base, row_bytes = record_spans(self.header, runs, chosen)
        data = self.source.read_spans(spans)
        blob = b"".join(data)
        n_records = sum(b - a for a, b in runs)
        if len(blob) != n_records * row_bytes:
            raise SourceError(
                f"{self.label} ended early while reading records {runs[0][0]}–{runs[-1][1] - 1}; "
                "the file may have been cut short or replaced. Open it again."
            )
        rows = np.frombuffer(blob, dtype=np.uint8).reshape(n_records, row_bytes)
        values = np.stack([decode_signal(rows, c, base, self.header.sample_bytes) for c in chosen], axis=1)
        records = np.concatenate([np.arange(a, b) for a, b in runs])
        t = (onsets[records][:, None] + np.arange(per_record)[None, :] / rate).reshape(-1)
        return t, values

    def close(self) -> None:
        self.source.close()


def _header_bytes(source: ByteSource) -> bytes:
    fixed = source.read_spans([(0, FIXED_BYTES)])[0]
    _, n_signals = parse_fixed(fixed, source.label)
    return source.read_spans([(0, FIXED_BYTES * (n_signals + 1))])[0]


def open_edf(text: str, policy: SourcePolicy) -> EdfFile:
    """Open a local path (under the allowed roots) or an http(s)/s3/gs/dandi URL of an EDF/BDF file.

    Reads the header only (remote: the probe request). Raises ``EdfOpenError`` for other files, a damaged
    header or data records that stop short of what the header announces, and the NWB engine's typed source
    errors for refused or unreachable sources."""
    source = open_bytes(text, policy)
    try:
        header = parse_header(_header_bytes(source), source.label, source.size)
        if header.record_bytes == 0:
            raise EdfOpenError(f"{source.label} declares signals without samples; the header is damaged.")
        expected = header.header_bytes + header.data_bytes
        if source.size < expected:
            held = max(source.size - header.header_bytes, 0) // header.record_bytes
            raise EdfOpenError(
                f"{source.label} holds {held:,} of the {header.n_records:,} data records its header "
                f"announces ({source.size:,} of {expected:,} bytes): it was cut short, e.g. by an "
                "incomplete download. Download or copy it again."
            )
    except Exception:
        source.close()
        raise
    return EdfFile(source, header)
