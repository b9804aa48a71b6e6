"""Sessions generated from known latent dynamics: the ground truth the benchmarks and tests decode against.

A shared low-dimensional latent state (damped rotations driven by a piecewise-constant
stimulus) drives every modality through session-specific readouts: Poisson spikes with an
exponential link, calcium (spikes through an exponential indicator kernel), LFP and EEG
(oscillations whose band power follows the latents), fMRI (HRF-smoothed latents), and a
behaviour that is a linear function of the latents. Decoding behaviour well therefore means
recovering the latents, which takes nonlinear read-outs (band power, rates) of noisy signals.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from engines.training.config import SyntheticSource
from engines.training.data.session import Session

__all__ = ["generate_synthetic_sessions", "latent_dynamics"]

_N_STIMULI = 6


def latent_dynamics(
    n_bins: int, latent_dim: int, rng: np.random.Generator, bin_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """(latents (n_bins, latent_dim), stimulus ids (n_bins,)): rotations at 0.5-2 Hz kicked by stimuli."""
    blocks = []
    for k in range(0, latent_dim, 2):
        freq = 0.5 + 1.5 * k / max(latent_dim - 1, 1)
        theta, decay = 2 * np.pi * freq * bin_s, np.exp(-bin_s / 1.5)
        blocks.append(decay * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]))
    dynamics = np.zeros((latent_dim + latent_dim % 2,) * 2)
    for k, block in enumerate(blocks):
        dynamics[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = block
    dynamics = dynamics[:latent_dim, :latent_dim]
    drive = rng.normal(0, 1.0, (_N_STIMULI, latent_dim))
    lengths = rng.integers(int(0.4 / bin_s) + 1, int(1.5 / bin_s) + 2, size=n_bins)
    stimulus = np.repeat(rng.integers(0, _N_STIMULI, size=n_bins), lengths)[:n_bins]
    noise = rng.normal(0, np.sqrt(bin_s), (n_bins, latent_dim))
    latents = np.zeros((n_bins, latent_dim))
    state = np.zeros(latent_dim)
    gain = 1 - np.exp(-bin_s / 0.3)
    for t in range(n_bins):
        state = dynamics @ state + gain * drive[stimulus[t]] + 0.3 * noise[t]
        latents[t] = state
    latents /= latents.std(axis=0, keepdims=True) + 1e-9
    return latents, stimulus


def _oscillation(n_bins: int, bin_s: float, freq: float, rng: np.random.Generator) -> np.ndarray:
    phase = np.cumsum(2 * np.pi * freq * bin_s * (1 + 0.05 * rng.normal(size=n_bins)))
    return np.sin(phase)


def _modulated_oscillations(
    latents: np.ndarray,
    bin_s: float,
    rng: np.random.Generator,
    n_channels: int,
    bands: tuple[float, ...],
    leak: float,
    noise: float,
) -> np.ndarray:
    """Field potentials: oscillations whose amplitude (band power) follows the latents, as in real LFP/EEG.

    The latents sit in the envelope, not the sign, of the signal, so a linear read-out of the raw
    traces recovers little of them; ``leak`` adds a small slow linear component.
    """
    n_bins, dim = latents.shape
    nyquist = 0.5 / bin_s
    signal = np.zeros((n_bins, n_channels))
    for k, freq in enumerate(bands):
        carrier = _oscillation(n_bins, bin_s, min(freq, 0.8 * nyquist), rng)
        envelope = np.log1p(np.exp(1.5 * latents[:, k % dim]))  # softplus: power rises with the latent
        signal += (envelope * carrier)[:, None] * rng.uniform(0.3, 1.0, n_channels)
    signal += leak * latents @ rng.normal(0, 1, (dim, n_channels))
    return (signal + rng.normal(0, noise, signal.shape)).astype(np.float32)


def _modalities(
    latents: np.ndarray, wanted: list[str], n_units: int, bin_s: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    n_bins, dim = latents.shape
    out: dict[str, np.ndarray] = {}
    if "spikes" in wanted:
        weights = rng.normal(0, 0.5 / np.sqrt(dim), (dim, n_units))
        base = np.log(rng.uniform(1, 10, n_units) * bin_s)  # cortical rates, weak tuning
        out["spikes"] = rng.poisson(np.exp(np.clip(base + latents @ weights, -20, 5))).astype(np.float32)
    if "calcium" in wanted:
        n_cells = max(2, n_units // 2)
        rates = np.exp(np.log(4 * bin_s) + latents @ rng.normal(0, 0.5 / np.sqrt(dim), (dim, n_cells)))
        events = rng.poisson(np.clip(rates, 0, 50)).astype(np.float64)
        kernel_decay = np.exp(-bin_s / 0.4)
        trace = lfilter([1.0], [1.0, -kernel_decay], events, axis=0)
        out["calcium"] = (trace * 0.3 + rng.normal(0, 0.25, trace.shape)).astype(np.float32)
    if "lfp" in wanted:
        out["lfp"] = _modulated_oscillations(
            latents, bin_s, rng, n_channels=8, bands=(4.0, 8.0, 16.0), leak=0.0, noise=0.5
        )
    if "eeg" in wanted:
        out["eeg"] = _modulated_oscillations(
            np.roll(latents, -1, axis=1), bin_s, rng, n_channels=6, bands=(10.0, 20.0), leak=0.0, noise=0.7
        )
    if "fmri" in wanted:
        n_rois = 10
        t = np.arange(0, 20, bin_s)
        hrf = t**5 * np.exp(-t) / 120 - t**15 * np.exp(-t) / (6 * 1.3e12)
        hrf /= np.abs(hrf).sum()
        slow = np.stack([np.convolve(latents[:, k], hrf)[:n_bins] for k in range(dim)], axis=1)
        slow /= slow.std(axis=0, keepdims=True) + 1e-9
        out["fmri"] = (slow @ rng.normal(0, 1, (dim, n_rois)) + rng.normal(0, 0.5, (n_bins, n_rois))).astype(
            np.float32
        )
    return out


def generate_synthetic_sessions(source: SyntheticSource, bin_s: float = 0.02) -> list[Session]:
    """``source.n_sessions`` sessions sharing one latent law; each has its own readouts and species label.

    Costs O(n_bins * (latent_dim + features)) time and float32 memory per session; 4000 bins
    with every modality take a few milliseconds.
    """
    sessions = []
    behaviour_map = np.random.default_rng(source.seed).normal(0, 1, (source.latent_dim, 2))
    for index in range(source.n_sessions):
        rng = np.random.default_rng([source.seed, index])
        latents, stimulus = latent_dynamics(source.n_bins, source.latent_dim, rng, bin_s)
        behaviour = latents @ behaviour_map + rng.normal(0, 0.1, (source.n_bins, 2))
        species = source.species[index % len(source.species)]
        session = Session(
            session_id=f"synthetic-{source.seed}-{index}",
            bin_s=bin_s,
            modalities=_modalities(latents, list(source.modalities), source.n_units, bin_s, rng),
            behaviour=behaviour.astype(np.float32),
            stimulus=stimulus.astype(np.int64),
            species=species,
            metadata={
                "source": "synthetic",
                "seed": source.seed,
                "index": index,
                "behaviour_names": ["behaviour_x", "behaviour_y"],
                "stimulus_labels": [f"stimulus {k}" for k in range(_N_STIMULI)],
                "latent_dim": source.latent_dim,
            },
            latents=latents.astype(np.float32),
        )
        sessions.append(session.validate())
    return sessions
