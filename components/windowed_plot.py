"""A plot of data read for a time window: zooms report the new window, new data redraws at its window.

The data for a window is read off the session's thread, so a zoom cannot redraw with new
data at once. Bokeh reports the zoom through a ``RangeX`` stream (which HoloViews links to
overlays only when it is one of the DynamicMap's own streams); on that event this plot keeps
the old data at the window the user now sees, and calls ``on_zoom``; ``show`` then redraws
with the data read for the window it names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import holoviews as hv

__all__ = ["WindowedPlot", "Window", "as_window"]

Window = tuple[float, float]


def as_window(values: Sequence[float]) -> Window:
    """A time window as a pair: param's ``Range`` and Bokeh's ranges hand it over as a list or tuple."""
    return (float(values[0]), float(values[1]))


class WindowedPlot:
    """``dmap`` is what a pane shows; ``draw(data, window)`` builds the element for a window."""

    def __init__(
        self,
        draw: Callable[[Any, Window], hv.Element],
        data: Any,
        window: Window,
        on_zoom: Callable[[float, float], None],
    ) -> None:
        self._draw = draw
        self._on_zoom = on_zoom
        self._pipe = hv.streams.Pipe(data=(data, as_window(window)))
        self._range = hv.streams.RangeX()
        self._range.add_subscriber(self._zoomed)
        self._last: tuple | None = None
        self._drawn: Window = as_window(window)
        self.dmap = hv.DynamicMap(self._render, streams=[self._pipe, self._range])

    def show(self, data: Any, window: Window) -> None:
        """Redraw with ``data`` read for ``window`` (on the session's thread)."""
        self._pipe.send((data, as_window(window)))

    def _zoomed(self, x_range=None, **_) -> None:
        """Only a change the user made: the plot also reports the window it was drawn at."""
        if x_range is None or None in x_range:
            return
        t0, t1 = float(x_range[0]), float(x_range[1])
        tolerance = 1e-6 * max(abs(self._drawn[1] - self._drawn[0]), 1e-9)
        if abs(t0 - self._drawn[0]) > tolerance or abs(t1 - self._drawn[1]) > tolerance:
            self._on_zoom(t0, t1)

    def _render(self, data: tuple, x_range: Window | None = None) -> hv.Element:
        payload, window = data
        if data is self._last and x_range is not None and None not in x_range:
            return self._draw(
                payload, as_window(x_range)
            )  # a zoom: keep the window the user sees until its data arrives
        self._last = data
        self._drawn = as_window(window)
        return self._draw(payload, window)
