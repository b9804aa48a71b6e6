"""The state every view of one open NWB file shares: selected object and view, time window, channels, units.

Views write to it (a zoom sets ``time_window``) and watch it (another view's zoom, a deep
link, back/forward), never each other: zoom the traces to 120-130 s, switch to the raster
or the intervals timeline, and they show 120-130 s too. No Panel here; the page mirrors it
into the address bar.
"""

from __future__ import annotations

import param

__all__ = ["NwbFileController"]


class NwbFileController(param.Parameterized):
    """One per open file; replaced when another file opens."""

    object_path = param.String(default="", doc="Selected object ('' = the file itself).")
    view = param.String(default="", doc="Id of the view shown ('' = the best view for the object).")
    time_window = param.Range(
        default=None,
        allow_None=True,
        doc="Visible time window (s) of time-based views; None = each view's own default.",
    )
    channels = param.List(
        default=[], item_type=int, doc="Channel indices shown by traces ([] = the first ones)."
    )
    units = param.List(default=[], item_type=int, doc="Unit ids shown by the raster ([] = all).")
    series = param.List(default=[], item_type=str, doc="Objects the aligned view stacks ([] = its defaults).")
    alignment = param.Dict(
        default={}, doc="Trial alignment of trial views: table, column, group, pre, post, bin."
    )
    sweeps = param.List(default=[], item_type=int, doc="Icephys: sweep ids shown ([] = the object's own).")
    sweep_group = param.String(default="", doc="Icephys: the table level or column sweeps are grouped by.")
    average = param.Boolean(default=False, doc="Icephys: each group's mean ± SD instead of its sweeps.")

    def select(self, object_path: str, view: str) -> None:
        """A new object: channel picks belonged to the old one; the time window stays shared."""
        self.param.update(object_path=object_path, view=view, channels=[], series=[], sweeps=[])

    def set_window(self, t0: float, t1: float) -> None:
        """Set the shared window unless it is already (almost) that; views call this on zoom and pan."""
        if t1 <= t0:
            return
        current = self.time_window
        tolerance = 1e-6 * max(1.0, abs(t1 - t0))
        if current is not None and abs(current[0] - t0) <= tolerance and abs(current[1] - t1) <= tolerance:
            return
        self.time_window = (float(t0), float(t1))
