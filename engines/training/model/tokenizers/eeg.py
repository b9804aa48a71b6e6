"""EEG -> tokens: multi-scale temporal convolutions plus log band power (delta..gamma) per channel.

The band filters are fixed FIR band-passes designed for each session's sampling rate
(1 / bin width), long enough for two cycles of 1 Hz (at most 129 taps); bands above that
rate's Nyquist frequency, or too slow for the filter length, are left out, and a session
sampled too coarsely for any band uses the convolution branch alone.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import firwin
from torch import nn

from engines.training.model.tokenizers.base import SessionLinear, Tokenizer

__all__ = ["EegTokenizer", "EEG_BANDS"]

EEG_BANDS = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 80.0),
}
_SCALES = (3, 7, 15)


_MAX_TAPS = 129


def _band_filters(rate_hz: float) -> np.ndarray:
    """(bands, taps) FIR band-pass filters for this sampling rate (zero rows when no band fits)."""
    taps = int(min(_MAX_TAPS, max(15, 2 * rate_hz))) | 1
    nyquist = rate_hz / 2
    usable = [(lo, hi) for lo, hi in EEG_BANDS.values() if hi < nyquist * 0.95 and lo * taps / rate_hz >= 0.5]
    if not usable:
        return np.zeros((0, taps), dtype=np.float32)
    return np.stack([firwin(taps, [lo, hi], pass_zero=False, fs=rate_hz) for lo, hi in usable]).astype(
        np.float32
    )


class EegTokenizer(Tokenizer):
    modality = "eeg"

    def __init__(self, sizes: dict[int, int], d_model: int, bin_s: dict[int, float]) -> None:
        super().__init__(sizes, d_model, bin_s)
        self.readin = SessionLinear(sizes, d_model)
        self.scales = nn.ModuleList(
            nn.Conv1d(d_model, d_model, k, padding=k // 2, groups=d_model) for k in _SCALES
        )
        self.mix = nn.Linear(len(_SCALES) * d_model, d_model)
        band_sizes = {}
        for session, n in sizes.items():
            filters = torch.from_numpy(_band_filters(1.0 / bin_s[session]))
            self.register_buffer(f"bands_{session}", filters, persistent=False)
            if len(filters):
                band_sizes[session] = n * len(filters)
        self.band_readin = SessionLinear(band_sizes, d_model)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model))

    def band_power(self, x: torch.Tensor, session: int) -> torch.Tensor | None:
        """log(1 + smoothed squared band-passed signal): (b, L, channels * bands), or None without bands."""
        filters = getattr(self, f"bands_{session}")
        if not len(filters):
            return None
        b, length, channels = x.shape
        half = filters.shape[1] // 2
        signal = x.transpose(1, 2).reshape(b * channels, 1, length)
        banded = F.conv1d(F.pad(signal, (half, half), mode="replicate"), filters[:, None, :])
        power = F.avg_pool1d(banded.square(), 2 * half + 1, stride=1, padding=half, count_include_pad=False)
        return torch.log1p(power).reshape(b, channels * len(filters), length).transpose(1, 2)

    def forward(self, x: torch.Tensor, session: int) -> torch.Tensor:
        h = self.readin(x, session)
        multi = torch.cat([self._temporal(h, conv) for conv in self.scales], dim=-1)
        tokens = h + self.mix(F.gelu(multi))
        power = self.band_power(x, session)
        if power is not None:
            tokens = tokens + self.band_readin(power, session)
        return self.out(tokens)
