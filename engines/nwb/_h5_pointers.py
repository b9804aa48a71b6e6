"""Follow HDF5 metadata pointers in Python, so a remote walk fetches bytes before h5py asks.

h5py reads an HDF5 tree one pointer at a time: an object header, its continuation block,
the global heap holding its string attributes, its group's B-tree, symbol table nodes and
name heap, then each child's header. Remotely, every hop is a round trip. ``PointerChaser``
parses just enough of these structures to name the addresses one hop further as soon as
the bytes of the current hop are cached, and keeps going into children, so each batch
fetch brings every hop that is known by then; a tree costs about as many round trips as
it has pointer hops from the root to its deepest object, however wide it is.

Besides addresses it keeps each object's attribute messages, once all its header blocks are
parsed, for ``_h5_attributes`` to decode, and a dataset's dataspace, datatype, layout and
filters for ``_h5_datasets``; whatever those leave, h5py reads itself,
and a structure left unparsed (fractal heaps and v2 B-trees of dense groups, v4 chunk
indexes, shared messages, vlen dataset values) costs only the round trip h5py would have
paid anyway. Parsing is defensive: malformed bytes end that branch, never the walk.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod

from engines.nwb._h5_attributes import attribute_parts, dataspace_dims

__all__ = ["Peek", "PointerChaser"]

Peek = Callable[[int, int], "bytes | None"]
"""Cached bytes [offset, offset + length) of the file, or None when some are not cached yet."""

_HEADER_GUESS = 512
_BTREE_GUESS = 2048
_GLOBAL_HEAP_MIN = 4096
_GLOBAL_HEAP_MAX = 64 * 1024
"""Bigger collections (namespace specifications as text) are left for h5py to read if ever needed."""

_HINT_BYTES = 512


@dataclass
class _Object:
    """What the messages read so far say about one object (a dataset's value size needs several)."""

    elements: int | None = None
    itemsize: int | None = None
    attributes: list[bytes] = field(default_factory=list)
    """Its attribute messages, in header order."""
    continuations: list[tuple[str, int]] = field(default_factory=list)
    """Its continuation blocks (as pending keys)."""
    unread_blocks: int = 1
    """Header blocks (the first, then continuations) not parsed yet: its attributes are known at 0."""
    compact: bool = True
    """False when some attributes may live elsewhere (dense storage, shared messages, a broken block)
    or h5py lists them by creation order: then h5py reads them."""
    kept: dict[int, bytes | None] = field(default_factory=dict)
    """Its dataspace, datatype, layout and filter pipeline messages (None: shared), for ``_h5_datasets``."""


_KEPT = (0x0001, 0x0003, 0x0008, 0x000B)


class PointerChaser:
    """Addresses HDF5 will read next, found by parsing the metadata already cached.

    ``base`` is the file's base address (the user block size); ``sizeof_addr``/``sizeof_size``
    come from the superblock; datasets whose stored value is at most ``small_bytes`` get their
    value bytes fetched too (the index keeps small values). With ``children=False`` the chase
    stays inside the objects it is given (their headers, heaps and link tables).
    """

    def __init__(
        self, base: int, sizeof_addr: int, sizeof_size: int, small_bytes: int, children: bool = True
    ) -> None:
        self._base = base
        self._sa = sizeof_addr
        self._ss = sizeof_size
        self._small = small_bytes
        self._children = children
        self._undefined = (1 << (8 * sizeof_addr)) - 1
        self._pending: dict[tuple[str, int], tuple] = {}
        self._done: set[tuple[str, int]] = set()
        self._skipped: set[int] = set()
        self._fresh: list[tuple[str, int]] = []
        self._objects: dict[int, _Object] = {}

    def add_header(self, address: int) -> None:
        """Chase from the object header at this HDF5 address."""
        self._add("header", address, ())

    def add_symbol_table(self, btree: int, name_heap: int) -> None:
        """Chase a group's symbol table (its B-tree and name heap), as cached in its parent's entry."""
        self._add("btree", btree, (0,))
        self._add("lheap", name_heap, ())

    def skip_header(self, address: int) -> None:
        """Do not chase into this object (e.g. ``/specifications``: large texts the index does not keep)."""
        self._skipped.add(address)

    def attribute_messages(self, address: int, peek: Peek) -> list[bytes] | None:
        """Every attribute message of the object header at this address, parsing its blocks now if
        they are cached; None while some are not, or when its attributes are not all in its header
        (h5py must read them then). No I/O."""
        obj = self.header(address, peek)
        return obj.attributes if obj is not None and obj.compact else None

    def header(self, address: int, peek: Peek) -> _Object | None:
        """The object header at this address once all its blocks are parsed (parsing cached ones now)."""
        obj = self._objects.get(address)
        if obj is None:
            self._parse([("header", address)], peek)
            obj = self._objects.get(address)
        if obj is not None and obj.unread_blocks:
            self._parse(obj.continuations, peek)
        return None if obj is None or obj.unread_blocks else obj

    def follow(self, peek: Peek) -> list[tuple[int, int]]:
        """Parse every pending structure whose bytes are cached, and what those point to while cached.

        Returns the file ranges (offset, length) that the structures still waiting need. No I/O.
        """
        needs = self._parse(list(self._pending), peek)
        return [(self._base + address, need) for (_, address), need in needs.items()]

    def _parse(self, todo: list[tuple[str, int]], peek: Peek) -> dict[tuple[str, int], int]:
        """Parse these structures if pending and cached, then what they point to while cached;
        returns how many bytes each one still waiting needs."""
        needs: dict[tuple[str, int], int] = {}
        self._fresh = []
        while todo:  # each structure once: no bytes arrive during a call, so a retry could not get further
            for key in todo:
                args = self._pending.get(key)
                if args is None:
                    continue
                kind, address = key
                try:
                    need = getattr(self, f"_{kind}")(address, peek, *args)
                except (struct.error, IndexError, ValueError):
                    need = None
                    if kind in ("cont1", "cont2"):  # the object's attributes cannot all be known
                        args[1].compact = False
                if need is None:
                    del self._pending[key]
                    self._done.add(key)
                    needs.pop(key, None)
                else:
                    needs[key] = need
            todo, self._fresh = self._fresh, []  # what the structures just parsed point to
        return needs

    # -- bookkeeping ---------------------------------------------------------------------
    # Each parser gets (address, peek, *args) and returns None when done, or how many bytes
    # from its address it needs before it can go on.

    def _add(self, kind: str, address: int, args: tuple) -> bool:
        """Note a structure to parse; False when it is already noted, skipped or at no address."""
        key = (kind, address)
        if address in (0, self._undefined) or key in self._done or key in self._pending:
            return False
        if kind == "header" and address in self._skipped:
            return False
        self._pending[key] = args
        self._fresh.append(key)
        return True

    def _read(self, peek: Peek, address: int, length: int) -> bytes | None:
        return peek(self._base + address, length)

    def _addr(self, data: bytes, pos: int) -> int:
        return int.from_bytes(data[pos : pos + self._sa], "little")

    def _size(self, data: bytes, pos: int) -> int:
        return int.from_bytes(data[pos : pos + self._ss], "little")

    # -- object headers ------------------------------------------------------------------

    def _header(self, address: int, peek: Peek) -> int | None:
        if address in self._skipped:
            return None
        head = self._read(peek, address, 16)
        if head is None:
            return _HEADER_GUESS
        obj = _Object()
        if head[:4] == b"OHDR":
            flags = head[5]
            pos = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
            width = 1 << (flags & 0x03)
            prefix = self._read(peek, address, pos + width)
            if prefix is None:
                return _HEADER_GUESS
            chunk = int.from_bytes(prefix[pos : pos + width], "little")
            body = self._read(peek, address + pos + width, chunk)
            if body is None:
                return pos + width + chunk + 4
            obj.compact = not flags & 0x04  # with creation order tracked, h5py lists attributes in that order
            self._messages_v2(body, bool(flags & 0x04), obj)
        elif head[0] == 1:
            size = struct.unpack_from("<I", head, 8)[0]
            body = self._read(peek, address + 16, size)
            if body is None:
                return 16 + size
            self._messages_v1(body, obj)
        else:
            return None
        obj.unread_blocks -= 1
        self._objects[address] = obj
        return None

    def _cont1(self, address: int, peek: Peek, length: int, obj: _Object) -> int | None:
        body = self._read(peek, address, length)
        if body is None:
            return length
        self._messages_v1(body, obj)
        obj.unread_blocks -= 1
        return None

    def _cont2(self, address: int, peek: Peek, length: int, obj: _Object, order: bool) -> int | None:
        body = self._read(peek, address, length)
        if body is None:
            return length
        if body[:4] != b"OCHK":
            raise ValueError("not a continuation block")
        self._messages_v2(body[4:-4], order, obj)
        obj.unread_blocks -= 1
        return None

    def _messages_v1(self, body: bytes, obj: _Object) -> None:
        pos = 0
        while pos + 8 <= len(body):
            kind, size = struct.unpack_from("<HH", body, pos)
            flags = body[pos + 4]
            self._message(kind, body[pos + 8 : pos + 8 + size], flags, obj, version=1, order=False)
            pos += 8 + size

    def _messages_v2(self, body: bytes, order: bool, obj: _Object) -> None:
        pos = 0
        step = 6 if order else 4
        while pos + step <= len(body):
            kind = body[pos]
            size = struct.unpack_from("<H", body, pos + 1)[0]
            flags = body[pos + 3]
            self._message(kind, body[pos + step : pos + step + size], flags, obj, version=2, order=order)
            pos += step + size

    def _message(self, kind: int, data: bytes, flags: int, obj: _Object, version: int, order: bool) -> None:
        if kind in _KEPT:
            obj.kept[kind] = None if flags & 0x02 else data
        if flags & 0x02:  # shared: the data names a message stored elsewhere
            obj.compact = obj.compact and kind != 0x000C
            return
        if kind == 0x0001:
            obj.elements = self._elements(data)
        elif kind == 0x0003:
            obj.itemsize = struct.unpack_from("<I", data, 4)[0]
        elif kind == 0x0008:
            self._layout(data, obj)
        elif kind == 0x000C:
            obj.attributes.append(data)
            self._attribute(data)
        elif kind == 0x0010:
            target, length = self._addr(data, 0), self._size(data, self._sa)
            kind_of_block = "cont1" if version == 1 else "cont2"
            if self._add(kind_of_block, target, (length, obj) if version == 1 else (length, obj, order)):
                obj.unread_blocks += 1
                obj.continuations.append((kind_of_block, target))
            else:  # a block met twice (or at address 0): this header is not what it seems
                obj.compact = False
        elif kind == 0x0011:
            self._add("btree", self._addr(data, 0), (0,))
            self._add("lheap", self._addr(data, self._sa), ())
        elif kind == 0x0006:
            self._link(data)
        elif kind in (0x0002, 0x0015):  # link / attribute info: dense storage lives in a fractal heap
            pos = 2 + (
                8 if kind == 0x0002 and data[1] & 0x01 else 2 if kind == 0x0015 and data[1] & 0x01 else 0
            )
            heap = self._addr(data, pos)
            if kind == 0x0015 and (
                heap != self._undefined or data[1] & 0x01
            ):  # dense, or listed by creation order
                obj.compact = False
            self._add("raw", heap, (_HINT_BYTES,))
            self._add("raw", self._addr(data, pos + self._sa), (_HINT_BYTES,))

    def _elements(self, space: bytes) -> int:
        dims = dataspace_dims(space, self._ss)
        return 0 if dims is None else prod(dims)

    def _layout(self, data: bytes, obj: _Object) -> None:
        if data[0] != 3:
            return
        if data[1] == 1:  # contiguous: address and size
            address, size = self._addr(data, 2), self._size(data, 2 + self._sa)
            if 0 < size <= self._small:
                self._add("raw", address, (size,))
        elif data[1] == 2:  # chunked, v1 B-tree index
            dims = data[2]
            if (
                obj.elements is not None
                and obj.itemsize is not None
                and obj.elements * obj.itemsize <= self._small
            ):
                self._add("btree", self._addr(data, 3), (dims,))

    def _attribute(self, data: bytes) -> None:
        try:
            _, datatype, space, pos = attribute_parts(data)
        except ValueError:  # shared parts: h5py reads them, and so the attribute
            return
        if datatype[0] & 0x0F != 9:  # only variable-length values live elsewhere (a global heap)
            return
        width = 4 + self._sa + 4
        for i in range(self._elements(space)):
            self._add("gheap", self._addr(data, pos + i * width + 4), ())

    def _link(self, data: bytes) -> None:
        flags = data[1]
        pos = 2
        kind = 0
        if flags & 0x08:
            kind = data[pos]
            pos += 1
        pos += (8 if flags & 0x04 else 0) + (1 if flags & 0x10 else 0)
        width = 1 << (flags & 0x03)
        length = int.from_bytes(data[pos : pos + width], "little")
        pos += width + length
        if kind == 0 and self._children:
            self.add_header(self._addr(data, pos))

    # -- groups, heaps, B-trees ----------------------------------------------------------

    def _btree(self, address: int, peek: Peek, dims: int) -> int | None:
        head = self._read(peek, address, 8)
        if head is None:
            return _BTREE_GUESS
        if head[:4] != b"TREE":
            return None
        node_type, level, used = head[4], head[5], struct.unpack_from("<H", head, 6)[0]
        key = self._ss if node_type == 0 else 8 + 8 * dims
        start = 8 + 2 * self._sa
        length = start + (used + 1) * key + used * self._sa
        node = self._read(peek, address, length)
        if node is None:
            return length
        for i in range(used):
            at = start + i * (key + self._sa)
            child = self._addr(node, at + key)
            if level > 0:
                self._add("btree", child, (dims,))
            elif node_type == 0:
                self._add("snod", child, ())
            else:
                self._add("raw", child, (struct.unpack_from("<I", node, at)[0],))
        return None

    def _snod(self, address: int, peek: Peek) -> int | None:
        head = self._read(peek, address, 8)
        if head is None:
            return _HINT_BYTES
        if head[:4] != b"SNOD":
            return None
        count = struct.unpack_from("<H", head, 6)[0]
        entry = self._ss + self._sa + 24
        node = self._read(peek, address, 8 + count * entry)
        if node is None:
            return 8 + count * entry
        for i in range(count if self._children else 0):
            at = 8 + i * entry
            self.add_header(self._addr(node, at + self._ss))
            if (
                struct.unpack_from("<I", node, at + self._ss + self._sa)[0] == 1
            ):  # cached group B-tree and heap
                scratch = at + self._ss + self._sa + 8
                self._add("btree", self._addr(node, scratch), (0,))
                self._add("lheap", self._addr(node, scratch + self._sa), ())
        return None

    def _lheap(self, address: int, peek: Peek) -> int | None:
        length = 8 + 2 * self._ss + self._sa
        head = self._read(peek, address, length)
        if head is None:
            return length
        if head[:4] == b"HEAP":
            self._add("raw", self._addr(head, 8 + 2 * self._ss), (self._size(head, 8),))
        return None

    def _gheap(self, address: int, peek: Peek) -> int | None:
        head = self._read(peek, address, 8 + self._ss)
        if head is None:
            return _GLOBAL_HEAP_MIN
        size = self._size(head, 8)
        if head[:4] == b"GCOL" and size <= _GLOBAL_HEAP_MAX and self._read(peek, address, size) is None:
            return size
        return None

    def _raw(self, address: int, peek: Peek, length: int) -> int | None:
        return None if self._read(peek, address, length) is not None else length
