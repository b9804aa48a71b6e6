"""How one HDF5 object becomes an ``ObjectInfo``: the rules both walks share.

``_walk`` (h5py over HDF5, batched for remote files) and ``_walk_lindi`` (LINDI's h5py-like
API) reach objects in different ways but must describe them alike, so an index reads the
same whichever walk built it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from engines.nwb.index import ObjectInfo

__all__ = [
    "SMALL_VALUE_BYTES",
    "SMALL_VALUE_ELEMENTS",
    "dataset_info",
    "dtype_text",
    "group_info",
    "keeps_value",
    "neurodata_types",
    "read_attr",
    "read_attrs",
]

SMALL_VALUE_BYTES = 4096
"""Datasets up to this size keep their values in the index (scalars, labels, short columns)."""

SMALL_VALUE_ELEMENTS = 512


def dtype_text(dtype: np.dtype) -> str:
    """The type as the index shows it: numpy's code for plain numbers, a word for what numpy cannot say."""
    if dtype.kind in "iufcb" and dtype.metadata is None:  # plain numbers (not h5py enums): the common case
        return dtype.str
    if h5py.check_string_dtype(dtype) is not None or dtype.kind == "U":
        return "str"
    if h5py.check_ref_dtype(dtype) is not None:
        return "ref"
    if dtype.names:
        return "compound(" + ", ".join(f"{n}:{dtype_text(dtype[n])}" for n in dtype.names) + ")"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "vlen"
    return dtype.str


def keeps_value(path: str, shape: tuple[int, ...] | None, dtype: np.dtype) -> bool:
    """Whether the index keeps a dataset's value: small, and not a namespace specification (long text).

    Takes the dataset's shape and type, which h5py computes anew at every access."""
    if shape is None or path.startswith("/specifications/"):
        return False
    size = math.prod(shape)
    itemsize = dtype.itemsize if dtype.kind not in "OVU" else 64
    return size <= SMALL_VALUE_ELEMENTS and size * itemsize <= SMALL_VALUE_BYTES


def read_attrs(obj: h5py.HLObject, decode: Callable[[Any], Any]) -> dict[str, Any]:
    """Every attribute of ``obj`` through ``decode``; one that cannot be read is named, not fatal."""
    return {key: read_attr(obj, key, decode) for key in obj.attrs}


def read_attr(obj: h5py.HLObject, key: str, decode: Callable[[Any], Any]) -> Any:
    """One attribute through ``decode``, or a ``<unreadable: ...>`` note the index can show."""
    try:
        return decode(obj.attrs[key])
    except Exception as exc:  # unreadable attribute types (e.g. empty vlen) are reported, not fatal
        return f"<unreadable: {exc.__class__.__name__}>"


def group_info(path: str, attrs: dict[str, Any]) -> ObjectInfo:
    """A group's entry (its children are added as the walk meets them)."""
    ndt, ns = neurodata_types(attrs)
    return ObjectInfo(path=path, kind="group", neurodata_type=ndt, namespace=ns, attrs=attrs)


def dataset_info(path: str, dset: h5py.Dataset, attrs: dict[str, Any], dtype: np.dtype) -> ObjectInfo:
    """A dataset's entry without its value (the walk decides whether to keep that)."""
    ndt, ns = neurodata_types(attrs)
    shape, chunks, maxshape = dset.shape, dset.chunks, dset.maxshape
    return ObjectInfo(
        path=path,
        kind="dataset",
        neurodata_type=ndt,
        namespace=ns,
        attrs=attrs,
        shape=list(shape) if shape is not None else None,
        dtype=dtype_text(dtype),
        chunks=list(chunks) if chunks else None,
        compression=dset.compression,
        maxshape=list(maxshape) if maxshape is not None else None,
    )


def neurodata_types(attrs: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(neurodata_type, namespace)`` from an object's attributes (hdmf's ``data_type`` counts too)."""
    ndt = attrs.get("neurodata_type") or attrs.get("data_type")
    ns = attrs.get("namespace")
    return (ndt if isinstance(ndt, str) else None, ns if isinstance(ns, str) else None)
