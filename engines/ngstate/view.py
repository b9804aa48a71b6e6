"""Where the viewer looks: position by dimension name, zoom (a factor, a scale, or fit to a layer's
bounds), orientation and layout. Each is its own function; ``set_view`` combines them for tools.

Coordinates are in the state's global coordinate units (``dimensions``: a coordinate of 1 along
``x`` is ``scale`` ``unit``). ``crossSectionScale`` is global units per screen pixel in the 2-D
panels; ``projectionScale`` is the height of the 3-D panel in global units, so zooming in by a
factor divides both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from engines.ngstate.errors import NgStateError
from engines.ngstate.state import NgState

__all__ = [
    "Bounds",
    "LAYOUTS",
    "ORIENTATIONS",
    "set_position",
    "zoom_by",
    "set_scale",
    "fit_to_bounds",
    "set_orientation",
    "set_layout",
    "set_view",
]

LAYOUTS = ("xy", "xz", "yz", "3d", "4panel", "4panel-alt", "xy-3d", "xz-3d", "yz-3d")
"""Neuroglancer's named layouts (a layout can also be a nested row/column object)."""

_HALF = math.sqrt(0.5)
ORIENTATIONS: dict[str, list[float]] = {
    "xy": [0.0, 0.0, 0.0, 1.0],
    "xz": [_HALF, 0.0, 0.0, _HALF],
    "yz": [0.0, _HALF, 0.0, _HALF],
}
"""Quaternions (x, y, z, w) that turn the main cross-section to face a plane."""

Center = Mapping[str, float] | Sequence[float]


@dataclass(frozen=True)
class Bounds:
    """The extent of a layer's data in the state's global coordinates: dimension name -> (lower, upper)."""

    ranges: dict[str, tuple[float, float]]

    @property
    def center(self) -> dict[str, float]:
        return {name: (lo + hi) / 2 for name, (lo, hi) in self.ranges.items()}

    def extent(self, name: str) -> float:
        lo, hi = self.ranges[name]
        return abs(hi - lo)


def _edit(state: NgState) -> tuple[NgState, dict[str, Any]]:
    new = state.clone()
    return new, new._data


def _finite(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise NgStateError(f"{what} must be a number, not {value!r}.") from exc
    if not math.isfinite(number):
        raise NgStateError(f"{what} must be a finite number, not {value!r}.")
    return number


def set_position(state: NgState, center: Center) -> NgState:
    """Move to ``center``: ``{"x": 1200, "y": 900, "z": 40}`` by name (other dimensions stay), or a
    list in the state's own dimension order (a shorter list sets the leading dimensions).

    A state without a position yet needs every dimension given.
    """
    names = state.dimension_names
    if not names:
        raise NgStateError(
            "This state has no dimensions yet, so a position cannot be named. Add a layer first."
        )
    if isinstance(center, Mapping):
        updates = {
            state.dimension_index(name): _finite(value, f"The {name} coordinate")
            for name, value in center.items()
        }
    else:
        values = list(center)
        if len(values) > len(names):
            raise NgStateError(
                f"{len(values)} coordinates given, but this state has {len(names)} dimensions "
                f"({', '.join(names)})."
            )
        updates = {i: _finite(v, f"The {names[i]} coordinate") for i, v in enumerate(values)}
    new, data = _edit(state)
    position = data.get("position")
    if not isinstance(position, list) or len(position) != len(names):
        missing = [names[i] for i in range(len(names)) if i not in updates]
        if missing:
            raise NgStateError(
                f"This state has no position yet; give every dimension (missing: {', '.join(missing)})."
            )
        position = [0.0] * len(names)
    for index, value in updates.items():
        position[index] = value
    data["position"] = position
    return new


def zoom_by(state: NgState, factor: float) -> NgState:
    """Zoom in by ``factor`` (2 = twice as close, 0.5 = twice as far) in the 2-D and 3-D panels."""
    factor = _finite(factor, "The zoom factor")
    if factor <= 0:
        raise NgStateError("The zoom factor must be positive (2 zooms in, 0.5 zooms out).")
    new, data = _edit(state)
    data["crossSectionScale"] = (state.cross_section_scale or 1.0) / factor
    if state.projection_scale is not None:
        data["projectionScale"] = state.projection_scale / factor
    return new


def set_scale(
    state: NgState, cross_section_scale: float | None = None, projection_scale: float | None = None
) -> NgState:
    """Set the absolute zoom: global units per pixel (2-D) and panel height in global units (3-D)."""
    new, data = _edit(state)
    for key, value in (("crossSectionScale", cross_section_scale), ("projectionScale", projection_scale)):
        if value is not None:
            number = _finite(value, key)
            if number <= 0:
                raise NgStateError(f"{key} must be positive.")
            data[key] = number
    return new


def _panel_size(layout: Any, viewport: tuple[float, float]) -> tuple[float, float]:
    width, height = viewport
    if layout in ("xy", "xz", "yz", "3d"):
        return width, height
    if isinstance(layout, str) and layout.endswith("-3d"):
        return width / 2, height
    return width / 2, height / 2


def _panel_dims(layout: Any, display: list[str]) -> list[str] | None:
    """The two dimensions a single-panel layout shows across and down; None for several panels."""
    pairs = {"xy": (0, 1), "xz": (0, 2), "yz": (2, 1)}
    if layout in pairs and len(display) > max(pairs[layout]):
        return [display[i] for i in pairs[layout]]
    return None


def fit_to_bounds(
    state: NgState,
    bounds: Bounds,
    viewport: tuple[float, float] = (1200, 800),
    center: bool = True,
    margin: float = 1.1,
) -> NgState:
    """Zoom (and, with ``center``, move) so the whole of ``bounds`` shows in every panel.

    ``viewport`` is the viewer's size in screen pixels; each panel gets its share for the layout.
    """
    display = [name for name in state.display_dimensions if name in bounds.ranges]
    if not display:
        raise NgStateError(
            f"The layer's bounds ({', '.join(bounds.ranges)}) share no dimension with the displayed ones "
            f"({', '.join(state.display_dimensions) or 'none'})."
        )
    panel_w, panel_h = _panel_size(state.layout or "4panel", viewport)
    across_down = _panel_dims(state.layout, display)
    if across_down:
        scale = max(bounds.extent(across_down[0]) / panel_w, bounds.extent(across_down[1]) / panel_h)
    else:
        scale = max(bounds.extent(name) for name in display) / min(panel_w, panel_h)
    diagonal = math.sqrt(sum(bounds.extent(name) ** 2 for name in display))
    new = set_scale(
        state, cross_section_scale=max(scale, 1e-12) * margin, projection_scale=max(diagonal, 1e-12) * margin
    )
    if center:
        known = {name: value for name, value in bounds.center.items() if name in state.dimension_names}
        new = set_position(new, known)
    return new


def set_orientation(
    state: NgState,
    orientation: str | Sequence[float],
    target: Literal["both", "cross_section", "projection"] = "both",
) -> NgState:
    """Turn the view: a plane name (``xy``, ``xz``, ``yz``) or a quaternion ``[x, y, z, w]`` (normalised)."""
    if isinstance(orientation, str):
        if orientation not in ORIENTATIONS:
            raise NgStateError(
                f"Unknown orientation '{orientation}'. Use one of {', '.join(ORIENTATIONS)} or [x, y, z, w]."
            )
        quaternion = list(ORIENTATIONS[orientation])
    else:
        values = [_finite(v, "An orientation component") for v in orientation]
        norm = math.sqrt(sum(v * v for v in values))
        if len(values) != 4 or norm == 0:
            raise NgStateError("An orientation is a non-zero quaternion of four numbers [x, y, z, w].")
        quaternion = [v / norm for v in values]
    if target not in ("both", "cross_section", "projection"):
        raise NgStateError("target must be 'both', 'cross_section' or 'projection'.")
    new, data = _edit(state)
    if target in ("both", "cross_section"):
        data["crossSectionOrientation"] = list(quaternion)
    if target in ("both", "projection"):
        data["projectionOrientation"] = list(quaternion)
    return new


def set_layout(state: NgState, layout: str | Mapping[str, Any]) -> NgState:
    """Choose the panels: one of ``LAYOUTS`` or a Neuroglancer row/column layout object."""
    if isinstance(layout, str):
        if layout not in LAYOUTS:
            raise NgStateError(f"Unknown layout '{layout}'. Use one of: {', '.join(LAYOUTS)}.")
        value: Any = layout
    elif isinstance(layout, Mapping) and "type" in layout:
        value = dict(layout)
    else:
        raise NgStateError("A layout is a name like 'xy-3d' or an object with a 'type' (row, column, ...).")
    new, data = _edit(state)
    data["layout"] = value
    return new


def set_view(
    state: NgState,
    center: Center | None = None,
    zoom: float | Literal["fit"] | None = None,
    scale: float | None = None,
    orientation: str | Sequence[float] | None = None,
    layout: str | Mapping[str, Any] | None = None,
    bounds: Bounds | None = None,
    viewport: tuple[float, float] = (1200, 800),
) -> NgState:
    """Any of: move to ``center``, zoom in by a factor (``zoom=2``) or to fit (``zoom="fit"``, needs
    ``bounds``; centres on them unless ``center`` is given), set an absolute ``scale``, turn to
    ``orientation``, change ``layout``. Each part is independent; the layout is applied first so a
    fit uses the panels that will show.
    """
    new = state
    if layout is not None:
        new = set_layout(new, layout)
    if orientation is not None:
        new = set_orientation(new, orientation)
    if zoom == "fit":
        if bounds is None:
            raise NgStateError("Fitting the view needs the layer's bounds (read from its volume's info).")
        new = fit_to_bounds(new, bounds, viewport, center=center is None)
    elif zoom is not None:
        new = zoom_by(new, zoom)
    if scale is not None:
        new = set_scale(new, cross_section_scale=scale)
    if center is not None:
        new = set_position(new, center)
    return new
