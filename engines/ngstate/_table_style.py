"""Colours, sizes and names for a table's annotation layer: column values in, JSON-safe values out.

Column names and cell values are data from an uploaded file: here they only ever become JSON strings
and numbers (never shader code, never a property id as given), so a crafted name such as
``x); discard; //`` cannot reach the layer's shader.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import polars as pl

__all__ = [
    "NULL_COLOR",
    "colors_for",
    "sizes_for",
    "float32_value",
    "property_ids",
    "annotation_ids",
]

NULL_COLOR = "#808080"
"""A row whose colour column is empty (null, NaN) is drawn grey."""

_VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
"""Stops of the viridis map, low to high: numeric columns colour along it."""

_CATEGORIES = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip
"""Text columns colour by category (the tab10 palette, repeated past ten categories)."""

_FLOAT32_MAX = 3.4028234e38
_PROPERTY_ID = re.compile(r"[^A-Za-z0-9_]")
_ANNOTATION_ID = re.compile(r"[^A-Za-z0-9_.-]")


def _normalised(values: pl.Series) -> list[float | None]:
    """Each value scaled to 0..1 between the column's finite min and max (None where missing)."""
    numbers = [float(v) if v is not None and math.isfinite(float(v)) else None for v in values.to_list()]
    present = [v for v in numbers if v is not None]
    if not present:
        return [None] * len(numbers)
    low, high = min(present), max(present)
    span = high - low
    return [None if v is None else (0.5 if span == 0 else (v - low) / span) for v in numbers]


def _viridis(t: float) -> str:
    position = min(max(t, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(position), len(_VIRIDIS) - 2)
    f = position - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def colors_for(values: pl.Series) -> list[str]:
    """``#rrggbb`` per value: viridis along a numeric column, a palette colour per category otherwise."""
    if values.dtype.is_numeric():
        return [NULL_COLOR if t is None else _viridis(t) for t in _normalised(values)]
    categories: dict[str, str] = {}
    colors = []
    for value in values.to_list():
        if value is None:
            colors.append(NULL_COLOR)
            continue
        key = str(value)
        if key not in categories:
            categories[key] = _CATEGORIES[len(categories) % len(_CATEGORIES)]
        colors.append(categories[key])
    return colors


def sizes_for(values: pl.Series, smallest: float, largest: float) -> list[float]:
    """A size per value, linear between ``smallest`` and ``largest`` over the column's range (missing:
    ``smallest``). Raises ``TypeError`` for a column that is not numeric."""
    if not values.dtype.is_numeric():
        raise TypeError("not numeric")
    return [smallest if t is None else smallest + (largest - smallest) * t for t in _normalised(values)]


def float32_value(value: object) -> float:
    """A cell as a JSON number a float32 property can hold (missing or non-finite: 0; clamped)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(number):
        return 0.0
    return min(max(number, -_FLOAT32_MAX), _FLOAT32_MAX)


def property_ids(columns: Sequence[str], reserved: Sequence[str] = ()) -> list[str]:
    """A Neuroglancer property id per column: ``[a-z][A-Za-z0-9_]*`` (what its shader accepts as
    ``prop_<id>()``), unique, never one of ``reserved``; the column's own name goes in the description."""
    taken = set(reserved)
    ids = []
    for column in columns:
        base = _PROPERTY_ID.sub("_", column)[:40].lower() or "col"
        if not base[0].isalpha():
            base = "c_" + base
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate)
        ids.append(candidate)
    return ids


def annotation_ids(keys: Sequence[object]) -> list[str]:
    """``row-<key>`` per row (the key's characters outside ``[A-Za-z0-9_.-]`` replaced), unique: a later
    row whose key collides gets ``-<row number>``."""
    ids, taken = [], set()
    for number, key in enumerate(keys):
        candidate = "row-" + _ANNOTATION_ID.sub("_", str(key))[:64]
        if candidate in taken:
            candidate = f"{candidate}-{number}"
        taken.add(candidate)
        ids.append(candidate)
    return ids
