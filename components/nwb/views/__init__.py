"""The NWB view registry: ordered most specific first, the raw HDF5 view last (it fits anything).

Adding a view is one new module plus one line here. Views pick themselves from index
metadata; extension types get their parent type's views through the index lineage.
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (views set Bokeh options, which need the backend loaded)

from components.nwb.views.aligned import AlignedSeriesView
from components.nwb.views.base import NwbView
from components.nwb.views.ephys_summary import EphysSummaryView
from components.nwb.views.events import EventsView
from components.nwb.views.frames import FramesView
from components.nwb.views.icephys import IcephysView
from components.nwb.views.images import ImagesView
from components.nwb.views.intervals import IntervalsView
from components.nwb.views.masks import RoiMasksView
from components.nwb.views.overview import FileOverviewView
from components.nwb.views.pose import PoseView
from components.nwb.views.raw import RawHdf5View
from components.nwb.views.spatial import XYPathView
from components.nwb.views.storage import StorageView
from components.nwb.views.table import DynamicTableView
from components.nwb.views.traces import TracesView
from components.nwb.views.trials import PsthView, TrialAverageView
from components.nwb.views.units import UnitsRasterView
from components.nwb.views.video import VideoView
from engines.nwb.index import NwbIndex

hv.Store.set_current_backend("bokeh")

__all__ = ["NwbView", "NWB_VIEWS", "views_for", "view_by_id"]

NWB_VIEWS: tuple[type[NwbView], ...] = (
    FileOverviewView,
    UnitsRasterView,
    PoseView,
    XYPathView,
    VideoView,
    FramesView,
    RoiMasksView,
    IntervalsView,
    EventsView,
    IcephysView,
    TracesView,
    PsthView,
    TrialAverageView,
    EphysSummaryView,
    ImagesView,
    DynamicTableView,
    AlignedSeriesView,
    StorageView,
    RawHdf5View,
)


def views_for(index: NwbIndex, path: str) -> list[type[NwbView]]:
    """The views that can show ``path``, best first; never empty for an existing object."""
    return [view for view in NWB_VIEWS if view.applies(index, path)]


def view_by_id(view_id: str) -> type[NwbView] | None:
    return next((view for view in NWB_VIEWS if view.id == view_id), None)
