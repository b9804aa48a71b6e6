"""Build an ``NwbIndex`` by walking HDF5 one tree level at a time.

A naive walk reads one object header per round trip. Here a group's link table gives the
addresses of all its children's headers before any of them is read, so each level of the
tree is fetched with concurrent range requests (``prefetch``) and then parsed from cache.
The same goes for the raw bytes of small contiguous datasets whose values the index keeps.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Protocol

import h5py
import numpy as np

from engines.nwb.index import NwbIndex, ObjectInfo, child_path, to_jsonable

__all__ = ["walk_h5py", "walk_generic", "SMALL_VALUE_BYTES"]

SMALL_VALUE_BYTES = 4096
"""Datasets up to this size keep their values in the index (scalars, labels, short columns)."""

SMALL_VALUE_ELEMENTS = 512


class Prefetcher(Protocol):
    def prefetch(self, offsets: list[int], span: int = 1) -> int: ...


def _decode_attr(value: Any, deref: Callable[[Any], str | None]) -> Any:
    if isinstance(value, h5py.Reference):
        return {"ref": deref(value)}
    if isinstance(value, np.ndarray) and value.dtype == object and value.size and isinstance(value.flat[0], h5py.Reference):
        return [{"ref": deref(v)} for v in value.flat]
    return to_jsonable(value)


def _dtype_text(dtype: np.dtype) -> str:
    if h5py.check_string_dtype(dtype) is not None:
        return "str"
    if h5py.check_ref_dtype(dtype) is not None:
        return "ref"
    if dtype.names:
        return "compound(" + ", ".join(f"{n}:{_dtype_text(dtype[n])}" for n in dtype.names) + ")"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "vlen"
    return dtype.str


def _is_small(dset: h5py.Dataset) -> bool:
    if dset.shape is None:
        return False
    size = int(np.prod(dset.shape))
    itemsize = dset.dtype.itemsize if dset.dtype.kind not in "OV" else 64
    return size <= SMALL_VALUE_ELEMENTS and size * itemsize <= SMALL_VALUE_BYTES


def _types(attrs: dict[str, Any]) -> tuple[str | None, str | None]:
    ndt = attrs.get("neurodata_type") or attrs.get("data_type")
    ns = attrs.get("namespace")
    return (ndt if isinstance(ndt, str) else None, ns if isinstance(ns, str) else None)


class _H5Walker:
    def __init__(self, h5: h5py.File, prefetcher: Prefetcher | None) -> None:
        self.h5 = h5
        self.prefetcher = prefetcher
        self.objects: dict[str, ObjectInfo] = {}
        self.path_by_addr: dict[int, str] = {}

    def deref(self, ref: h5py.Reference) -> str | None:
        if not ref:
            return None
        try:
            oid = h5py.h5r.dereference(ref, self.h5.id)
            addr = h5py.h5o.get_info(oid).addr
        except Exception:  # a dangling reference is data, not a reason to fail the index
            return None
        return self.path_by_addr.get(addr) or h5py.h5r.get_name(ref, self.h5.id).decode()

    def _prefetch(self, offsets: list[int]) -> None:
        if self.prefetcher is not None and offsets:
            self.prefetcher.prefetch(offsets)

    def run(self) -> dict[str, ObjectInfo]:
        root = self.h5["/"]
        self.path_by_addr[h5py.h5o.get_info(root.id).addr] = "/"
        self.objects["/"] = self._group_info("/", root)
        level = [("/", root)]
        while level:
            level = self._next_level(level)
        return self.objects

    def _next_level(self, level: list[tuple[str, h5py.Group]]) -> list[tuple[str, h5py.Group]]:
        plan: list[tuple[str, h5py.Group, str, int, int]] = []
        for path, group in level:
            names: list[bytes] = []
            group.id.links.iterate(names.append)
            for raw in names:
                info = group.id.links.get_info(raw)
                plan.append((path, group, raw.decode(), info.type, info.u if info.type == h5py.h5l.TYPE_HARD else -1))
        self._prefetch([addr for *_, kind, addr in plan if kind == h5py.h5l.TYPE_HARD and addr not in self.path_by_addr])
        next_level: list[tuple[str, h5py.Group]] = []
        small: list[tuple[str, h5py.Dataset]] = []
        for parent, group, name, kind, addr in plan:
            path = child_path(parent, name)
            self.objects[parent].children.append(name)
            if kind == h5py.h5l.TYPE_SOFT:
                target = group.get(name, getlink=True).path
                self.objects[path] = ObjectInfo(path=path, kind="soft_link", link_target=target)
                continue
            if kind == h5py.h5l.TYPE_EXTERNAL:
                link = group.get(name, getlink=True)
                self.objects[path] = ObjectInfo(path=path, kind="external_link", link_target=f"{link.filename}:{link.path}")
                continue
            if addr in self.path_by_addr:
                first = self.path_by_addr[addr]
                self.objects[path] = ObjectInfo(path=path, kind="soft_link", link_target=first, hard_link_of=first)
                continue
            self.path_by_addr[addr] = path
            try:
                obj = group[name]
            except Exception as exc:  # a broken object is listed with its error; the walk goes on
                self.objects[path] = ObjectInfo(path=path, kind="dataset", error=f"Cannot open: {exc}")
                continue
            if isinstance(obj, h5py.Group):
                self.objects[path] = self._group_info(path, obj)
                next_level.append((path, obj))
            else:
                self.objects[path] = self._dataset_info(path, obj)
                if _is_small(obj) and not path.startswith("/specifications/"):
                    small.append((path, obj))
        self._read_small_values(small)
        return next_level

    def _attrs(self, obj: h5py.HLObject) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in obj.attrs:
            try:
                out[key] = _decode_attr(obj.attrs[key], self.deref)
            except Exception as exc:  # unreadable attribute types (e.g. empty vlen) are reported, not fatal
                out[key] = f"<unreadable: {exc.__class__.__name__}>"
        return out

    def _group_info(self, path: str, group: h5py.Group) -> ObjectInfo:
        attrs = self._attrs(group)
        ndt, ns = _types(attrs)
        return ObjectInfo(path=path, kind="group", neurodata_type=ndt, namespace=ns, attrs=attrs)

    def _dataset_info(self, path: str, dset: h5py.Dataset) -> ObjectInfo:
        attrs = self._attrs(dset)
        ndt, ns = _types(attrs)
        return ObjectInfo(
            path=path, kind="dataset", neurodata_type=ndt, namespace=ns, attrs=attrs,
            shape=list(dset.shape) if dset.shape is not None else None,
            dtype=_dtype_text(dset.dtype),
            chunks=list(dset.chunks) if dset.chunks else None,
            compression=dset.compression,
            maxshape=list(dset.maxshape) if dset.maxshape is not None else None,
        )

    def _read_small_values(self, small: list[tuple[str, h5py.Dataset]]) -> None:
        offsets = [off for _, dset in small if (off := dset.id.get_offset()) is not None]
        self._prefetch(offsets)
        for path, dset in small:
            info = self.objects[path]
            try:
                value = dset[()]
                if h5py.check_ref_dtype(dset.dtype) is not None:
                    info.value = [self.deref(r) for r in np.atleast_1d(value).flat]
                else:
                    info.value = to_jsonable(value)
                info.has_value = True
            except Exception as exc:
                info.error = f"Cannot read value: {exc}"


def walk_h5py(h5: h5py.File, prefetcher: Prefetcher | None = None) -> NwbIndex:
    """Index a real h5py file; with a prefetcher, one round trip per tree level."""
    started = time.perf_counter()
    objects = _H5Walker(h5, prefetcher).run()
    version = objects["/"].attrs.get("nwb_version")
    return NwbIndex(objects=objects, nwb_version=version if isinstance(version, str) else None,
                    build_seconds=time.perf_counter() - started)


def walk_generic(root: Any) -> NwbIndex:
    """Index any h5py-like file (LINDI) through its public API only."""
    started = time.perf_counter()
    objects: dict[str, ObjectInfo] = {}

    def attrs_of(obj: Any) -> dict[str, Any]:
        out = {}
        for key in obj.attrs.keys():
            value = obj.attrs[key]
            out[key] = {"ref": getattr(root[value], "name", None)} if isinstance(value, h5py.Reference) else to_jsonable(value)
        return out

    stack = [("/", root["/"])]
    while stack:
        path, group = stack.pop()
        attrs = attrs_of(group)
        ndt, ns = _types(attrs)
        info = ObjectInfo(path=path, kind="group", neurodata_type=ndt, namespace=ns, attrs=attrs)
        objects[path] = info
        for name in group.keys():
            info.children.append(name)
            cpath = child_path(path, name)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink) or link.__class__.__name__.endswith("SoftLink"):
                objects[cpath] = ObjectInfo(path=cpath, kind="soft_link", link_target=link.path)
                continue
            obj = group[name]
            if hasattr(obj, "shape"):
                dattrs = attrs_of(obj)
                dndt, dns = _types(dattrs)
                dinfo = ObjectInfo(path=cpath, kind="dataset", neurodata_type=dndt, namespace=dns, attrs=dattrs,
                                   shape=list(obj.shape), dtype=_dtype_text(obj.dtype),
                                   chunks=list(obj.chunks) if getattr(obj, "chunks", None) else None)
                if obj.size <= SMALL_VALUE_ELEMENTS and h5py.check_ref_dtype(obj.dtype) is None:
                    try:
                        dinfo.value, dinfo.has_value = to_jsonable(obj[()]), True
                    except Exception as exc:
                        dinfo.error = f"Cannot read value: {exc}"
                objects[cpath] = dinfo
            else:
                stack.append((cpath, obj))
    version = objects["/"].attrs.get("nwb_version")
    return NwbIndex(objects=objects, nwb_version=version if isinstance(version, str) else None,
                    build_seconds=time.perf_counter() - started)
