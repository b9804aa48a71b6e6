"""fMRI ROI time series -> tokens: the same dilated temporal convolutions run on every ROI (ROI-wise,
weights shared across ROIs, reaching ~15 volumes: the haemodynamic response), then a per-session read-in
across ROIs and filters."""

from __future__ import annotations

import torch
from torch import nn

from engines.training.model.tokenizers.base import SessionLinear, Tokenizer

__all__ = ["FmriTokenizer"]


class FmriTokenizer(Tokenizer):
    modality = "fmri"

    def __init__(
        self,
        sizes: dict[int, int],
        d_model: int,
        bin_s: dict[int, float],
        filters: int = 8,
        dilations: tuple[int, ...] = (1, 2, 4),
    ) -> None:
        super().__init__(sizes, d_model, bin_s)
        layers: list[nn.Module] = []
        channels = 1
        for dilation in dilations:
            layers += [nn.Conv1d(channels, filters, 3, padding=dilation, dilation=dilation), nn.GELU()]
            channels = filters
        self.roi_conv = nn.Sequential(*layers)
        self.filters = filters
        self.readin = SessionLinear({s: n * (filters + 1) for s, n in sizes.items()}, d_model)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, x: torch.Tensor, session: int) -> torch.Tensor:
        b, length, rois = x.shape
        per_roi = self.roi_conv(x.transpose(1, 2).reshape(b * rois, 1, length))  # (b * rois, filters, L)
        per_roi = per_roi.reshape(b, rois, self.filters, length).permute(0, 3, 1, 2)  # (b, L, rois, filters)
        features = torch.cat([x.unsqueeze(-1), per_roi], dim=-1).flatten(2)
        return self.out(self.readin(features, session))
