"""The session format: per-modality (time, features) arrays on one bin grid, behaviour, stimulus ids,
metadata.

Stored as one ``.npz`` per session (``modality/<name>``, ``behaviour``, ``stimulus``,
``metadata`` as JSON text), written atomically. ``validate`` is the one place that checks a
session, so every converter and loader refuses the same bad data with the same message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines._filesystem import atomic_writer
from engines.training.config import MODALITIES
from engines.training.errors import DataError

__all__ = ["Session", "save_session", "load_session", "split_segments", "SPLITS"]

SPLITS = ("train", "val", "test")


@dataclass
class Session:
    """One recording on a common bin grid (``bin_s`` seconds per bin).

    ``modalities`` maps a kind (spikes, lfp, calcium, eeg, fmri) to (n_bins, n_features)
    float32; spikes are counts per bin. ``behaviour`` is (n_bins, dims) or None; ``stimulus``
    is (n_bins,) int64 with -1 for "no stimulus", or None. ``metadata`` holds JSON-able facts
    (source, feature and behaviour names, stimulus labels, sampling rates). ``latents`` are
    the true latent states when they are known (synthetic data), for benchmarks.
    """

    session_id: str
    bin_s: float
    modalities: dict[str, np.ndarray]
    behaviour: np.ndarray | None = None
    stimulus: np.ndarray | None = None
    species: str = "unknown"
    metadata: dict[str, Any] = field(default_factory=dict)
    latents: np.ndarray | None = None

    @property
    def n_bins(self) -> int:
        return int(next(iter(self.modalities.values())).shape[0]) if self.modalities else 0

    def n_features(self, modality: str) -> int:
        return int(self.require(modality).shape[1])

    def require(self, modality: str) -> np.ndarray:
        try:
            return self.modalities[modality]
        except KeyError:
            have = ", ".join(self.modalities) or "none"
            raise DataError(
                f"Session {self.session_id!r} has no {modality} data (it has: {have}). "
                "Choose modalities it has, or add a source that records it."
            ) from None

    def validate(self) -> Session:
        """Check shapes, lengths and values; returns self. Raises ``DataError`` naming the first problem."""
        if not self.modalities:
            raise DataError(f"Session {self.session_id!r} has no neural data. Give it at least one modality.")
        if not (np.isfinite(self.bin_s) and self.bin_s > 0):
            raise DataError(
                f"Session {self.session_id!r} has bin size {self.bin_s}; it must be a positive number."
            )
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown:
            raise DataError(
                f"Session {self.session_id!r} has modality {unknown[0]!r}; known: {', '.join(MODALITIES)}."
            )
        lengths = {name: np.shape(a)[0] if np.ndim(a) else 0 for name, a in self.modalities.items()}
        if self.behaviour is not None:
            lengths["behaviour"] = len(self.behaviour)
        if self.stimulus is not None:
            lengths["stimulus"] = len(self.stimulus)
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} {v}" for k, v in lengths.items())
            raise DataError(
                f"Session {self.session_id!r} has arrays of different lengths ({shown} bins). "
                "Every modality, behaviour and stimulus must share one bin grid."
            )
        for name, array in [*self.modalities.items(), ("behaviour", self.behaviour)]:
            if array is None:
                continue
            if np.ndim(array) != 2 or np.shape(array)[1] == 0:
                raise DataError(
                    f"Session {self.session_id!r}: {name} must be (time, features) with at least one "
                    f"feature, not shape {np.shape(array)}."
                )
            bad = ~np.isfinite(np.asarray(array, dtype=np.float64))
            if bad.any():
                t, f = np.argwhere(bad)[0]
                raise DataError(
                    f"Session {self.session_id!r}: {name} has {int(bad.sum())} NaN or infinite values "
                    f"(first at bin {t}, feature {f}). Interpolate or drop them before training."
                )
        spikes = self.modalities.get("spikes")
        if spikes is not None and (np.asarray(spikes) < 0).any():
            raise DataError(f"Session {self.session_id!r}: spike counts must not be negative.")
        if self.n_bins < 20:
            raise DataError(
                f"Session {self.session_id!r} has only {self.n_bins} bins; at least 20 are needed to "
                "split it into train, validation and test. Use a smaller bin size or more data."
            )
        return self


def save_session(session: Session, path: str | Path) -> Path:
    """Validate and write ``session`` to ``path`` (.npz) atomically; returns the path."""
    session.validate()
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        f"modality/{k}": np.asarray(v, dtype=np.float32) for k, v in session.modalities.items()
    }
    if session.behaviour is not None:
        arrays["behaviour"] = np.asarray(session.behaviour, dtype=np.float32)
    if session.stimulus is not None:
        arrays["stimulus"] = np.asarray(session.stimulus, dtype=np.int64)
    if session.latents is not None:
        arrays["latents"] = np.asarray(session.latents, dtype=np.float32)
    header = {
        "session_id": session.session_id,
        "bin_s": session.bin_s,
        "species": session.species,
        "metadata": session.metadata,
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with atomic_writer(path) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy stub reads **kwds as allow_pickle
    return path


def load_session(path: str | Path) -> Session:
    """Read and validate a session file; raises ``DataError`` for a file that is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            modalities = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("modality/")}
            behaviour = data["behaviour"] if "behaviour" in data.files else None
            stimulus = data["stimulus"] if "stimulus" in data.files else None
            latents = data["latents"] if "latents" in data.files else None
    except FileNotFoundError:
        raise DataError(f"No session file at {path}.") from None
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise DataError(f"{path.name} is not a session file ({exc}). Convert the data again.") from None
    return Session(
        session_id=header["session_id"],
        bin_s=float(header["bin_s"]),
        modalities=modalities,
        behaviour=behaviour,
        stimulus=stimulus,
        species=header.get("species", "unknown"),
        metadata=header.get("metadata", {}),
        latents=latents,
    ).validate()


def split_segments(
    n_bins: int, n_blocks: int = 1, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, list[tuple[int, int]]]:
    """Contiguous [start, stop) segments per split: each of ``n_blocks`` equal blocks is cut 80/10/10.

    Windows are drawn inside one segment only, so no bin of one split appears in another.
    """
    if n_blocks < 1 or n_bins < 10 * n_blocks:
        raise DataError(
            f"Cannot cut {n_bins} bins into {n_blocks} blocks of train/val/test; use fewer blocks."
        )
    segments: dict[str, list[tuple[int, int]]] = {name: [] for name in SPLITS}
    edges = np.linspace(0, n_bins, n_blocks + 1).round().astype(int)
    cuts = np.cumsum((0.0,) + fractions)
    for lo, hi in zip(edges[:-1], edges[1:]):
        bounds = (lo + cuts * (hi - lo)).round().astype(int)
        for name, a, b in zip(SPLITS, bounds[:-1], bounds[1:]):
            if b > a:
                segments[name].append((int(a), int(b)))
    return segments
