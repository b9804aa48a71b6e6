"""The file index: every group and dataset of an NWB file with the metadata views decide from.

An index is plain data (JSON-able), so it is built once per file version, stored in the
workspace and shared by every session. Views pick themselves from it without touching
the file; pynwb objects are built only for the object a view shows, when it needs them.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from engines.nwb.errors import ObjectNotFound

__all__ = ["ObjectInfo", "NwbIndex", "scalar_text", "to_jsonable"]

ObjectKind = Literal["group", "dataset", "soft_link", "external_link"]


@dataclass
class ObjectInfo:
    """One object of the file, as far as it can be known without reading its data."""

    path: str
    kind: ObjectKind
    neurodata_type: str | None = None
    namespace: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    shape: list[int] | None = None
    dtype: str | None = None
    chunks: list[int] | None = None
    compression: str | None = None
    maxshape: list[int | None] | None = None
    value: Any = None
    has_value: bool = False
    link_target: str | None = None
    hard_link_of: str | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] or "/"

    @property
    def parent(self) -> str | None:
        if self.path == "/":
            return None
        head = self.path.rsplit("/", 1)[0]
        return head or "/"

    @property
    def dims(self) -> list[int]:
        """The shape, or no dimensions where none is known (groups, links, empty dataspaces).

        For code that checks the number of dimensions before it indexes them."""
        return self.shape or []

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        if self.dtype is None or self.shape is None:
            return 0
        try:
            return self.size * np.dtype(self.dtype).itemsize
        except TypeError:
            return self.size * 8


_OBJECT_FIELDS = tuple(f.name for f in fields(ObjectInfo))
"""Stored field by field, not with ``asdict``: the values are JSON-able already, and its deep copy cost
a tenth of a first open of a file with a few hundred objects."""


def child_path(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


@dataclass
class NwbIndex:
    """All objects of one file version, with the type lineage views use to pick themselves."""

    objects: dict[str, ObjectInfo]
    nwb_version: str | None
    lineage: dict[str, list[str]] = field(default_factory=dict)
    build_requests: int = 0
    build_seconds: float = 0.0
    scopes: list[str] | None = None
    """None for the whole file; else the groups whose branches alone were walked (``walk_h5py``)."""

    def covers(self, path: str) -> bool:
        """Whether this index holds everything at and below ``path`` that the file does."""
        path = normalize_path(path)
        return self.scopes is None or any(
            scope == "/" or path == scope or path.startswith(scope + "/") for scope in self.scopes
        )

    def joined(self, other: NwbIndex) -> NwbIndex:
        """This scoped index and another of the same file: both branches (a scoped walk lists every child
        of the groups it passes, so the ancestors they share are the same in both)."""
        scopes = None if self.scopes is None or other.scopes is None else [*self.scopes, *other.scopes]
        objects = {**self.objects, **other.objects}
        return NwbIndex(
            objects, self.nwb_version or other.nwb_version, self.lineage or other.lineage, scopes=scopes
        )

    def get(self, path: str) -> ObjectInfo:
        path = normalize_path(path)
        try:
            return self.objects[path]
        except KeyError:
            raise ObjectNotFound(f"This file has no object at '{path}'.") from None

    def __contains__(self, path: str) -> bool:
        return normalize_path(path) in self.objects

    def children(self, path: str) -> list[ObjectInfo]:
        info = self.get(path)
        return [
            self.objects[child_path(info.path, name)]
            for name in info.children
            if child_path(info.path, name) in self.objects
        ]

    def types_of(self, path: str) -> list[str]:
        """The object's neurodata type followed by its ancestors (ElectricalSeries, TimeSeries, ...)."""
        info = self.get(path)
        if not info.neurodata_type:
            return []
        return self.lineage.get(info.neurodata_type, [info.neurodata_type])

    def is_a(self, path: str, neurodata_type: str) -> bool:
        return neurodata_type in self.types_of(path)

    def walk(self, path: str = "/") -> Iterator[ObjectInfo]:
        """Depth-first, in stored child order."""
        stack = [self.get(path)]
        while stack:
            info = stack.pop()
            yield info
            stack.extend(reversed(self.children(info.path)))

    def find_by_type(self, neurodata_type: str) -> list[ObjectInfo]:
        return [
            info
            for info in self.objects.values()
            if info.neurodata_type
            and neurodata_type in self.lineage.get(info.neurodata_type, [info.neurodata_type])
        ]

    def to_bytes(self) -> bytes:
        payload = {
            "nwb_version": self.nwb_version,
            "lineage": self.lineage,
            "scopes": self.scopes,
            "objects": [{name: getattr(o, name) for name in _OBJECT_FIELDS} for o in self.objects.values()],
        }
        # level 1: a third of level 6's CPU, paid on every first open, for a slightly larger row
        return zlib.compress(json.dumps(payload, allow_nan=True).encode(), 1)

    @classmethod
    def from_bytes(cls, data: bytes) -> NwbIndex:
        payload = json.loads(zlib.decompress(data))
        objects = {o["path"]: ObjectInfo(**o) for o in payload["objects"]}
        return cls(
            objects=objects,
            nwb_version=payload["nwb_version"],
            lineage=payload["lineage"],
            scopes=payload.get("scopes"),
        )


SCALAR_TEXT_CHARS = 24
"""A scalar's text shown beside its name is cut to this many characters."""


def scalar_text(info: ObjectInfo, max_chars: int = SCALAR_TEXT_CHARS) -> str | None:
    """A scalar dataset's value as one short line of plain text (not escaped), from the index alone.

    None for anything else (groups, arrays, values the index did not keep). The index keeps NaN
    as None (JSON has no NaN), so a float scalar without a value reads ``NaN``.
    """
    if info.kind != "dataset" or not info.has_value or info.shape != []:
        return None
    value = info.value
    if value is None:
        return "NaN" if (info.dtype or "").lstrip("<>=|").startswith("f") else None
    if isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split()) if isinstance(value, str) else str(value)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def normalize_path(path: str) -> str:
    path = "/" + (path or "").strip().strip("/")
    return path


def _plain_numbers(value: np.ndarray) -> bool:
    """Integers, booleans, or finite floats: ``tolist()`` gives what the element-wise conversion would."""
    kind = value.dtype.kind
    return kind in "iub" or (kind == "f" and value.dtype.itemsize <= 8 and bool(np.isfinite(value).all()))


def to_jsonable(value: Any) -> Any:
    """Turn HDF5 attribute/dataset values into JSON-able Python values."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
        return to_jsonable(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    if isinstance(value, np.ndarray):
        if value.ndim and _plain_numbers(value):  # a short column kept in the index: one call, not one a cell
            return value.tolist()
        if value.dtype.names:
            return [to_jsonable(tuple(row)) for row in value.tolist()]
        return [to_jsonable(v) for v in value.tolist()] if value.ndim else to_jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)
