"""Moving, zooming, turning and laying out the view by dimension name, whatever the dimensions are."""

from __future__ import annotations

import math

import neuroglancer
import pytest

from engines.ngstate import (
    Bounds,
    NgState,
    NgStateError,
    fit_to_bounds,
    set_layout,
    set_orientation,
    set_position,
    set_scale,
    set_view,
    zoom_by,
)
from tests.engines.ngstate.states import EM_STATE, ODD_KEYS_STATE, PLANE_STATE, TIMELAPSE_STATE


def test_center_by_name_sets_only_those_dimensions():
    state = set_position(NgState(TIMELAPSE_STATE), {"x": 1200, "y": 900, "z": 40})
    assert state.position == {"t": 12.0, "c^": 0.0, "z": 40.0, "y": 900.0, "x": 1200.0}
    assert state.dimension_names == ["t", "c^", "z", "y", "x"]


def test_center_by_position_follows_the_states_own_order():
    state = set_position(NgState(ODD_KEYS_STATE), [7, 8, 9])
    assert state.position == {"z": 7.0, "y": 8.0, "x": 9.0}


def test_time_and_channel_dimensions_are_named_too():
    state = set_position(NgState(TIMELAPSE_STATE), {"t": 30, "c": 1})
    assert state.position["t"] == 30.0 and state.position["c^"] == 1.0


def test_two_dimensional_state_takes_two_coordinates():
    state = set_position(NgState(PLANE_STATE), {"x": 10, "y": 20})
    assert state.get("position") == [10.0, 20.0]
    with pytest.raises(NgStateError, match="no dimension 'z'.*x, y"):
        set_position(NgState(PLANE_STATE), {"x": 1, "z": 3})
    with pytest.raises(NgStateError, match="3 coordinates given.*2 dimensions"):
        set_position(NgState(PLANE_STATE), [1, 2, 3])


def test_position_needs_every_dimension_when_the_state_has_none():
    bare = {k: v for k, v in PLANE_STATE.items() if k != "position"}
    with pytest.raises(NgStateError, match="missing: y"):
        set_position(NgState(bare), {"x": 1})
    assert set_position(NgState(bare), {"x": 1, "y": 2}).position == {"x": 1.0, "y": 2.0}


@pytest.mark.parametrize("value", ["abc", float("nan"), None])
def test_bad_coordinates_are_refused_and_the_state_is_unchanged(value):
    state = NgState(EM_STATE)
    with pytest.raises(NgStateError, match="x coordinate"):
        set_position(state, {"x": value})
    assert state == NgState(EM_STATE)


def test_zoom_in_divides_both_scales():
    state = zoom_by(NgState(EM_STATE), 2)
    assert state.cross_section_scale == pytest.approx(EM_STATE["crossSectionScale"] / 2)
    assert state.projection_scale == pytest.approx(EM_STATE["projectionScale"] / 2)
    assert zoom_by(state, 0.5).cross_section_scale == pytest.approx(EM_STATE["crossSectionScale"])
    with pytest.raises(NgStateError, match="positive"):
        zoom_by(state, 0)


def test_absolute_scale():
    state = set_scale(NgState(PLANE_STATE), cross_section_scale=0.25, projection_scale=900)
    assert (state.cross_section_scale, state.projection_scale) == (0.25, 900.0)


def test_fit_shows_the_whole_volume_in_each_panel():
    bounds = Bounds({"x": (0, 4000), "y": (0, 2000), "z": (0, 800)})
    state = fit_to_bounds(NgState(EM_STATE), bounds, viewport=(1200, 800))  # xy-3d: panels 600 x 800
    assert state.position == {"x": 2000.0, "y": 1000.0, "z": 400.0}
    scale = state.cross_section_scale
    assert 4000 / scale <= 600 and 2000 / scale <= 800  # fits the panel...
    assert 4000 / scale > 600 * 0.8  # ...and fills most of it (not "scale = 1")
    assert state.projection_scale >= math.dist((0, 0, 0), (4000, 2000, 800))


def test_fit_in_a_single_xy_panel_uses_width_and_height():
    bounds = Bounds({"x": (0, 2048), "y": (0, 512)})
    state = fit_to_bounds(NgState(PLANE_STATE), bounds, viewport=(1024, 1024))
    assert state.cross_section_scale == pytest.approx(2048 / 1024 * 1.1)


def test_fit_with_named_dimensions_in_any_order():
    bounds = Bounds({"x": (0, 3000), "y": (0, 2000), "z": (0, 100)})
    state = fit_to_bounds(NgState(TIMELAPSE_STATE), bounds)
    assert state.position["t"] == 12.0 and state.position["x"] == 1500.0


def test_set_view_fit_needs_bounds():
    with pytest.raises(NgStateError, match="bounds"):
        set_view(NgState(EM_STATE), zoom="fit")


def test_set_view_parts_are_independent():
    base = NgState(EM_STATE)
    moved = set_view(base, center={"z": 5})
    assert moved.cross_section_scale == base.cross_section_scale
    assert moved.layout == base.layout
    zoomed = set_view(base, zoom=4)
    assert zoomed.position == base.position
    everything = set_view(base, center={"x": 1}, zoom=2, orientation="xz", layout="4panel")
    assert everything.position["x"] == 1.0 and everything.layout == "4panel"
    assert everything.get("crossSectionOrientation") == pytest.approx([math.sqrt(0.5), 0, 0, math.sqrt(0.5)])


def test_orientation_is_normalised_and_targets_one_panel_kind():
    state = set_orientation(NgState(EM_STATE), [0, 0, 2, 2], target="projection")
    assert state.get("projectionOrientation") == pytest.approx([0, 0, math.sqrt(0.5), math.sqrt(0.5)])
    assert state.get("crossSectionOrientation") == EM_STATE["crossSectionOrientation"]
    with pytest.raises(NgStateError, match="quaternion"):
        set_orientation(NgState(EM_STATE), [0, 0, 0, 0])
    with pytest.raises(NgStateError, match="Unknown orientation"):
        set_orientation(NgState(EM_STATE), "sideways")


def test_layouts():
    assert set_layout(NgState(EM_STATE), "4panel").layout == "4panel"
    row = {"type": "row", "children": [{"type": "xy"}, {"type": "3d"}]}
    assert set_layout(NgState(EM_STATE), row).layout == row
    with pytest.raises(NgStateError, match="Unknown layout 'grid'"):
        set_layout(NgState(EM_STATE), "grid")


def test_edited_states_are_still_valid_for_neuroglancer():
    state = set_view(
        NgState(TIMELAPSE_STATE), center={"x": 5, "t": 3}, zoom=2, orientation="yz", layout="xy-3d"
    )
    parsed = neuroglancer.ViewerState(state.to_dict())
    assert list(parsed.position) == [3.0, 0.0, 40.5, 900.5, 5.0]
    assert parsed.layout.type == "xy-3d"
