"""Build an ``NwbIndex`` from a LINDI file (or any h5py-like object) through its public API.

LINDI subclasses ``h5py.File`` but is not backed by HDF5, so the batched pointer-chasing walk
of ``_walk`` cannot read it; this walk goes through the public API instead, by the same rules
(``_object_info``). A LINDI index holds the whole structure and the small values in its JSON,
so this costs no requests beyond loading it, except for small values whose chunks LINDI left
in the HDF5 file.
"""

from __future__ import annotations

import time
from typing import Any

import h5py
import numpy as np

from engines.nwb._object_info import dataset_info, group_info, keeps_value, read_attrs
from engines.nwb.index import NwbIndex, ObjectInfo, child_path, to_jsonable

__all__ = ["walk_generic"]


def walk_generic(root: Any) -> NwbIndex:
    """Index an h5py-like file (LINDI) through its public API, by the same rules as ``walk_h5py``.

    What LINDI cannot tell: hard links (every path is its own object), storage layout
    (``chunks``/``compression``/``maxshape`` describe its zarr chunks), and compound values
    (lindi cannot select them: listed with the error).
    """
    started = time.perf_counter()
    objects = _LindiWalker(root).run()
    version = objects["/"].attrs.get("nwb_version")
    return NwbIndex(
        objects=objects,
        nwb_version=version if isinstance(version, str) else None,
        build_seconds=time.perf_counter() - started,
    )


class _LindiWalker:
    """One breadth-first walk: the objects found so far, and how references are named."""

    def __init__(self, root: Any) -> None:
        import lindi

        self.root = root
        self.references = (h5py.Reference, lindi.LindiH5pyReference)
        self.objects: dict[str, ObjectInfo] = {}

    def run(self) -> dict[str, ObjectInfo]:
        self.objects["/"] = group_info("/", read_attrs(self.root["/"], self.decode))
        level = [("/", self.root["/"])]
        while level:
            level = [child for parent, group in level for child in self._children(parent, group)]
        return self.objects

    def name_of(self, ref: Any) -> str | None:
        try:
            name = self.root[ref].name  # None for an anonymous object
        except Exception:  # a dangling reference is data, not a reason to fail the index
            return None
        return name if isinstance(name, str) else None

    def decode(self, value: Any) -> Any:
        """An attribute value as the index keeps it, references named by path."""
        if isinstance(value, self.references):
            return {"ref": self.name_of(value)}
        if (
            isinstance(value, np.ndarray)
            and value.dtype == object
            and value.size
            and isinstance(value.flat[0], self.references)
        ):
            return [{"ref": self.name_of(v)} for v in value.flat]
        return to_jsonable(value)

    def _children(self, parent: str, group: Any) -> list[tuple[str, Any]]:
        """Describe the children of ``group``; the subgroups, to walk next."""
        subgroups = []
        for name in group:
            path = child_path(parent, name)
            self.objects[parent].children.append(name)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                self.objects[path] = ObjectInfo(path=path, kind="soft_link", link_target=link.path)
                continue
            if isinstance(link, h5py.ExternalLink):
                target = f"{link.filename}:{link.path}"
                self.objects[path] = ObjectInfo(path=path, kind="external_link", link_target=target)
                continue
            try:
                obj = group[name]
            except Exception as exc:  # a broken object is listed with its error; the walk goes on
                self.objects[path] = ObjectInfo(path=path, kind="dataset", error=f"Cannot open: {exc}")
                continue
            if isinstance(obj, h5py.Group):
                self.objects[path] = group_info(path, read_attrs(obj, self.decode))
                subgroups.append((path, obj))
            else:
                self.objects[path] = self._dataset(path, obj)
        return subgroups

    def _dataset(self, path: str, dset: Any) -> ObjectInfo:
        dtype = dset.dtype
        info = dataset_info(path, dset, read_attrs(dset, self.decode), dtype)
        keeps = keeps_value(path, dset.shape, dtype)
        if info.dtype == "str" and dset.shape and dset.size and not keeps:
            # LINDI stores references like strings; its object chunks are inline, so one element costs
            # no request
            if isinstance(dset[(0,) * len(dset.shape)], self.references):
                info.dtype = "ref"
        elif keeps:
            try:
                value = dset[()]
                flat = np.atleast_1d(value)
                if flat.dtype == object and flat.size and isinstance(flat.flat[0], self.references):
                    info.dtype, info.value = "ref", [self.name_of(v) for v in flat.flat]
                else:
                    info.value = to_jsonable(value)
                info.has_value = True
            except Exception as exc:  # an unreadable value is reported on the object, not fatal
                info.error = f"Cannot read value: {exc}"
        return info
