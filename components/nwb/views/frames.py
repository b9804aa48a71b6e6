"""ImageSeries / TwoPhotonSeries / OnePhotonSeries frames, one frame read per slider move (off the session's
thread)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from components.safe_text import escape_text
from engines.nwb.extract import Frame, count_frames, read_frame
from engines.nwb.index import NwbIndex
from engines.nwb.product_jobs import PREVIEW_MOVIE
from engines.nwb.products.preview_movie import PreviewMovie

__all__ = ["FramesView"]


def frame_element(frame: Frame) -> hv.Element:
    image = frame.image
    h, w = image.shape[:2]
    bounds = (0, 0, w, h)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        scaled = image.astype(float)
        top = scaled.max() or 1.0
        return hv.RGB(np.flipud(scaled / top), bounds=bounds)
    return hv.Image(np.flipud(image.astype(float)), bounds=bounds).opts(cmap="gray", colorbar=True)


class FramesView(NwbView):
    id = "frames"
    title = "Frames"
    neurodata_types = ("ImageSeries",)

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        if not super().applies(index, path):
            return False
        data = index.objects.get(path.rstrip("/") + "/data")
        return (
            data is None
            or data.shape is None
            or len(data.shape) >= 3
            or "external_file" in index.get(path).children
        )

    def __panel__(self) -> pn.viewable.Viewable:
        total = count_frames(self.nwbfile, self.path)
        slider = pn.widgets.IntSlider(
            label="Frame",
            start=0,
            end=max(total - 1, 1),
            value=0,
            sizing_mode="stretch_width",
            visible=total > 1,
        )  # Bokeh rejects a slider whose start equals its end
        caption = pn.pane.Markdown("", css_classes=["nd-muted"])

        def picture(index: int) -> tuple[hv.Element, str]:
            frame = read_frame(self.nwbfile, self.path, index)
            when = f" · t = {frame.time:.3f} s" if frame.time is not None else ""
            height, width = frame.image.shape[0], frame.image.shape[1]
            text = f"Frame {frame.index + 1} of {frame.n_frames}{when} · {width}×{height} px"
            return frame_element(frame).opts(
                responsive=True, height=420, data_aspect=1, tools=["hover"]
            ), text

        first, caption.object = picture(0)
        plot = pn.pane.HoloViews(first, sizing_mode="stretch_width", height=440)

        def show(shown: tuple[hv.Element, str]) -> None:
            plot.loading = False
            plot.object, caption.object = shown

        def failed(exc: BaseException) -> None:
            plot.loading = False
            caption.object = f"This frame could not be read: {escape_text(exc)}"

        def request(event) -> None:
            plot.loading = True
            self.work.run(self.work_key("frame"), lambda: picture(event.new), apply=show, failed=failed)

        slider.param.watch(request, "value_throttled")
        frames = pn.Column(slider, caption, plot, sizing_mode="stretch_both")
        if self.jobs is None or total == 0 or "data" not in self.info.children:
            return frames
        movie = pn.Column(pn.pane.Markdown("**Preview movie**"), width=460)

        def show_movie(folder) -> None:
            preview = PreviewMovie.open(folder)
            speed = f" · played at {preview.speed:g}× speed" if preview.speed != 1 else ""
            movie[:] = [
                pn.pane.Markdown(f"**Preview movie** · {preview.t_first:.1f}–{preview.t_last:.1f} s{speed}"),
                pn.pane.Video(preview.path, loop=True, width=440, muted=True),
            ]

        movie.insert(1, self.watch_job(PREVIEW_MOVIE, show_movie, "Preview movie"))
        return pn.Row(movie, frames, sizing_mode="stretch_both")
