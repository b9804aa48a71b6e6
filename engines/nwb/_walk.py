"""Build an ``NwbIndex`` by walking HDF5 breadth-first, a whole tree level per batch of reads.

Remotely, h5py would pay a round trip for every object header, continuation block, heap
and B-tree node it meets, one after another (about 200 for 200 scattered TimeSeries).
Here each level's objects are described together inside ``batch_reads``: a read whose
bytes are not cached fails at once, its bytes are requested at once, and the walk goes on
with the level's other objects while they travel; a stopped object is tried again as soon
as its bytes are in. Meanwhile ``PointerChaser`` parses the metadata already fetched and
asks for what it points to (the next level's headers, their heaps and link tables), so most
objects find their bytes waiting. A remote walk costs about one round trip per pointer hop
from the root to the deepest object, however wide the tree, and h5py's work overlaps the
network's; repeated h5py work costs CPU only. Attributes, most of a walk's h5py work once
the bytes are in, are decoded from the headers the chaser parsed (``_h5_attributes``);
h5py reads the kinds that module leaves alone.

Object references are resolved after the walk, when every object's first path (in
breadth-first order) is known, so no reference needs HDF5's whole-file name search.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import h5py
import numpy as np

from engines.io.read_batch import ReadBatch, batch_reads
from engines.nwb._h5_attributes import UNDECODED, AttributeDecoder
from engines.nwb._h5_datasets import dataset_from_header
from engines.nwb._h5_pointers import PointerChaser
from engines.nwb._object_info import (
    SMALL_VALUE_BYTES,
    dataset_info,
    group_info,
    keeps_value,
    read_attr,
    read_attrs,
)
from engines.nwb._walk_lindi import walk_generic
from engines.nwb.index import NwbIndex, ObjectInfo, child_path, to_jsonable

__all__ = ["walk_h5py"]

_HEADER_HINT_BYTES = 512
"""HDF5 reads an object header's first 512 bytes before it knows the header's size."""

T = TypeVar("T")


class Prefetcher(Protocol):
    """A remote file's reader: ``prefetch`` notes byte ranges for the current batch's next fetch."""

    def prefetch(self, offsets: list[int], length: int = 1) -> int: ...

    def peek(self, offset: int, length: int) -> bytes | None: ...


@dataclass
class _Refs:
    """Object references met in an attribute or dataset, named once the walk knows every path."""

    refs: list[h5py.Reference]
    as_attr: bool
    scalar: bool

    def resolve(self, deref: Callable[[h5py.Reference], str | None]) -> Any:
        names = [deref(r) for r in self.refs]
        if not self.as_attr:
            return names
        named = [{"ref": name} for name in names]
        return named[0] if self.scalar else named


@dataclass
class _Link:
    name: str
    kind: int
    addr: int
    target: str | None


@dataclass
class _Node:
    """One object as described by its step: its info, and for a group the h5py group and its links."""

    info: ObjectInfo
    group: h5py.Group | None = None
    links: list[_Link] | None = None


def _decode_attr(value: Any) -> Any:
    if isinstance(value, h5py.Reference):
        return _Refs([value], as_attr=True, scalar=True)
    if (
        isinstance(value, np.ndarray)
        and value.dtype == object
        and value.size
        and isinstance(value.flat[0], h5py.Reference)
    ):
        return _Refs(list(value.flat), as_attr=True, scalar=False)
    return to_jsonable(value)


def _links(group: h5py.Group) -> list[_Link]:
    names: list[bytes] = []
    group.id.links.iterate(names.append)
    links = []
    for raw in names:
        info = group.id.links.get_info(raw)
        name = raw.decode()
        target = None
        if info.type == h5py.h5l.TYPE_SOFT:
            target = group.get(name, getlink=True).path
        elif info.type == h5py.h5l.TYPE_EXTERNAL:
            link = group.get(name, getlink=True)
            target = f"{link.filename}:{link.path}"
        links.append(_Link(name, info.type, info.u if info.type == h5py.h5l.TYPE_HARD else -1, target))
    return links


def _open_child(parent: h5py.Group, name: str) -> h5py.HLObject:
    """``parent[name]`` for a read-only file, without h5py's per-call lookup of the file's mode."""
    oid = h5py.h5o.open(parent.id, name.encode("utf-8"))
    kind = h5py.h5i.get_type(oid)
    if kind == h5py.h5i.GROUP:
        return h5py.Group(oid)
    if kind == h5py.h5i.DATASET:
        return h5py.Dataset(oid, readonly=True)
    return h5py.Datatype(oid)


class _Rounds:
    """Runs independent steps; inside a batch, a step that stops for bytes is retried once they are in.

    The bytes a stopped step needs are requested at once, and the other steps go on while
    they travel; the walk waits only when no step can go on. So h5py's work on one object
    overlaps the network time of the others, and a level costs about one round trip per
    pointer hop, not one per object.
    """

    def __init__(self, batch: ReadBatch | None) -> None:
        self.batch = batch

    def run(self, steps: list[Callable[[], T]]) -> list[T]:
        batch = self.batch
        if batch is None:
            return [step() for step in steps]
        results: list[Any] = [None] * len(steps)
        ready = deque(range(len(steps)))
        waiting: dict[int, list[tuple[int, int]]] = {}
        batch.chase()
        while ready or waiting:
            while ready:
                i = ready.popleft()
                before = batch.misses
                try:
                    results[i] = steps[i]()
                except Exception:
                    if batch.misses == before:
                        raise
                if batch.misses != before:
                    waiting[i] = batch.last_missing
                    batch.send()
            if waiting:
                batch.chase()
                batch.wait()
                idle = (
                    not batch.pending
                )  # nothing left to wait for (e.g. a block dropped from memory): retry all
                for i in [i for i, blocks in waiting.items() if idle or batch.cached(blocks)]:
                    ready.append(i)
                    del waiting[i]
        return results


class _H5Walker:
    def __init__(
        self,
        h5: h5py.File,
        prefetcher: Prefetcher | None,
        rounds: _Rounds,
        chaser: PointerChaser | None,
        decoder: AttributeDecoder | None,
        base: int,
        scope: str | None = None,
    ) -> None:
        self.h5 = h5
        self.scope = scope
        self.prefetcher = prefetcher
        self.rounds = rounds
        self.chaser = chaser
        self.decoder = decoder
        self.base = base
        self.sizes: tuple[int, int] = h5.id.get_create_plist().get_sizes()
        self.objects: dict[str, ObjectInfo] = {}
        self.path_by_addr: dict[int, str] = {}

    def run(self) -> dict[str, ObjectInfo]:
        root_addr = self.rounds.run([lambda: h5py.h5o.get_info(self.h5["/"].id).addr])[0]
        if self.chaser is not None and self.prefetcher is not None:
            self.chaser.add_header(root_addr)
            self.prefetcher.prefetch(
                [self.base + root_addr], _HEADER_HINT_BYTES
            )  # joins this reader to the batch
        root = self.rounds.run([lambda: self._describe(self.h5["/"], "/", root_addr)])[0]
        self.path_by_addr[root_addr] = "/"
        self.objects["/"] = root.info
        level = [("/", root)]
        while level:
            level = self._next_level(level)
        self._resolve_references()
        return self.objects

    def _next_level(self, level: list[tuple[str, _Node]]) -> list[tuple[str, _Node]]:
        """Place the children of ``level`` (breadth-first order decides which path a hard link gets) and
        describe them."""
        entries: list[tuple[str, h5py.Group, str, int]] = []
        for parent, node in level:
            for link in node.links or []:
                path = child_path(parent, link.name)
                self.objects[parent].children.append(link.name)
                if link.kind == h5py.h5l.TYPE_SOFT:
                    self.objects[path] = ObjectInfo(path=path, kind="soft_link", link_target=link.target)
                elif link.kind == h5py.h5l.TYPE_EXTERNAL:
                    self.objects[path] = ObjectInfo(path=path, kind="external_link", link_target=link.target)
                elif link.addr in self.path_by_addr:
                    first = self.path_by_addr[link.addr]
                    self.objects[path] = ObjectInfo(
                        path=path, kind="soft_link", link_target=first, hard_link_of=first
                    )
                elif not _in_scope(path, self.scope):
                    continue  # outside the scope: listed in its parent's children, not described
                else:
                    if link.kind == h5py.h5l.TYPE_HARD:
                        self.path_by_addr[link.addr] = path
                        if self.chaser is not None:
                            (
                                self.chaser.skip_header
                                if path == "/specifications"
                                else self.chaser.add_header
                            )(link.addr)
                    self.objects[path] = ObjectInfo(
                        path=path, kind="dataset"
                    )  # its place in the order; filled below
                    entries.append((path, node.group, link.name, link.addr))
        nodes = self.rounds.run([self._open_step(*entry) for entry in entries])
        next_level = []
        for (path, *_), node in zip(entries, nodes):
            self.objects[path] = node.info
            if node.links is not None:
                next_level.append((path, node))
        return next_level

    def _open_step(self, path: str, parent: h5py.Group, name: str, addr: int) -> Callable[[], _Node]:
        def step() -> _Node:
            described = self._from_header(path, addr)
            if described is not None:
                return _Node(described)
            try:
                obj = _open_child(parent, name)
            except Exception as exc:  # a broken object is listed with its error; the walk goes on
                return _Node(ObjectInfo(path=path, kind="dataset", error=f"Cannot open: {exc}"))
            return self._describe(obj, path, addr)

        return step

    def _from_header(self, path: str, addr: int) -> ObjectInfo | None:
        """A remote dataset described from its fetched header alone (``_h5_datasets``), or None: h5py opens
        it (a local file, a group, bytes not fetched yet, or something that module leaves to h5py)."""
        if self.chaser is None or self.decoder is None or self.prefetcher is None:
            return None
        header = self.chaser.header(addr, self.prefetcher.peek)
        if header is None or 0x0008 not in header.kept or not header.compact:
            return None
        decoded = self.decoder.decode(header.attributes)
        if decoded is None or any(value is UNDECODED for value in decoded.values()):
            return None
        attrs = {key: to_jsonable(value) for key, value in decoded.items()}
        return dataset_from_header(path, header.kept, attrs, self.decoder, self.sizes)

    def _describe(self, obj: h5py.HLObject, path: str, addr: int) -> _Node:
        if isinstance(obj, h5py.Group):
            links = _links(obj)
            return _Node(group_info(path, self._attributes(obj, addr)), obj, links)
        dtype = obj.dtype
        info = dataset_info(path, obj, self._attributes(obj, addr), dtype)
        if keeps_value(path, obj.shape, dtype):
            self._read_value(obj, info, dtype)
        return _Node(info)

    def _attributes(self, obj: h5py.HLObject, addr: int) -> dict[str, Any]:
        """The object's attributes, decoded from its fetched header where it can be (see ``_h5_attributes``);
        h5py reads the others."""
        if (
            self.decoder is None or self.chaser is None or self.prefetcher is None
        ):  # a local file: h5py is fast
            return read_attrs(obj, _decode_attr)
        messages = self.chaser.attribute_messages(addr, self.prefetcher.peek)
        decoded = self.decoder.decode(messages) if messages is not None else None
        if decoded is None:
            return read_attrs(obj, _decode_attr)
        return {
            key: read_attr(obj, key, _decode_attr) if value is UNDECODED else to_jsonable(value)
            for key, value in decoded.items()
        }

    def _read_value(self, dset: h5py.Dataset, info: ObjectInfo, dtype: np.dtype) -> None:
        try:
            value = dset[()]
            if h5py.check_ref_dtype(dtype) is not None:
                info.value = _Refs(list(np.atleast_1d(value).flat), as_attr=False, scalar=False)
            else:
                info.value = to_jsonable(value)
            info.has_value = True
        except Exception as exc:  # an unreadable value is reported on the object, not fatal
            info.error = f"Cannot read value: {exc}"

    def deref(self, ref: h5py.Reference) -> str | None:
        if not ref:
            return None
        try:
            oid = h5py.h5r.dereference(ref, self.h5.id)
            addr = h5py.h5o.get_info(oid).addr
        except Exception:  # a dangling reference is data, not a reason to fail the index
            return None
        if self.scope is not None:  # HDF5's name search would read the whole file the scope spares
            return self.path_by_addr.get(addr)
        return self.path_by_addr.get(addr) or h5py.h5r.get_name(ref, self.h5.id).decode()

    def _resolve_references(self) -> None:
        holders = [
            info
            for info in self.objects.values()
            if isinstance(info.value, _Refs) or any(isinstance(v, _Refs) for v in info.attrs.values())
        ]

        def step(info: ObjectInfo) -> Callable[[], tuple[dict[str, Any], Any]]:
            return lambda: (
                {k: v.resolve(self.deref) if isinstance(v, _Refs) else v for k, v in info.attrs.items()},
                info.value.resolve(self.deref) if isinstance(info.value, _Refs) else info.value,
            )

        for info, (attrs, value) in zip(holders, self.rounds.run([step(info) for info in holders])):
            info.attrs, info.value = attrs, value


def _in_scope(path: str, scope: str | None) -> bool:
    """Whether a scoped walk describes ``path``: the scope's group, what lies below it, and its ancestors."""
    if scope is None or scope == "/":
        return True
    return path == scope or path.startswith(scope + "/") or scope.startswith(path + "/")


def walk_h5py(h5: h5py.File, prefetcher: Prefetcher | None = None, scope: str | None = None) -> NwbIndex:
    """Index an h5py file; files not backed by HDF5 (LINDI subclasses ``h5py.File``) go to ``walk_generic``.

    With a prefetcher (a remote file's reader) reads are batched and HDF5 pointers chased
    ahead: the walk costs about one round trip per pointer hop from the root to the deepest
    object (4-6 for NWB files), with concurrent requests for the metadata blocks it touches.
    ``scope`` (a group's path) walks only that group, what lies below it and its ancestors (a
    table read of many files needs no more); references to objects outside it are left unnamed.
    """
    if not isinstance(h5.id, h5py.h5f.FileID):
        return walk_generic(h5)
    started = time.perf_counter()
    plist = h5.id.get_create_plist()
    base = plist.get_userblock()
    chaser: PointerChaser | None = None
    decoder: AttributeDecoder | None = None
    if prefetcher is not None:
        sizeof_addr, sizeof_size = plist.get_sizes()
        chaser = PointerChaser(base, sizeof_addr, sizeof_size, SMALL_VALUE_BYTES)
        decoder = AttributeDecoder(
            sizeof_addr, sizeof_size, lambda address, length: prefetcher.peek(base + address, length)
        )
    with batch_reads(chaser.follow) if chaser is not None else nullcontext() as batch:
        objects = _H5Walker(h5, prefetcher, _Rounds(batch), chaser, decoder, base, scope).run()
    version = objects["/"].attrs.get("nwb_version")
    return NwbIndex(
        objects=objects,
        nwb_version=version if isinstance(version, str) else None,
        build_seconds=time.perf_counter() - started,
        scopes=None if scope is None else [scope],
    )
