"""Images containers (GrayscaleImage, RGBImage, RGBAImage) and single Image datasets."""

from __future__ import annotations

import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from components.nwb.views.frames import frame_element
from engines.nwb.extract import Frame, read_images

__all__ = ["ImagesView"]


class ImagesView(NwbView):
    id = "images"
    title = "Images"
    neurodata_types = ("Images", "Image")

    def __panel__(self) -> pn.viewable.Viewable:
        images = dict(read_images(self.nwbfile, self.path))
        if not images:
            return pn.pane.Alert("This container holds no images.", alert_type="info")
        choice = pn.widgets.Select(label="Image", options=list(images), width=300)

        def show(name: str):
            array = np.asarray(images[name])
            element = frame_element(Frame(image=array, index=0, n_frames=1, time=None))
            return element.opts(responsive=True, height=420, data_aspect=1, title=name)

        return pn.Column(
            choice,
            pn.pane.HoloViews(pn.bind(show, choice), sizing_mode="stretch_width", height=440),
            sizing_mode="stretch_both",
        )
