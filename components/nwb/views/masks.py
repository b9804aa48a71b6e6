"""PlaneSegmentation: ROI masks drawn over the imaging plane's reference image."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from engines.nwb.extract import read_plane_masks

__all__ = ["RoiMasksView"]


class RoiMasksView(NwbView):
    id = "rois"
    title = "ROI masks"
    neurodata_types = ("PlaneSegmentation",)

    def __panel__(self) -> pn.viewable.Viewable:
        masks = read_plane_masks(self.nwbfile, self.path)
        h, w = masks.label_image.shape
        bounds = (0, 0, w, h)
        labels = np.flipud(masks.label_image.astype(float))
        labels[labels == 0] = np.nan
        overlay = hv.Image(labels, bounds=bounds, vdims="roi").opts(
            cmap="glasbey_light", alpha=0.6, tools=["hover"], clipping_colors={"NaN": (0, 0, 0, 0)}
        )
        if masks.reference is not None:
            overlay = (
                hv.Image(np.flipud(masks.reference.astype(float)), bounds=bounds).opts(cmap="gray") * overlay
            )
        plot = overlay.opts(hv.opts.Image(responsive=True, height=420, data_aspect=1))
        return pn.Column(
            pn.pane.Markdown(f"**{len(masks.roi_ids)} ROIs** · {w}×{h} px"),
            pn.pane.HoloViews(plot, sizing_mode="stretch_width", height=440),
            sizing_mode="stretch_both",
        )
