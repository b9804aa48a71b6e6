"""Point, box and line annotations in a local annotation layer (source ``local://annotations``).

Coordinates are given by dimension name (``{"x": 10, "y": 20, "z": 3}``) or as a list in the
layer's dimension order; dimensions left out (``t``, a channel) take the current position, so
a state with time or only two dimensions works like any other. The layer is created when missing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from engines.ngstate.errors import NgStateError
from engines.ngstate.layers import add_layer
from engines.ngstate.state import NgState

__all__ = ["add_point", "add_box", "add_line", "annotation_dimensions", "list_annotations"]

Point = Mapping[str, float] | Sequence[float]


def _local_source(layer: dict[str, Any]) -> dict[str, Any] | str | None:
    source = layer.get("source")
    if isinstance(source, list):
        source = source[0] if source else None
    return source


def annotation_dimensions(state: NgState, layer_name: str) -> list[str]:
    """The dimension names an annotation layer's points are written in (its own transform, else global)."""
    source = _local_source(state.layer(layer_name))
    if isinstance(source, dict):
        output = (source.get("transform") or {}).get("outputDimensions")
        if isinstance(output, dict) and output:
            return list(output)
    return state.dimension_names


def _ensure_layer(state: NgState, layer_name: str) -> NgState:
    if layer_name.lower() not in (n.lower() for n in state.layer_names):
        if not state.dimension_names:
            raise NgStateError(
                "This state has no dimensions yet, so an annotation has no coordinates to use."
            )
        return add_layer(state, layer_name, "annotation")
    layer = state.layer(layer_name)
    source = _local_source(layer)
    url = source.get("url") if isinstance(source, dict) else source
    if layer.get("type") != "annotation" or url != "local://annotations":
        raise NgStateError(
            f"'{layer_name}' is not a local annotation layer (type {layer.get('type')}, source {url}); "
            "choose another layer name for new annotations."
        )
    return state


def _resolve(state: NgState, dims: list[str], point: Point, what: str) -> list[float]:
    current = state.position or {}
    if isinstance(point, Mapping):
        given = {}
        for name, value in point.items():
            match = name if name in dims else next((d for d in dims if d.rstrip("^'") == name), None)
            if match is None:
                raise NgStateError(
                    f"The {what} names dimension '{name}', which the layer does not have ({', '.join(dims)})."
                )
            given[match] = value
    else:
        values = list(point)
        if len(values) > len(dims):
            raise NgStateError(
                f"The {what} has {len(values)} coordinates; the layer has {len(dims)} ({', '.join(dims)})."
            )
        given = dict(zip(dims, values))
    resolved = []
    for name in dims:
        coordinate: float | None = given.get(name, current.get(name))
        if coordinate is None:
            raise NgStateError(
                f"The {what} needs a '{name}' coordinate (the state has no position to take it from)."
            )
        number = float(coordinate)
        if not math.isfinite(number):
            raise NgStateError(f"The {what}'s '{name}' coordinate must be a finite number.")
        resolved.append(number)
    return resolved


def _append(state: NgState, layer_name: str, annotation: dict[str, Any], description: str | None) -> NgState:
    if description:
        annotation["description"] = str(description)
    new = state.clone()
    new._find_layer(layer_name).setdefault("annotations", []).append(annotation)
    return new


def _new_id(annotation_id: str | None) -> str:
    return str(annotation_id) if annotation_id else uuid.uuid4().hex


def add_point(
    state: NgState,
    point: Point,
    layer: str = "annotations",
    description: str | None = None,
    annotation_id: str | None = None,
) -> NgState:
    """Add a point annotation (its id is ``annotation_id`` or a new random hex id)."""
    state = _ensure_layer(state, layer)
    dims = annotation_dimensions(state, layer)
    annotation = {
        "type": "point",
        "id": _new_id(annotation_id),
        "point": _resolve(state, dims, point, "point"),
    }
    return _append(state, layer, annotation, description)


def _two_point(
    state: NgState,
    kind: str,
    a: Point,
    b: Point,
    layer: str,
    description: str | None,
    annotation_id: str | None,
) -> NgState:
    state = _ensure_layer(state, layer)
    dims = annotation_dimensions(state, layer)
    annotation = {
        "type": kind,
        "id": _new_id(annotation_id),
        "pointA": _resolve(state, dims, a, "first corner"),
        "pointB": _resolve(state, dims, b, "second corner"),
    }
    return _append(state, layer, annotation, description)


def add_box(
    state: NgState,
    corner_a: Point,
    corner_b: Point,
    layer: str = "annotations",
    description: str | None = None,
    annotation_id: str | None = None,
) -> NgState:
    """Add an axis-aligned box between two opposite corners."""
    return _two_point(
        state, "axis_aligned_bounding_box", corner_a, corner_b, layer, description, annotation_id
    )


def add_line(
    state: NgState,
    start: Point,
    end: Point,
    layer: str = "annotations",
    description: str | None = None,
    annotation_id: str | None = None,
) -> NgState:
    """Add a line segment from ``start`` to ``end``."""
    return _two_point(state, "line", start, end, layer, description, annotation_id)


def list_annotations(state: NgState, layer: str) -> list[dict[str, Any]]:
    """The annotations of a layer, as stored (copies)."""
    return list(state.layer(layer).get("annotations") or [])
