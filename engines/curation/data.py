"""The arrays curation reads from an analyzer, pulled out once and shared by judges and images.

Reading spike trains, amplitudes and templates through the analyzer for every group would
repeat the same work hundreds of times; ``AnalyzerData`` reads each array once (spike vector,
spike amplitudes, templates, the one correlogram computation, similarity, locations) and
then hands out per-unit slices. It holds plain NumPy arrays and is read-only after
construction, so threads (image rendering, judges) can share it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.curation.errors import CurationError, MissingExtensions

__all__ = ["AnalyzerData", "UnitId", "plain_unit_id"]

UnitId = int | str


def plain_unit_id(unit_id: Any) -> UnitId:
    """A NumPy integer or string unit id as the Python int or str JSON and SQLite keep."""
    if isinstance(unit_id, (np.integer, int)) and not isinstance(unit_id, bool):
        return int(unit_id)
    return str(unit_id)


def mapping_of(array: Any) -> np.memmap | None:
    """The file mapping an array is a view of (``open_analyzer`` maps the correlograms), if any."""
    while array is not None and not isinstance(array, np.memmap):
        array = getattr(array, "base", None)
    return array


@dataclass(frozen=True)
class _Correlograms:
    counts: np.ndarray  # (units, units, bins)
    bins_ms: np.ndarray  # bin edges, len bins + 1

    def group(self, idx: np.ndarray) -> np.ndarray:
        """The (n, n, bins) counts of units ``idx``. A mapped file is read row by row (``os.pread``): the
        mapping's pages would stay in the process's resident memory as groups are viewed, up to the whole
        file (0.5 GB at 800 units), where reads leave nothing behind."""
        mapped = mapping_of(self.counts)
        if mapped is None or not mapped.filename or mapped.shape != self.counts.shape:
            return self.counts[np.ix_(idx, idx)]
        n, bins = self.counts.shape[0], self.counts.shape[2]
        row = bins * mapped.dtype.itemsize
        out = np.empty((len(idx), len(idx), bins), mapped.dtype)
        with open(mapped.filename, "rb") as file:
            for a, i in enumerate(idx):
                for b, j in enumerate(idx):
                    data = os.pread(file.fileno(), row, mapped.offset + (int(i) * n + int(j)) * row)
                    out[a, b] = np.frombuffer(data, mapped.dtype)
        return out


class AnalyzerData:
    """Read-only per-unit views of one analyzer (see module docstring).

    Costs one pass over the spike vector (sorting spikes by unit) and a copy of the amplitude,
    template and correlogram arrays: for 100 units and 1 M spikes, about 30 MB and a second. Correlograms
    mapped from a file (``open_analyzer``) are not copied: a group's counts are read when asked for.
    Extensions that are absent are simply unavailable (``None`` or ``MissingExtensions`` on use).
    """

    def __init__(self, analyzer: Any) -> None:
        sorting = analyzer.sorting
        self.unit_ids: tuple[UnitId, ...] = tuple(plain_unit_id(u) for u in analyzer.unit_ids)
        self._index = {u: i for i, u in enumerate(self.unit_ids)}
        self.sampling_frequency = float(analyzer.sampling_frequency)
        segment_samples = [analyzer.get_num_samples(s) for s in range(analyzer.get_num_segments())]
        offsets = np.concatenate([[0], np.cumsum(segment_samples)[:-1]]).astype(np.int64)
        self.total_samples = int(np.sum(segment_samples))
        spikes = sorting.to_spike_vector()
        samples = spikes["sample_index"].astype(np.int64) + offsets[spikes["segment_index"]]
        order = np.lexsort((samples, spikes["unit_index"]))
        self._samples = samples[order]
        bounds = np.searchsorted(spikes["unit_index"][order], np.arange(len(self.unit_ids) + 1))
        self._bounds = bounds
        amplitudes = analyzer.extensions.get("spike_amplitudes")
        self._amplitudes = (
            None if amplitudes is None else np.asarray(amplitudes.get_data(), np.float32)[order]
        )
        self._templates = self._read_templates(analyzer)
        self._template_errors = self._read_template_errors(analyzer, spikes["unit_index"])
        self.channel_locations = np.asarray(analyzer.get_channel_locations(), dtype=np.float64)[:, :2]
        self.main_channels = np.asarray(
            analyzer.get_main_channels(outputs="index", with_dict=False), dtype=np.int64
        )
        locations = analyzer.extensions.get("unit_locations")
        self.unit_locations = (
            np.asarray(locations.get_data(), np.float64)[:, :2]
            if locations is not None
            else self.channel_locations[self.main_channels]
        )
        similarity = analyzer.extensions.get("template_similarity")
        self.similarity = None if similarity is None else np.asarray(similarity.get_data(), np.float64)
        self.similarity_method = None if similarity is None else str(similarity.params.get("method"))
        correlograms = analyzer.extensions.get("correlograms")
        self._correlograms = None
        if correlograms is not None:
            counts, bins = correlograms.get_data()
            self._correlograms = _Correlograms(np.asarray(counts), np.asarray(bins, np.float64))
        templates_ext = analyzer.extensions.get("templates")
        self.nbefore = int(templates_ext.nbefore) if templates_ext is not None else 0

    @staticmethod
    def _read_templates(analyzer: Any) -> np.ndarray | None:
        if analyzer.extensions.get("templates") is None:
            return None
        from spikeinterface.core.template_tools import get_dense_templates_array

        return np.asarray(get_dense_templates_array(analyzer, return_in_uV=analyzer.return_in_uV), np.float32)

    @staticmethod
    def _read_template_errors(analyzer: Any, unit_index: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The templates' spike-to-spike spread (``std``, (units, samples, channels): the extension's own
        array, not a copy) and the spikes each template averaged (``random_spikes``); ``None`` without
        either."""
        templates = analyzer.extensions.get("templates")
        chosen = analyzer.extensions.get("random_spikes")
        if templates is None or chosen is None or "std" not in templates.data:
            return None
        std = np.asarray(templates.data["std"])
        if std.shape[0] != len(analyzer.unit_ids) or std.shape[2] != analyzer.get_num_channels():
            return None  # a sparse std array: its channels are not the dense templates' channels
        counts = np.bincount(unit_index[chosen.get_data()], minlength=len(analyzer.unit_ids))
        return std, counts

    # --- units --------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.total_samples / self.sampling_frequency

    def index(self, unit_id: Any) -> int:
        try:
            return self._index[plain_unit_id(unit_id)]
        except KeyError:
            raise CurationError(
                f"unit {unit_id!r} is not in this analyzer (it has {len(self.unit_ids)} units); "
                "refresh the candidate list"
            ) from None

    def indices(self, unit_ids: tuple[Any, ...] | list[Any]) -> np.ndarray:
        return np.array([self.index(u) for u in unit_ids], dtype=np.int64)

    def spike_samples(self, unit_id: Any) -> np.ndarray:
        """Sorted spike sample indices of a unit across segments (segments placed end to end)."""
        i = self.index(unit_id)
        return self._samples[self._bounds[i] : self._bounds[i + 1]]

    def num_spikes(self, unit_id: Any) -> int:
        i = self.index(unit_id)
        return int(self._bounds[i + 1] - self._bounds[i])

    def amplitudes(self, unit_id: Any) -> np.ndarray:
        """Spike amplitudes of a unit (µV when the recording is scaled), in time order."""
        if self._amplitudes is None:
            raise MissingExtensions(
                "spike_amplitudes is not computed; compute the missing extensions first.",
                missing=("spike_amplitudes",),
            )
        i = self.index(unit_id)
        return self._amplitudes[self._bounds[i] : self._bounds[i + 1]]

    @property
    def has_amplitudes(self) -> bool:
        return self._amplitudes is not None

    def template(self, unit_id: Any) -> np.ndarray:
        """Dense average waveform, (samples, channels)."""
        if self._templates is None:
            raise MissingExtensions(
                "templates is not computed; compute the missing extensions first.", missing=("templates",)
            )
        return self._templates[self.index(unit_id)]

    def template_error(self, unit_id: Any) -> np.ndarray | None:
        """Standard error of the unit's average waveform, (samples, channels), in the template's units;
        ``None`` when the templates kept no spread."""
        if self._template_errors is None:
            return None
        std, counts = self._template_errors
        i = self.index(unit_id)
        return np.asarray(std[i], np.float32) / np.float32(np.sqrt(max(int(counts[i]), 1)))

    @property
    def has_templates(self) -> bool:
        return self._templates is not None

    def correlograms(self, unit_ids: tuple[Any, ...] | list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """The group's (n, n, bins) slice of the analyzer's one correlogram computation, and bin edges in
        ms."""
        if self._correlograms is None:
            raise MissingExtensions(
                "correlograms is not computed; compute the missing extensions first.",
                missing=("correlograms",),
            )
        idx = self.indices(unit_ids)
        return self._correlograms.group(idx), self._correlograms.bins_ms

    def pair_similarity(self, a: Any, b: Any) -> float | None:
        if self.similarity is None:
            return None
        return float(self.similarity[self.index(a), self.index(b)])

    def distance_um(self, a: Any, b: Any) -> float:
        return float(np.linalg.norm(self.unit_locations[self.index(a)] - self.unit_locations[self.index(b)]))
