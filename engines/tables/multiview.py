"""The ranked multi-view table: the top rows by a metric, each with the viewer state that shows it.

Coordinates map onto the state's named dimensions (``["x", "y", "z"]`` means columns named
like the dimensions; ``{"x": "cx", "y": "cy", "z": "cz"}`` maps dimension -> column), so a
state with ``t`` or other dimension orders works. A row whose coordinates are missing or not
numbers gets a warning and no state; the other rows are unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from engines.ngstate import NgState, NgStateError, build_row_view
from engines.tables.errors import TableError
from engines.tables.model import MultiViewTable
from engines.tables.queries import check_columns

__all__ = ["build_multiview", "MAX_VIEWS"]

MAX_VIEWS = 500


def _coordinate_map(coordinates: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    mapping = dict(coordinates) if isinstance(coordinates, Mapping) else {c: c for c in coordinates}
    if not mapping:
        raise TableError("Name the coordinate columns, e.g. ['x', 'y', 'z'] or {'x': 'centroid_x', ...}.")
    return mapping


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _row_state(
    base: NgState, row: dict[str, Any], mapping: dict[str, str], id_column: str, options: dict[str, Any]
) -> tuple[NgState | None, str | None]:
    position = {}
    for dim, column in mapping.items():
        number = _number(row[column])
        if number is None:
            return None, f"'{column}' is {row[column]!r}, not a number: this row has no position."
        position[dim] = number
    label = str(row[id_column])
    segment_id = row[id_column] if options.get("segment_layer") else None
    try:
        return build_row_view(base, position, label=label, segment_id=segment_id, **options), None
    except NgStateError as exc:
        if segment_id is None:
            return None, str(exc)
        without = {**options, "segment_layer": None}  # keep the view, report the selection that failed
        try:
            return build_row_view(base, position, label=label, **without), f"Segment not selected: {exc}"
        except NgStateError as again:
            return None, str(again)


def build_multiview(
    frame: pl.LazyFrame,
    table: str,
    metric: str,
    base_state: NgState,
    n: int = 20,
    id_column: str = "id",
    coordinates: Sequence[str] | Mapping[str, str] = ("x", "y", "z"),
    descending: bool = True,
    marker_layer: str | None = "selected row",
    segment_layer: str | None = None,
    lut: tuple[float, float] | None = None,
    lut_layer: str | None = None,
    cross_section_scale: float | None = None,
) -> MultiViewTable:
    """Top ``n`` rows by ``metric`` (largest first unless ``descending=False``; nulls last).

    Costs one top-n query (lazy tables are streamed) and one small state edit per row.
    Raises ``TableError`` only when nothing could work (unknown columns or dimensions).
    """
    if not 1 <= n <= MAX_VIEWS:
        raise TableError(f"n must be between 1 and {MAX_VIEWS}.")
    mapping = _coordinate_map(coordinates)
    check_columns(frame, [metric, id_column, *mapping.values()], table)
    for dim in mapping:
        try:
            base_state.dimension_index(dim)
        except NgStateError as exc:
            raise TableError(f"Coordinate '{dim}' does not fit the viewer state: {exc}") from exc
    columns = list(dict.fromkeys([id_column, metric, *mapping.values()]))
    top = frame.select(columns).sort(metric, descending=descending, nulls_last=True).head(n).collect()
    options = {
        "marker_layer": marker_layer,
        "segment_layer": segment_layer,
        "lut": lut,
        "lut_layer": lut_layer,
        "cross_section_scale": cross_section_scale,
    }
    states, warnings = [], []
    for row in top.iter_rows(named=True):
        state, warning = _row_state(base_state, row, mapping, id_column, options)
        if state is not None and _number(row[metric]) is None and warning is None:
            warning = f"'{metric}' is missing for this row; it is ranked last."
        states.append(state)
        warnings.append(warning)
    table_out = top.with_columns(pl.Series("warning", warnings, dtype=pl.String)).with_row_index(
        "rank", offset=1
    )
    return MultiViewTable(table=table_out, states=states, metric=metric, id_column=id_column)
