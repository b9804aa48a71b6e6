"""Ephys summary of a raw ElectricalSeries: per-channel firing-rate estimate and power spectrum.

Both come from one precomputed job (sampled segments, band-pass, threshold crossings, Welch);
the rates are drawn over the electrode layout when the electrodes table has positions.
"""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from components.safe_text import escape_text
from engines.nwb.index import NwbIndex
from engines.nwb.product_jobs import EPHYS_SUMMARY
from engines.nwb.products.ephys_summary import EphysSummary

__all__ = ["EphysSummaryView"]


class EphysSummaryView(NwbView):
    id = "ephys-summary"
    title = "Ephys summary"
    neurodata_types = ("ElectricalSeries",)

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        return super().applies(index, path) and not index.is_a(path, "SpikeEventSeries")

    def __panel__(self) -> pn.viewable.Viewable:
        if self.jobs is None:
            return pn.pane.Alert(
                "Summaries are computed by the job system, which is not running here.", alert_type="info"
            )
        body = pn.Column(sizing_mode="stretch_width")
        watcher = self.watch_job(
            EPHYS_SUMMARY, lambda folder: body.__setitem__(slice(None), self._render(folder)), "Ephys summary"
        )
        return pn.Column(watcher, body, sizing_mode="stretch_width")

    @staticmethod
    def _render(folder: Path) -> list:
        summary = EphysSummary.open(folder)
        channels = np.arange(summary.n_channels)
        positive = np.where(summary.psd > 0, summary.psd, np.nan)
        spectra = hv.Overlay(
            [
                hv.Curve((summary.freqs, positive[c]), "frequency (Hz)", "power (V²/Hz)", label=f"ch {c}")
                for c in channels[:64]
            ]
        )
        spectra = spectra.opts(
            hv.opts.Curve(logy=True, line_width=1, tools=["hover"]),
            hv.opts.Overlay(
                responsive=True,
                height=320,
                show_legend=summary.n_channels <= 8,
                title="Power spectrum (Welch) per channel",
            ),
        )
        parts: list = [
            pn.pane.Markdown(
                f"{summary.n_channels} channels · {summary.analyzed_s:.1f} s analysed "
                f"in {len(summary.segments)} segment(s) at {summary.sampling_rate:g} Hz"
            )
        ]
        if summary.rate_hz is None:
            parts.append(pn.pane.Markdown(f"*No firing-rate estimate: {escape_text(summary.rate_reason)}*"))
        elif summary.positions is not None:
            layout = hv.Points(
                (summary.positions[:, 0], summary.positions[:, 1], summary.rate_hz, channels),
                ["x", "y"],
                ["rate (Hz)", "channel"],
            ).opts(
                color="rate (Hz)",
                cmap="viridis",
                size=12,
                colorbar=True,
                tools=["hover"],
                height=320,
                responsive=True,
                title="Threshold-crossing rate over the electrode layout",
            )
            parts.append(pn.pane.HoloViews(layout, sizing_mode="stretch_width", height=340))
        else:
            bars = hv.Bars((channels, summary.rate_hz), "channel", "rate (Hz)").opts(
                responsive=True, height=260, tools=["hover"], title="Threshold-crossing rate per channel"
            )
            parts.append(pn.pane.HoloViews(bars, sizing_mode="stretch_width", height=280))
        parts.append(pn.pane.HoloViews(spectra, sizing_mode="stretch_width", height=340))
        return parts
