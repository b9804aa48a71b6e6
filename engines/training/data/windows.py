"""Training windows: normalised sessions cut into splits, batches that are a pure function of (seed, step,
rank).

Because a batch depends only on the step number (not on what was drawn before), the data
position of a checkpoint is its step, and a resumed run sees exactly the batches it would
have seen. Everything here is numpy; the trainer turns batches into tensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engines.training.config import MODALITIES, DataConfig
from engines.training.data.session import SPLITS, Session, split_segments
from engines.training.errors import DataError

__all__ = ["SessionSpec", "DataSpec", "Batch", "WindowDataset"]


@dataclass
class SessionSpec:
    """What the model needs to know about one session: its input and output widths."""

    session_id: str
    inputs: dict[str, int]
    outputs: dict[str, int]
    behaviour_dims: int
    species: str
    bin_s: float


@dataclass
class DataSpec:
    sessions: list[SessionSpec]
    modalities: list[str]
    n_stimuli: int
    species: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataSpec:
        return cls(
            sessions=[SessionSpec(**s) for s in raw["sessions"]],
            modalities=list(raw["modalities"]),
            n_stimuli=int(raw["n_stimuli"]),
            species=list(raw["species"]),
        )


@dataclass
class Batch:
    """Windows of one session. ``inputs[m]`` (b, L, F_in) with masked bins zeroed; ``targets[m]`` (b, L,
    F_out)
    (spikes: all units, held-out ones included); ``masks[m]`` (b, L) True where the input was hidden."""

    session: int
    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    behaviour: np.ndarray | None
    stimulus: np.ndarray | None
    species: int
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_tokens(self) -> int:
        first = next(iter(self.inputs.values()))
        return int(first.shape[0] * first.shape[1] * len(self.inputs))


@dataclass
class _Prepared:
    session: Session
    segments: dict[str, list[tuple[int, int]]]
    arrays: dict[str, np.ndarray]
    heldin: np.ndarray | None
    behaviour: np.ndarray | None
    forward: np.ndarray | None = None
    """(n_bins,) True on the forward-prediction bins of trial-based sessions (hidden in half the windows)."""


def trial_segments(session: Session) -> dict[str, list[tuple[int, int]]] | None:
    """One [start, stop) segment per trial in its own split, for sessions made of trials (their metadata
    has ``trial_bins`` and ``trial_split``, as NLB data sets do); None for continuous recordings."""
    bins, labels = session.metadata.get("trial_bins"), session.metadata.get("trial_split")
    if not bins or not labels:
        return None
    segments: dict[str, list[tuple[int, int]]] = {name: [] for name in SPLITS}
    for k, label in enumerate(labels):
        if label not in segments:
            raise DataError(
                f"Session {session.session_id!r}: trial {k} is in split {label!r}, not one of {SPLITS}."
            )
        segments[label].append((k * int(bins), (k + 1) * int(bins)))
    return segments


def _forward_bins(session: Session) -> np.ndarray | None:
    n_forward, bins = int(session.metadata.get("n_forward", 0) or 0), session.metadata.get("trial_bins")
    if not n_forward or not bins:
        return None
    return (np.arange(session.n_bins) % int(bins)) >= int(bins) - n_forward


def _zscore(array: np.ndarray, train: list[tuple[int, int]]) -> np.ndarray:
    rows = np.concatenate([array[a:b] for a, b in train])
    return ((array - rows.mean(axis=0)) / (rows.std(axis=0) + 1e-6)).astype(np.float32)


class WindowDataset:
    """Sessions prepared for training: modality selection, normalisation (train split stats), held-out
    units."""

    def __init__(self, sessions: list[Session], config: DataConfig, seed: int = 0) -> None:
        if not sessions:
            raise DataError("No sessions to train on. Add at least one data source.")
        self.config, self.seed = config, seed
        wanted = list(config.modalities or MODALITIES)
        present: list[str] = [
            m for m in MODALITIES if m in wanted and any(m in s.modalities for s in sessions)
        ]
        missing = [m for m in (config.modalities or []) if m not in present]
        if missing or not present:
            have = sorted({m for s in sessions for m in s.modalities})
            raise DataError(
                f"No session has {', '.join(missing) or 'any of ' + ', '.join(wanted)} data (the data has "
                f"{', '.join(have) or 'nothing'}). Choose modalities among those, or add sources."
            )
        self.modalities = present
        self.items = [self._prepare(i, s) for i, s in enumerate(sessions)]
        self.species = sorted({s.species for s in sessions})
        self.spec = DataSpec(
            sessions=[self._spec(p) for p in self.items],
            modalities=present,
            n_stimuli=max(
                [int(s.stimulus.max()) + 1 for s in sessions if s.stimulus is not None and len(s.stimulus)]
                + [0]
            ),
            species=self.species,
        )

    def _prepare(self, index: int, session: Session) -> _Prepared:
        session.validate()
        chosen = [m for m in self.modalities if m in session.modalities]
        if not chosen:
            raise DataError(
                f"Session {session.session_id!r} has none of the chosen modalities "
                f"({', '.join(self.modalities)}); it has {', '.join(session.modalities)}."
            )
        segments = trial_segments(session) or split_segments(session.n_bins, self.config.split_blocks)
        if min(b - a for a, b in segments["train"]) < self.config.seq_len:
            raise DataError(
                f"Session {session.session_id!r} has {session.n_bins} bins, too few for training windows "
                f"of {self.config.seq_len} bins. Lower seq_len or split_blocks, or use a smaller bin."
            )
        arrays = {
            m: (
                session.modalities[m].astype(np.float32)
                if m == "spikes"
                else _zscore(session.modalities[m], segments["train"])
            )
            for m in chosen
        }
        heldin = None
        if "spikes" in arrays and "heldout_units" in session.metadata:  # a benchmark's own held-out neurons
            heldin = np.setdiff1d(np.arange(arrays["spikes"].shape[1]), session.metadata["heldout_units"])
        elif "spikes" in arrays and self.config.heldout_fraction > 0 and arrays["spikes"].shape[1] >= 2:
            n = arrays["spikes"].shape[1]
            n_out = min(n - 1, max(1, int(round(self.config.heldout_fraction * n))))
            order = np.random.default_rng([self.seed, index, 7]).permutation(n)
            heldin = np.sort(order[n_out:])
        behaviour = _zscore(session.behaviour, segments["train"]) if session.behaviour is not None else None
        return _Prepared(session, segments, arrays, heldin, behaviour, _forward_bins(session))

    def _spec(self, item: _Prepared) -> SessionSpec:
        inputs = {
            m: (len(item.heldin) if m == "spikes" and item.heldin is not None else a.shape[1])
            for m, a in item.arrays.items()
        }
        return SessionSpec(
            session_id=item.session.session_id,
            inputs=inputs,
            outputs={m: a.shape[1] for m, a in item.arrays.items()},
            behaviour_dims=0 if item.behaviour is None else item.behaviour.shape[1],
            species=item.session.species,
            bin_s=item.session.bin_s,
        )

    def heldout_units(self, session: int) -> np.ndarray:
        """Spike units never shown to the model as input (their rates are predicted: co-smoothing)."""
        item = self.items[session]
        if item.heldin is None:
            return np.zeros(0, dtype=np.int64)
        return np.setdiff1d(np.arange(item.arrays["spikes"].shape[1]), item.heldin)

    def window(
        self,
        session: int,
        starts: np.ndarray,
        length: int,
        rng: np.random.Generator | None = None,
        modalities: list[str] | None = None,
    ) -> Batch:
        """Windows [start, start + length) of one session; masking and modality dropout when ``rng`` is
        given."""
        item = self.items[session]
        index = starts[:, None] + np.arange(length)[None, :]
        names = [m for m in (modalities or list(item.arrays)) if m in item.arrays]
        forward = (
            item.forward[index] & (rng.random(len(starts)) < 0.5)[:, None]
            if rng is not None and item.forward is not None
            else np.zeros(index.shape, bool)
        )
        # windows left whole train the behaviour read-out on inputs as evaluation gives them
        masked_windows = (
            rng.random(len(starts)) >= self.config.clean_windows
            if rng is not None
            else np.zeros(len(starts), bool)
        )
        inputs, targets, masks = {}, {}, {}
        for m in names:
            full = item.arrays[m][index]
            targets[m] = full
            shown = full[..., item.heldin] if m == "spikes" and item.heldin is not None else full
            mask = forward | (
                (rng.random(index.shape) < self.config.mask_ratio) & masked_windows[:, None]
                if rng is not None
                else np.zeros(index.shape, bool)
            )
            inputs[m] = np.where(mask[..., None], 0.0, shown).astype(np.float32)
            masks[m] = mask
        stimulus = item.session.stimulus[index] if item.session.stimulus is not None else None
        return Batch(
            session=session,
            inputs=inputs,
            targets=targets,
            masks=masks,
            behaviour=item.behaviour[index] if item.behaviour is not None else None,
            stimulus=stimulus,
            species=self.species.index(item.session.species),
            starts=starts,
        )

    def train_batch(self, step: int, rank: int = 0) -> Batch:
        """The batch of ``step`` on ``rank``: a pure function of (seed, step, rank).

        The session and the modality subset depend on (seed, step) only, so every torchrun rank
        trains the same parameters at a step (DistributedDataParallel needs that); the windows
        and masks also depend on the rank, so ranks see different data.
        """
        shared = np.random.default_rng([self.seed, step, 11])
        own = np.random.default_rng([self.seed, step, rank, 13])
        weights = np.array([sum(b - a for a, b in it.segments["train"]) for it in self.items], dtype=float)
        session = int(shared.choice(len(self.items), p=weights / weights.sum()))
        modalities = self._modality_subset(session, shared)
        length = self.config.seq_len
        segments = [(a, b) for a, b in self.items[session].segments["train"] if b - a >= length]
        sizes = np.array([b - a - length + 1 for a, b in segments], dtype=float)
        picks = own.choice(len(segments), size=self.config.batch_size, p=sizes / sizes.sum())
        starts = np.array([segments[k][0] + own.integers(0, sizes[k]) for k in picks], dtype=np.int64)
        return self.window(session, starts, length, own, modalities)

    def _modality_subset(self, session: int, rng: np.random.Generator) -> list[str]:
        """All modalities, or with probability ``modality_dropout`` one alone, and with the same probability a
        random subset (each kept with probability 1/2): the model learns to work from any of them."""
        names = list(self.items[session].arrays)
        draw, p = rng.random(), self.config.modality_dropout
        if len(names) < 2 or draw >= 2 * p:
            return names
        if draw < p:
            return [names[int(rng.integers(len(names)))]]
        keep = [m for m in names if rng.random() < 0.5]
        return keep or [names[int(rng.integers(len(names)))]]

    def eval_batches(self, split: str, max_windows: int) -> list[Batch]:
        """Non-overlapping windows tiling each session's ``split`` segments, at most ``max_windows`` in all.

        Their reconstruction masks are fixed (seeded by position), so validation losses compare across steps.
        """
        batches = []
        length = self.config.seq_len
        for session, item in enumerate(self.items):
            starts = [
                s
                for a, b in item.segments[split]
                if b - a >= length
                for s in range(a, b - length + 1, length)
            ]
            starts = starts[: max(1, max_windows // len(self.items))]
            for k in range(0, len(starts), self.config.batch_size):
                chunk = np.array(starts[k : k + self.config.batch_size], dtype=np.int64)
                batches.append(
                    self.window(session, chunk, length, np.random.default_rng([self.seed, session, k, 5]))
                )
        if not batches:
            raise DataError(
                f"The {split} split has no window of {length} bins. Lower seq_len or use longer sessions."
            )
        return batches

    def segment_batch(self, session: int, split: str, modalities: list[str] | None = None) -> list[Batch]:
        """Each whole ``split`` segment of a session as one unmasked window (for evaluation)."""
        item = self.items[session]
        return [
            self.window(session, np.array([a]), b - a, None, modalities)
            for a, b in item.segments[split]
            if b - a >= 4
        ]
