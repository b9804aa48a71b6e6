"""What every extractor shares: finding children through links, reading values (from the index
when it already holds them), scaling attributes, and turning HDF5 values into text.

Nothing here reads more than the selection it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from engines.errors import NeurodeckError
from engines.nwb.copies import rechunked_copy
from engines.nwb.errors import NwbReadError
from engines.nwb.index import ObjectInfo, child_path
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "child",
    "attr_float",
    "attr_text",
    "is_numeric",
    "indexed_values",
    "read",
    "read_rows",
    "read_scalar",
    "as_text",
    "ref_path",
    "item_text",
    "format_items",
    "ITEMS_SHOWN",
]

ITEMS_SHOWN = 3
"""How many items a list cell shows before "…"."""


def child(f: NwbFile, group: str, name: str) -> ObjectInfo | None:
    """The object ``name`` inside ``group`` with soft links followed, or None when absent (no reads)."""
    path = child_path(f.resolve(group).path, name)
    if path not in f.index:
        return None
    info = f.index.get(path)
    if info.kind == "external_link":
        raise NwbReadError(
            f"'{path}' is stored in another file ({info.link_target}). Open that file to see it."
        )
    return f.resolve(path)


def attr_float(info: ObjectInfo, name: str, default: float) -> float:
    """A numeric attribute (the index may hold numbers as text), or ``default``."""
    value = info.attrs.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def attr_text(info: ObjectInfo, name: str, default: str = "") -> str:
    value = info.attrs.get(name)
    return default if value is None else as_text(value)


def is_numeric(info: ObjectInfo) -> bool:
    """True for int, unsigned, float and bool datasets, decided from the index's dtype text."""
    try:
        return np.dtype(info.dtype).kind in "biuf"
    except (TypeError, ValueError):  # "str", "ref", "compound(...)": not a numpy dtype text
        return False


def indexed_values(info: ObjectInfo) -> np.ndarray | None:
    """The dataset's values as kept in the index (zero reads), or None when the index lacks them.

    Compound and variable-length values are not kept faithfully there, so they are read from the file.
    """
    if not info.has_value or info.dtype is None or info.dtype.startswith(("compound", "vlen")):
        return None
    if info.dtype in ("str", "ref"):
        return np.asarray(info.value, dtype=object)
    try:
        dtype = np.dtype(info.dtype)
    except (TypeError, ValueError):
        return None
    values = np.asarray(info.value, dtype=object)
    if dtype.kind == "f":  # the index may keep floats as text and NaN as None
        values = np.where(values == None, np.nan, values)  # noqa: E711 (element-wise on object arrays)
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return None


def read(f: NwbFile, info: ObjectInfo, selection: Any = ()) -> np.ndarray:
    """``selection`` of a dataset: from the index when it holds the values, else from its rechunked copy
    when the workspace has one, else one HDF5 read of just that."""
    values = indexed_values(info)
    if values is not None:
        return values[selection]
    copy = rechunked_copy(f, info.path)
    if copy is not None:  # a rechunked copy in the workspace (engines.nwb.copies): same values, local chunks
        return _select(copy, selection)
    dset = f.dataset(info.path)
    try:
        return dset[selection]
    except NeurodeckError:
        raise
    except (OSError, RuntimeError) as exc:
        raise NwbReadError(
            f"Reading '{info.path}' failed ({exc}). The file may be damaged or use a "
            "compression filter this server lacks."
        ) from exc


def _select(array: Any, selection: Any) -> np.ndarray:
    """``selection`` of a zarr array as h5py reads it: lists of indexes select along their own axis."""
    parts = selection if isinstance(selection, tuple) else (selection,)
    if any(isinstance(part, (list, np.ndarray)) for part in parts):
        return np.asarray(array.oindex[parts])
    return np.asarray(array[parts if parts else ...])


def read_rows(f: NwbFile, info: ObjectInfo, rows: Sequence[int]) -> np.ndarray:
    """The given rows (any order, repeats allowed) along the first axis, in that order.

    One read: the covering slice when the rows are dense, else an HDF5 point selection of the
    distinct rows, so scattered rows of a long column cost their own bytes only.
    """
    wanted = np.asarray(rows, dtype=np.int64)
    if wanted.size == 0:
        return read(f, info, slice(0, 0))
    unique, where = np.unique(wanted, return_inverse=True)
    first, last = int(unique[0]), int(unique[-1])
    if last - first + 1 <= 2 * len(unique):
        return read(f, info, slice(first, last + 1))[wanted - first]
    return read(f, info, unique.tolist())[where]


def read_scalar(f: NwbFile, info: ObjectInfo) -> float:
    """One number (a scalar dataset, or the first element) as float."""
    value = read(f, info, () if not info.shape else (0,) * len(info.shape))
    return float(np.asarray(value).reshape(-1)[0]) if np.size(value) else float("nan")


def as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(as_text(v) for v in value)
    return str(value)


def ref_path(f: NwbFile, ref: Any) -> str | None:
    """The path an HDF5 object reference points to (None for a null or dangling reference)."""
    if isinstance(ref, str) or ref is None:
        return ref
    if not ref:
        return None
    try:
        return f.h5[ref].name
    except (KeyError, ValueError, OSError):
        return None


def item_text(f: NwbFile, item: Any) -> str:
    """One stored value as short text: numbers to 6 digits, references as paths, records in parentheses."""
    if isinstance(item, h5py.Reference):
        return ref_path(f, item) or "(null reference)"
    names = item.dtype.names if isinstance(item, (np.void, np.ndarray)) else None
    if names:  # a record; an opaque np.void (no fields) falls through to its bytes
        return "(" + ", ".join(item_text(f, item[name]) for name in names) + ")"
    if isinstance(item, np.ndarray):
        return "[" + ", ".join(item_text(f, v) for v in item.tolist()) + "]"
    if isinstance(item, (float, np.floating)):
        return f"{float(item):.6g}"
    return as_text(item.item() if isinstance(item, np.generic) else item)


def format_items(f: NwbFile, items: Any, count: int | None = None) -> str:
    """Short text for a list of values: ``[3 items] 0.1, 0.5, 0.9`` (the first few, then "…")."""
    total = len(items) if count is None else count
    shown = ", ".join(item_text(f, item) for item in list(items)[:ITEMS_SHOWN])
    noun = "item" if total == 1 else "items"
    more = ", …" if total > ITEMS_SHOWN else ""
    return f"[{total} {noun}] {shown}{more}".rstrip()
