"""Lorenz-attractor latents driving Poisson spikes: the LFADS synthetic set-up, split as NLB splits data.

A standard, published benchmark whose ground truth is known: the true rates are the oracle, so
any model's co-bps can be read against the ceiling. The set-up follows LFADS (Sussillo et al.
2016, Lorenz system with sigma 10, rho 28, beta 8/3; z-scored 3-D state; exponential readout to
Poisson neurons) and the evaluation follows the Neural Latents Benchmark (Pei et al. 2021):
train/val/test trials, held-in neurons given, held-out neurons predicted (co-bps), and the last
bins of each trial predicted for every neuron (forward prediction, fp-bps).

It is generated here because no maintained package generates it: nlb_tools 0.0.4 (the wheel:
``chop``, ``evaluation``, ``make_tensors``, ``nwb_interface``) only loads the NLB DANDI sets and
scores predictions; no PyPI package named for LFADS exists, and the PyPI packages that integrate
the Lorenz system (lorenz, chaos-benchmark, dynamodels) describe trajectories only, with no
Poisson readout, trials or NLB splits, which are most of what is below. The integration itself
is a fixed-step RK4, a few lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.training.config import LorenzSource
from engines.training.data.session import Session
from engines.training.errors import DataError

__all__ = ["LorenzData", "generate_lorenz", "lorenz_session", "lorenz_data", "SPLIT_NAMES"]

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
SPLIT_NAMES = ("train", "val", "test")
_DT = 0.005
"""RK4 step in Lorenz time units; two steps per bin, so a 10 ms bin advances the system 0.01."""
_STEPS_PER_BIN = 2
_BURN_IN_STEPS = 1000
"""Steps from a random start before a trial begins, so every trial starts on the attractor."""


def _lorenz(state: np.ndarray) -> np.ndarray:
    x, y, z = state[..., 0], state[..., 1], state[..., 2]
    return np.stack([SIGMA * (y - x), x * (RHO - z) - y, x * y - BETA * z], axis=-1)


def _rk4(state: np.ndarray) -> np.ndarray:
    k1 = _lorenz(state)
    k2 = _lorenz(state + 0.5 * _DT * k1)
    k3 = _lorenz(state + 0.5 * _DT * k2)
    k4 = _lorenz(state + _DT * k3)
    return state + _DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


@dataclass(frozen=True)
class LorenzData:
    """Trials of one Lorenz session; arrays are (trials, bins, neurons) in counts per bin.

    ``rates`` are the true expected counts (the oracle), ``latents`` the z-scored Lorenz state.
    The last ``n_forward`` bins of each trial are the forward-prediction window; a model may see
    only the held-in neurons' first ``n_observed`` bins of val/test trials.
    """

    spikes: np.ndarray
    rates: np.ndarray
    latents: np.ndarray
    split: np.ndarray
    heldin: np.ndarray
    heldout: np.ndarray
    n_forward: int
    bin_s: float

    @property
    def n_observed(self) -> int:
        """Bins per trial before the forward-prediction window."""
        return int(self.spikes.shape[1]) - self.n_forward

    def trials(self, split: str) -> np.ndarray:
        """Indices of the trials in ``split`` (one of ``SPLIT_NAMES``)."""
        return np.flatnonzero(self.split == split)

    def heldout_observed(self, values: np.ndarray, split: str) -> np.ndarray:
        """``values`` (trials, bins, neurons) cut to what co-bps scores: held-out neurons, observed bins."""
        return values[self.trials(split)][:, : self.n_observed][:, :, self.heldout]

    def forward(self, values: np.ndarray, split: str) -> np.ndarray:
        """``values`` cut to what fp-bps scores: the forward window, held-in then held-out neurons
        (NLB's order)."""
        order = np.concatenate([self.heldin, self.heldout])
        return values[self.trials(split)][:, self.n_observed :][:, :, order]


def generate_lorenz(
    seed: int = 0,
    n_trials: int = 100,
    n_observed: int = 100,
    n_forward: int = 20,
    n_neurons: int = 40,
    n_heldout: int = 10,
    bin_s: float = 0.01,
    base_rate_hz: tuple[float, float] = (5.0, 15.0),
    gain: float = 1.0,
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
) -> LorenzData:
    """A seeded Lorenz data set (defaults: 100 trials of 1.2 s at 10 ms, 40 neurons, 10 held out).

    Each neuron's log rate is ``log(base) + w . z`` with ``base`` drawn from ``base_rate_hz`` and
    ``w`` ~ N(0, gain^2 / 3), so the log rate varies with s.d. about ``gain`` around the base. With
    the defaults (seed 0) the mean rate is 17 spikes/s and single neurons average 7-63 spikes/s
    (cortical rates). Trials, held-out neurons and splits are drawn from ``seed``. Costs
    O(n_trials * (n_observed + n_forward) * n_neurons); the defaults take about 0.1 s.
    """
    if not 0 < n_heldout < n_neurons:
        raise ValueError(f"n_heldout must be between 1 and n_neurons - 1, not {n_heldout}.")
    rng = np.random.default_rng(seed)
    n_bins = n_observed + n_forward
    state = rng.normal(0.0, 1.0, (n_trials, 3)) + np.array([0.0, 0.0, RHO - 1.0])
    for _ in range(_BURN_IN_STEPS + int(rng.integers(0, 500))):
        state = _rk4(state)
    trajectory = np.empty((n_trials, n_bins, 3))
    for t in range(n_bins):
        trajectory[:, t] = state
        for _ in range(_STEPS_PER_BIN):
            state = _rk4(state)
    latents = (trajectory - trajectory.mean(axis=(0, 1))) / trajectory.std(axis=(0, 1))
    weights = rng.normal(0.0, gain / np.sqrt(3.0), (3, n_neurons))
    base = np.log(rng.uniform(*base_rate_hz, n_neurons) * bin_s)
    rates = np.exp(base + latents @ weights)
    spikes = rng.poisson(rates).astype(np.float64)
    counts = np.round(np.asarray(fractions) / np.sum(fractions) * n_trials).astype(int)
    labels = np.repeat(np.array(SPLIT_NAMES), [counts[0], counts[1], n_trials - counts[0] - counts[1]])
    neurons = rng.permutation(n_neurons)
    return LorenzData(
        spikes=spikes,
        rates=rates,
        latents=latents,
        split=rng.permutation(labels),
        heldin=np.sort(neurons[n_heldout:]),
        heldout=np.sort(neurons[:n_heldout]),
        n_forward=n_forward,
        bin_s=bin_s,
    )


def lorenz_session(source: LorenzSource) -> Session:
    """The Lorenz data set of ``source`` as one training session: trials laid end to end on one bin grid.

    The metadata carries what makes the splits NLB's rather than time segments: ``trial_bins``,
    ``trial_split`` (train/val/test per trial), ``n_forward`` (the forward window at each trial's
    end) and ``heldout_units`` (never given to the model as input); ``lorenz`` holds the generation
    parameters, so ``lorenz_data`` rebuilds the very same trials (and their true rates) for scoring.
    """
    if source.n_heldout >= source.n_neurons:
        raise DataError(
            f"The Lorenz source holds out {source.n_heldout} of {source.n_neurons} neurons; hold out "
            "fewer, so that some are given to the model."
        )
    params = source.model_dump(exclude={"kind"})
    data = generate_lorenz(**params)
    n_trials, n_bins, n_neurons = data.spikes.shape
    return Session(
        session_id=f"lorenz-{source.seed}",
        bin_s=data.bin_s,
        modalities={"spikes": data.spikes.reshape(n_trials * n_bins, n_neurons).astype(np.float32)},
        species="simulated",
        metadata={
            "source": "lorenz",
            "lorenz": params,
            "trial_bins": n_bins,
            "trial_split": [str(s) for s in data.split],
            "n_forward": data.n_forward,
            "heldout_units": [int(u) for u in data.heldout],
        },
        latents=data.latents.reshape(n_trials * n_bins, -1).astype(np.float32),
    ).validate()


def lorenz_data(session: Session) -> LorenzData | None:
    """The ``LorenzData`` a Lorenz session was made from (regenerated from its parameters), else None."""
    params = session.metadata.get("lorenz")
    return generate_lorenz(**params) if session.metadata.get("source") == "lorenz" and params else None
