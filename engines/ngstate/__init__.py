"""Neuroglancer viewer states: model, edits, URLs, pointer expansion, volume sampling, offline demo.

A state (``NgState``) is Neuroglancer's own JSON, kept in its key order; every operation
returns a new state, so a page can keep the old one (undo) and hand states across threads.
"""

from engines.ngstate.annotations import add_box, add_line, add_point, list_annotations
from engines.ngstate.demo import DemoVolume, build_demo_roi_table, build_demo_state, ensure_demo_volume
from engines.ngstate.errors import (
    LayerNotFound,
    NgStateError,
    PointerError,
    StateNotFound,
    StateParseError,
    VolumeError,
    VolumeTooLarge,
)
from engines.ngstate.layers import (
    add_layer,
    lut_range,
    remove_layer,
    select_segments,
    set_lut_range,
    set_visibility,
)
from engines.ngstate.pointers import PointerOptions, load_state
from engines.ngstate.rows import build_row_view
from engines.ngstate.sampling import (
    Histogram,
    apply_auto_contrast,
    auto_contrast_range,
    box_around,
    compute_histogram,
    compute_roi_statistics,
    layer_bounds,
    open_layer_volume,
    state_point_to_voxel,
)
from engines.ngstate.state import Dimension, LayerInfo, NgState
from engines.ngstate.store import SavedState, StateStore
from engines.ngstate.summary import StateSummary, summarize_state
from engines.ngstate.table_layer import (
    TableLayer,
    focus_annotation,
    selected_annotation,
    table_annotation_layer,
)
from engines.ngstate.urls import DEFAULT_VIEWER_URL, parse_url, pointer_of, to_url
from engines.ngstate.view import (
    Bounds,
    fit_to_bounds,
    set_layout,
    set_orientation,
    set_position,
    set_scale,
    set_view,
    zoom_by,
)
from engines.ngstate.volume import Volume, open_volume

__all__ = [
    "NgState",
    "Dimension",
    "LayerInfo",
    "parse_url",
    "to_url",
    "pointer_of",
    "DEFAULT_VIEWER_URL",
    "load_state",
    "PointerOptions",
    "set_view",
    "set_position",
    "zoom_by",
    "set_scale",
    "fit_to_bounds",
    "set_orientation",
    "set_layout",
    "Bounds",
    "add_layer",
    "remove_layer",
    "set_visibility",
    "select_segments",
    "set_lut_range",
    "lut_range",
    "add_point",
    "add_box",
    "add_line",
    "list_annotations",
    "summarize_state",
    "StateSummary",
    "StateStore",
    "SavedState",
    "build_row_view",
    "TableLayer",
    "table_annotation_layer",
    "focus_annotation",
    "selected_annotation",
    "open_volume",
    "open_layer_volume",
    "Volume",
    "Histogram",
    "compute_histogram",
    "compute_roi_statistics",
    "auto_contrast_range",
    "apply_auto_contrast",
    "layer_bounds",
    "state_point_to_voxel",
    "box_around",
    "ensure_demo_volume",
    "DemoVolume",
    "build_demo_state",
    "build_demo_roi_table",
    "NgStateError",
    "StateParseError",
    "LayerNotFound",
    "StateNotFound",
    "PointerError",
    "VolumeError",
    "VolumeTooLarge",
]
