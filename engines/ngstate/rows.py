"""One viewer state per table row: the multi-view table's building block.

Each row's state starts from the same base state (never from the previous row's), so rows are
independent: the row's position, a point marking it in a one-point annotation layer, the
row's segment selected, and a contrast range, each optional.
"""

from __future__ import annotations

from collections.abc import Mapping

from engines.ngstate.annotations import add_point
from engines.ngstate.errors import NgStateError
from engines.ngstate.layers import remove_layer, select_segments, set_lut_range
from engines.ngstate.state import NgState
from engines.ngstate.view import set_position, set_scale

__all__ = ["build_row_view"]


def build_row_view(
    base: NgState,
    position: Mapping[str, float],
    *,
    marker_layer: str | None = "selected row",
    label: str | None = None,
    segment_layer: str | None = None,
    segment_id: int | str | None = None,
    lut: tuple[float, float] | None = None,
    lut_layer: str | None = None,
    cross_section_scale: float | None = None,
) -> NgState:
    """``base`` moved to ``position`` (by dimension name), with the optional extras.

    ``marker_layer``: a local annotation layer holding just this row's point (labelled
    ``label``); None for no marker. ``segment_layer`` + ``segment_id``: select the row's
    segment. ``lut`` + ``lut_layer``: contrast range of that image layer. Raises the same
    typed errors as the single operations, so a caller can attach the message to the row.
    """
    state = set_position(base, position)
    if cross_section_scale is not None:
        state = set_scale(state, cross_section_scale=cross_section_scale)
    if marker_layer:
        if marker_layer.lower() in (name.lower() for name in state.layer_names):
            state = remove_layer(state, marker_layer)
        state = add_point(
            state,
            dict(position),
            layer=marker_layer,
            description=label,
            annotation_id=f"row-{label}" if label else None,
        )
    if segment_layer and segment_id is not None:
        state = select_segments(state, segment_layer, [segment_id])
    if lut is not None:
        if not lut_layer:
            images = state.layers_of_type("image")
            if not images:
                raise NgStateError("The state has no image layer to set a contrast range on.")
            lut_layer = images[0]
        state = set_lut_range(state, lut_layer, lut[0], lut[1])
    return state
