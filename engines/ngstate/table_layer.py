"""A table's rows as a local annotation layer of the view, and the link between a row and its annotation.

Each row becomes one point (or box) at its coordinate columns, with id ``row-<key>`` (from the row's key
column, so the same row always has the same annotation), its numeric columns as annotation properties
(in the order they are declared), its text columns in the description, and its segment when the table
has a segment-id column (then the layer is linked to the segmentation layer, so selecting an annotation
selects its segment there). ``color_by`` and ``size_by`` become an ``rgb`` and a ``float32`` property the
layer's shader draws with (``setColor(prop_color())``, ``setPointMarkerSize(prop_size())``): colours and
sizes are computed here, so the shader is fixed text and no column name or value is ever code.

The layer lives in the state like any other, so saved views and share links carry it. Neuroglancer
writes the annotation a user selects (clicks, then pins) into the state's ``selection`` key;
``selected_annotation`` reads it back, ``focus_annotation`` writes it (centring the view on the row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from engines.ngstate._table_style import (
    annotation_ids,
    colors_for,
    float32_value,
    property_ids,
    sizes_for,
)
from engines.ngstate.annotations import annotation_dimensions
from engines.ngstate.errors import NgStateError
from engines.ngstate.layers import add_layer, remove_layer
from engines.ngstate.state import NgState
from engines.ngstate.view import set_position

__all__ = [
    "MAX_TABLE_ANNOTATIONS",
    "TableLayer",
    "table_annotation_layer",
    "selected_annotation",
    "focus_annotation",
]

MAX_TABLE_ANNOTATIONS = 5000
"""Rows drawn at most: a local annotation layer lives in the state (and in every share link)."""
MAX_PROPERTIES = 16
"""Numeric columns kept as annotation properties at most (the first ones, in table order)."""
MAX_DESCRIPTION = 300
POINT_SIZES = (4.0, 16.0)
"""Marker diameter range (screen pixels) for ``size_by``."""
BOX_SCALES = (0.5, 1.5)
"""Box edge range for ``size_by``, as multiples of ``box_size``."""


@dataclass(frozen=True)
class TableLayer:
    """The state with the table's layer, and which row each annotation is: ``annotation_ids[i]`` is row
    ``i``'s (None: that row has no usable coordinates), for the first ``len(annotation_ids)`` rows of the
    table's ``total``; ``shown`` annotations were drawn."""

    state: NgState
    layer: str
    annotation_ids: tuple[str | None, ...]
    shown: int
    total: int

    @property
    def message(self) -> str:
        """What was drawn, in one sentence (it says so when rows were left out)."""
        kept = len(self.annotation_ids)
        parts = [f"'{self.layer}' shows {self.shown:,} of the table's {self.total:,} rows"]
        if kept < self.total:
            parts.append(
                f"only the first {kept:,} rows were used (a view's state holds at most {kept:,}); "
                "filter or sort the table to choose which"
            )
        if self.shown < kept:
            parts.append(f"{kept - self.shown:,} rows have a missing or non-finite coordinate")
        return "; ".join(parts) + "."

    def row_of(self, annotation_id: str) -> int | None:
        """The row an annotation id belongs to (None: not one of this layer's)."""
        try:
            return self.annotation_ids.index(annotation_id)
        except ValueError:
            return None


def _shader(has_color: bool, has_size: bool, shape: str) -> str | None:
    lines = ["  setColor(prop_color());"] if has_color else []
    if has_size and shape == "point":
        lines.append("  setPointMarkerSize(prop_size());")
    return "void main() {\n" + "\n".join(lines) + "\n}\n" if lines else None


def _description(row: dict[str, Any], key_column: str, text_columns: Sequence[str]) -> str:
    parts = [f"{key_column}={row[key_column]}"] + [
        f"{c}={row[c]}" for c in text_columns if c != key_column and row[c] is not None
    ]
    text = ", ".join(parts)
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def _segment(value: Any) -> str | None:
    """A segment id as Neuroglancer writes it (a decimal uint64), None when the cell is not one."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return str(number) if 0 < number < 2**64 and number == value else None


@dataclass(frozen=True)
class _Rows:
    """What each kept row turns into: its columns' roles and the values computed over all of them."""

    key: str
    coordinates: tuple[str, ...]
    numeric: list[str]
    text: list[str]
    segment_column: str | None
    shape: str
    box_size: float
    rest: list[float]
    """Coordinates of the dimensions past the table's (the current position)."""
    colors: list[str] | None
    sizes: list[float] | None

    @classmethod
    def of(
        cls,
        kept: pl.DataFrame,
        key: str,
        coordinates: tuple[str, ...],
        segment_column: str | None,
        shape: str,
        box_size: float,
        rest: list[float],
        color_by: str | None,
        size_by: str | None,
    ) -> _Rows:
        """The roles of ``kept``'s columns; colours and sizes computed over all its rows at once."""
        used = {*coordinates, key, segment_column}
        others = [c for c in kept.columns if c not in used]
        return cls(
            key=key,
            coordinates=coordinates,
            numeric=[c for c in others if kept[c].dtype.is_numeric()][:MAX_PROPERTIES],
            text=[c for c in others if not kept[c].dtype.is_numeric()],
            segment_column=segment_column,
            shape=shape,
            box_size=box_size,
            rest=rest,
            colors=colors_for(kept[color_by]) if color_by else None,
            sizes=sizes_for(kept[size_by], *(POINT_SIZES if shape == "point" else BOX_SCALES))
            if size_by
            else None,
        )

    def annotation(self, i: int, row: dict[str, Any], annotation_id: str) -> dict[str, Any] | None:
        """Row ``i`` as an annotation; None when a coordinate is missing, NaN, infinite or too large."""
        values = [row[c] for c in self.coordinates]
        if any(v is None or float32_value(v) != float(v) for v in values):
            return None
        point = [float(v) for v in values]
        annotation: dict[str, Any] = {"id": annotation_id}
        if self.shape == "point":
            annotation.update(type="point", point=point + self.rest)
        else:
            half = self.box_size * (self.sizes[i] if self.sizes is not None else 1.0) / 2
            annotation.update(
                type="axis_aligned_bounding_box",
                pointA=[v - half for v in point] + self.rest,
                pointB=[v + half for v in point] + self.rest,
            )
        annotation["description"] = _description(row, self.key, self.text)
        props: list[Any] = [self.colors[i]] if self.colors is not None else []
        if self.sizes is not None:
            props.append(round(self.sizes[i], 4))
        props.extend(float32_value(row[c]) for c in self.numeric)
        if props:
            annotation["props"] = props
        if self.segment_column and (segment := _segment(row[self.segment_column])) is not None:
            annotation["segments"] = [[segment]]
        return annotation


def _check(
    frame: pl.DataFrame,
    coordinates: Sequence[str],
    key: str | None,
    segment_column: str | None,
    segment_layer: str | None,
    shape: str,
    color_by: str | None,
    size_by: str | None,
    max_rows: int,
) -> None:
    """Every argument a person (or a model) could get wrong, with a message that says what to do."""
    if shape not in ("point", "box"):
        raise NgStateError(f"Unknown shape '{shape}': use point or box.")
    if not coordinates:
        raise NgStateError(
            "Annotations need coordinate columns (x, y, z); for a table of segment ids only, select the "
            "segments in the segmentation layer instead."
        )
    if segment_column and not segment_layer:
        raise NgStateError("Linking rows to segments needs a segmentation layer; this view has none.")
    if max_rows < 1:
        raise NgStateError("At least one row must be shown.")
    roles: dict[str, str | None] = {f"coordinate {i + 1}": c for i, c in enumerate(coordinates)}
    roles.update({"row ids": key, "segment ids": segment_column, "colour": color_by, "size": size_by})
    for role, column in roles.items():
        if column is not None and column not in frame.columns:
            raise NgStateError(
                f"The table has no column '{column}' for {role}. Its columns are: {', '.join(frame.columns)}."
            )
    for column in coordinates:
        if not frame[column].dtype.is_numeric():
            raise NgStateError(f"The coordinate column '{column}' is not numeric.")
    if size_by and not frame[size_by].dtype.is_numeric():
        raise NgStateError(f"Sizes come from a numeric column; '{size_by}' is not one.")


def _fresh_layer(state: NgState, name: str) -> NgState:
    """``state`` with an empty local annotation layer ``name`` (one of a former table replaced)."""
    if name.lower() in (n.lower() for n in state.layer_names):
        existing = state.layer(name)
        if existing.get("type") != "annotation" or state.layer_source(name) != "local://annotations":
            raise NgStateError(f"'{name}' is a layer of the view already; choose another name.")
        state = remove_layer(state, name)
    return add_layer(state, name, "annotation")


def _properties(numeric: list[str], color_by: str | None, size_by: str | None, shape: str) -> list[Any]:
    """The layer's ``annotationProperties``: colour, size, then the numeric columns (in the props' order)."""
    properties: list[dict[str, Any]] = []
    if color_by:
        properties.append({"id": "color", "type": "rgb", "default": "#ffff00", "description": color_by})
    if size_by:
        default_size = POINT_SIZES[0] if shape == "point" else 1.0
        properties.append({"id": "size", "type": "float32", "default": default_size, "description": size_by})
    reserved = [p["id"] for p in properties]
    for column, pid in zip(numeric, property_ids(numeric, reserved)):
        properties.append({"id": pid, "type": "float32", "default": 0, "description": column})
    return properties


def table_annotation_layer(
    state: NgState,
    frame: pl.DataFrame,
    name: str,
    *,
    id_column: str | None = None,
    coordinates: Sequence[str] = ("x", "y", "z"),
    segment_column: str | None = None,
    segment_layer: str | None = None,
    shape: Literal["point", "box"] = "point",
    color_by: str | None = None,
    size_by: str | None = None,
    box_size: float = 4.0,
    max_rows: int = MAX_TABLE_ANNOTATIONS,
    total: int | None = None,
) -> TableLayer:
    """``state`` with a local annotation layer ``name`` holding the first ``max_rows`` rows of ``frame``.

    ``coordinates``: the columns giving each row's position, in the state's dimension order (dimensions
    past them take the current position). ``id_column`` (default ``id``, else the row number) names the
    annotations. ``segment_column`` + ``segment_layer``: each annotation is linked to its segment.
    ``shape='box'``: a cube of edge ``box_size`` (scaled 0.5-1.5x by ``size_by``) around the point.
    A layer of that name made earlier is replaced; one of another kind is an error. Costs one pass over
    the rows kept (Python objects: ``max_rows`` bounds it). ``total``: the table's row count, when
    ``frame`` holds only its first rows (a table read lazily from a file).
    """
    name = (name or "").strip()
    key = id_column or ("id" if "id" in frame.columns else None)
    _check(frame, coordinates, key, segment_column, segment_layer, shape, color_by, size_by, max_rows)
    if segment_layer:
        state.layer(segment_layer)  # LayerNotFound names the layers there are
    kept = frame.head(max_rows)
    if key is None:
        key, kept = "row", kept.with_row_index("row", offset=1)
    state = _fresh_layer(state, name)
    dims = annotation_dimensions(state, name)
    if len(coordinates) > len(dims):
        raise NgStateError(
            f"{len(coordinates)} coordinate columns, but the view has {len(dims)} dimensions "
            f"({', '.join(dims)})."
        )
    rest = [float((state.position or {}).get(d, 0.0)) for d in dims[len(coordinates) :]]
    rows = _Rows.of(kept, key, tuple(coordinates), segment_column, shape, box_size, rest, color_by, size_by)
    made = [
        rows.annotation(i, row, annotation_id)
        for i, (row, annotation_id) in enumerate(
            zip(kept.iter_rows(named=True), annotation_ids(kept[key].to_list()))
        )
    ]
    annotations = [a for a in made if a is not None]
    new = _write_layer(
        state,
        name,
        annotations,
        _properties(rows.numeric, color_by, size_by, shape),
        state.layer_key(segment_layer) if segment_column and segment_layer else None,
        _shader(bool(color_by), bool(size_by), shape),
    )
    drawn = tuple(a["id"] if a is not None else None for a in made)
    return TableLayer(new, new.layer_key(name), drawn, len(annotations), max(total or 0, frame.height))


def _write_layer(
    state: NgState,
    name: str,
    annotations: list[dict[str, Any]],
    properties: list[Any],
    segment_layer: str | None,
    shader: str | None,
) -> NgState:
    """``state`` with the layer ``name``'s annotations, properties, segment link and shader set."""
    new = state.clone()
    layer = new._find_layer(name)
    layer["annotations"] = annotations
    if properties:
        layer["annotationProperties"] = properties
    if segment_layer:
        layer["annotationRelationships"] = ["segments"]
        layer["linkedSegmentationLayer"] = {"segments": segment_layer}
    if shader:
        layer["shader"] = shader
    return new


def selected_annotation(state: NgState | dict[str, Any], layer: str) -> str | None:
    """The id of the annotation of ``layer`` selected in the viewer (Neuroglancer's ``selection`` key), or
    None."""
    data = state.to_dict() if isinstance(state, NgState) else state
    selection = data.get("selection")
    layers = selection.get("layers") if isinstance(selection, dict) else None
    chosen = layers.get(layer) if isinstance(layers, dict) else None
    annotation_id = chosen.get("annotationId") if isinstance(chosen, dict) else None
    return annotation_id if isinstance(annotation_id, str) else None


def focus_annotation(state: NgState, layer: str, annotation_id: str) -> NgState:
    """``state`` centred on an annotation of ``layer``, which is selected (the viewer's selection panel shows
    its properties); its linked segment is selected too. ``NgStateError`` if there is no such annotation."""
    layer_json = state.layer(layer)
    found = next((a for a in layer_json.get("annotations") or [] if a.get("id") == annotation_id), None)
    if found is None:
        raise NgStateError(f"'{layer}' has no annotation '{annotation_id}'.")
    if "point" in found:
        where = list(found["point"])
    else:
        where = [(a + b) / 2 for a, b in zip(found["pointA"], found["pointB"])]
    dims = annotation_dimensions(state, layer)
    new = set_position(state, dict(zip(dims, where)))
    data = new._data
    data["selection"] = {
        "layers": {
            state.layer_key(layer): {
                "annotationId": annotation_id,
                "annotationSource": 0,
                "annotationSubsource": "default",
            }
        }
    }
    segments = found.get("segments") or []
    linked = (layer_json.get("linkedSegmentationLayer") or {}).get("segments")
    if linked and segments and segments[0]:
        segmentation = new._find_layer(linked)
        segmentation["segments"] = [str(s) for s in segments[0]]
    return new
