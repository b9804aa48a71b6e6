"""Each group's images as PNG files, drawn once and cached on disk.

The cache key is the analyzer's content fingerprint (spikes, units, extension parameters),
the group's units in order, the feature and the image parameters, plus a drawing version:
a new candidate list, a recomputed extension or an edited group never reuses a stale
picture (the reference workflow keyed images by group number only). Correlogram grids are
slices of the analyzer's one ``correlograms`` computation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines._filesystem import atomic_write
from engines.curation import _drawing
from engines.curation.data import AnalyzerData, UnitId
from engines.curation.errors import CurationError, MissingExtensions

__all__ = ["FEATURES", "ImageParams", "GroupImages", "DRAWING_VERSION"]

FEATURES: tuple[str, ...] = ("crosscorrelograms", "amplitude_plot", "templates")
"""``crosscorrelograms`` and ``amplitude_plot`` as in the SpikeAgent tutorial; ``templates`` optional."""

DRAWING_VERSION = "1"
"""Bump when a drawing changes, so cached files are redrawn."""


@dataclass(frozen=True)
class ImageParams:
    dpi: int = 100
    refractory_ms: float = 1.5
    max_points: int = 4000
    """Amplitude dots drawn per unit (a random subset beyond this; the histogram uses every spike)."""
    template_channels: int = 6

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class GroupImages:
    """Draws and caches a group's images under ``cache_dir``; safe to call from several threads.

    A drawing costs about 0.05-0.15 s per image for a pair; a cached image costs a stat.
    """

    def __init__(
        self, data: AnalyzerData, cache_dir: Path, fingerprint: str, params: ImageParams = ImageParams()
    ):
        self.data = data
        self.params = params
        self.fingerprint = fingerprint
        self.cache_dir = Path(cache_dir) / fingerprint[:16]

    def path_for(self, unit_ids: tuple[UnitId, ...], feature: str) -> Path:
        digest = hashlib.blake2b(digest_size=12)
        for part in (
            self.fingerprint,
            json.dumps([str(u) for u in unit_ids]),
            feature,
            self.params.key(),
            DRAWING_VERSION,
        ):
            digest.update(part.encode())
            digest.update(b"\0")
        return self.cache_dir / f"{feature}-{digest.hexdigest()}.png"

    def image(self, unit_ids: tuple[UnitId, ...], feature: str) -> Path:
        """The PNG of one feature for these units, drawn now if not cached. Raises ``CurationError``."""
        if feature not in FEATURES:
            raise CurationError(f"unknown image {feature!r}; choose from {', '.join(FEATURES)}")
        path = self.path_for(unit_ids, feature)
        if path.exists():
            return path
        try:
            png = self._draw(unit_ids, feature)
        except CurationError as exc:
            raise CurationError(
                f"the {feature} image of units {list(unit_ids)} could not be drawn: {exc}"
            ) from exc
        except Exception as exc:  # matplotlib and NumPy failures on odd data end as this group's error
            raise CurationError(
                f"the {feature} image of units {list(unit_ids)} could not be drawn "
                f"({type(exc).__name__}: {exc}); the other groups are not affected"
            ) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, png)

    def images(
        self, unit_ids: tuple[UnitId, ...], features: tuple[str, ...] = FEATURES[:2]
    ) -> dict[str, Path]:
        return {feature: self.image(unit_ids, feature) for feature in features}

    def _draw(self, unit_ids: tuple[UnitId, ...], feature: str) -> bytes:
        if feature == "crosscorrelograms":
            counts, bins = self.data.correlograms(unit_ids)
            return _drawing.draw_correlogram_grid(
                counts, bins, unit_ids, self.params.refractory_ms, self.params.dpi
            )
        if feature == "amplitude_plot":
            fs = self.data.sampling_frequency
            times = [self.data.spike_samples(u) / fs for u in unit_ids]
            amplitudes = [self.data.amplitudes(u) for u in unit_ids]
            return _drawing.draw_amplitudes(
                times, amplitudes, unit_ids, self.data.duration_s, self.params.dpi, self.params.max_points
            )
        templates, channels = self._group_templates(unit_ids)
        return _drawing.draw_templates(templates, channels, unit_ids, self.params.dpi)

    def _group_templates(self, unit_ids: tuple[UnitId, ...]) -> tuple[list[np.ndarray], list[Any]]:
        if not self.data.has_templates:
            raise MissingExtensions("templates is not computed", missing=("templates",))
        mains = self.data.main_channels[self.data.indices(unit_ids)]
        center = self.data.channel_locations[mains].mean(axis=0)
        order = np.argsort(np.linalg.norm(self.data.channel_locations - center, axis=1))
        channels = np.sort(order[: self.params.template_channels])
        return [self.data.template(u)[:, channels] for u in unit_ids], [int(c) for c in channels]
