"""Data for views, read from the HDF5 file with the index's metadata and bounded in bytes.

Every function takes an open ``NwbFile`` and a path, reads only what its answer needs (each
docstring says how much), and returns plain dataclasses of numpy arrays and DataFrames. No
pynwb objects are built: that would cost a remote file many requests per view.
"""

from engines.nwb.extract.aligned import (
    AlignedSpikes,
    AlignedTraces,
    TrialAlignment,
    align_spikes,
    align_traces,
    psth,
    read_alignment,
)
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.events import (
    EventSeriesInfo,
    EventWindow,
    event_series_info,
    is_event_series,
    read_events,
)
from engines.nwb.extract.images import (
    Frame,
    RoiMasks,
    count_frames,
    read_frame,
    read_images,
    read_plane_masks,
)
from engines.nwb.extract.metadata import file_overview
from engines.nwb.extract.spatial import XYPath, read_xy
from engines.nwb.extract.tables import (
    IntervalsPage,
    TablePage,
    read_column,
    read_intervals,
    read_table_page,
    table_columns,
)
from engines.nwb.extract.timeseries import (
    DEFAULT_WINDOW_S,
    SeriesLayout,
    TimeRange,
    TraceWindow,
    read_trace_window,
    robust_time_range,
    series_layout,
    series_time_range,
)
from engines.nwb.extract.units import (
    SpikeCount,
    SpikeWindow,
    UnitsTable,
    count_spikes,
    read_spike_window,
    read_units_table,
)

__all__ = [
    "InvalidRequest",
    "UnsupportedData",
    "TraceWindow",
    "SeriesLayout",
    "TimeRange",
    "DEFAULT_WINDOW_S",
    "series_layout",
    "series_time_range",
    "robust_time_range",
    "read_trace_window",
    "EventSeriesInfo",
    "EventWindow",
    "event_series_info",
    "is_event_series",
    "read_events",
    "UnitsTable",
    "SpikeWindow",
    "SpikeCount",
    "read_units_table",
    "read_spike_window",
    "count_spikes",
    "TablePage",
    "IntervalsPage",
    "table_columns",
    "read_column",
    "read_table_page",
    "read_intervals",
    "Frame",
    "RoiMasks",
    "count_frames",
    "read_frame",
    "read_plane_masks",
    "read_images",
    "XYPath",
    "read_xy",
    "file_overview",
    "TrialAlignment",
    "AlignedSpikes",
    "AlignedTraces",
    "read_alignment",
    "align_spikes",
    "align_traces",
    "psth",
]
