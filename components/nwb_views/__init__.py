"""The NWB view registry: ordered most specific first, the raw HDF5 view last (it fits anything).

Adding a view is one new module plus one line here. Views pick themselves from index
metadata; extension types get their parent type's views through the index lineage.
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (views set Bokeh options, which need the backend loaded)

from components.nwb_views.base import NwbView
from components.nwb_views.ephys_summary import EphysSummaryView
from components.nwb_views.events import EventsView
from components.nwb_views.frames import FramesView
from components.nwb_views.images import ImagesView
from components.nwb_views.intervals import IntervalsView
from components.nwb_views.masks import RoiMasksView
from components.nwb_views.overview import FileOverviewView
from components.nwb_views.raw import RawHdf5View
from components.nwb_views.spatial import XYPathView
from components.nwb_views.table import DynamicTableView
from components.nwb_views.traces import TracesView
from components.nwb_views.trials import PsthView, TrialAverageView
from components.nwb_views.units import UnitsRasterView
from engines.nwb.index import NwbIndex

hv.Store.set_current_backend("bokeh")

__all__ = ["NwbView", "NWB_VIEWS", "views_for", "view_by_id"]

NWB_VIEWS: tuple[type[NwbView], ...] = (
    FileOverviewView,
    UnitsRasterView,
    XYPathView,
    FramesView,
    RoiMasksView,
    IntervalsView,
    EventsView,
    TracesView,
    PsthView,
    TrialAverageView,
    EphysSummaryView,
    ImagesView,
    DynamicTableView,
    RawHdf5View,
)


def views_for(index: NwbIndex, path: str) -> list[type[NwbView]]:
    """The views that can show ``path``, best first; never empty for an existing object."""
    return [view for view in NWB_VIEWS if view.applies(index, path)]


def view_by_id(view_id: str) -> type[NwbView] | None:
    return next((view for view in NWB_VIEWS if view.id == view_id), None)
