"""Locate the chunks a window needs from a chunked data set's index, a tree level per round trip.

HDF5 locates each chunk by walking the data set's B-tree (version 1, the layout h5py and
pynwb write by default) one node read at a time, and HDF5 2.0's ``get_chunk_info_by_coord``
visits the leaves in order. Remotely each node not cached is a round trip: a window across
the 96 channels of a data set chunked one channel per chunk met 18 sequential reads before
its first byte of data in the benchmark file. Here the tree is read level by level: each
level's nodes whose key range meets the window's chunks are fetched together (into the range
reader's block cache), and the leaves give each chunk's address and stored size. The B-tree
is parsed here because neither h5py nor HDF5 exposes its nodes; only the fields needed are
read, defensively: a node that does not parse makes the caller ask HDF5 instead. Newer chunk
indexes (HDF5 1.10 layouts: fixed and extensible arrays, v2 B-trees) are left to HDF5.
"""

from __future__ import annotations

import struct
from typing import Any

from engines.io.range_file import RangeFile

__all__ = ["chunk_locations"]

_HEADER_BYTES = 4096
_NODE_BYTES = 8192
"""Bytes fetched per node: a node of 64 children with keys of up to 20 dimensions."""
_MAX_LEVEL_NODES = 512
"""A level meeting more nodes than this is left to HDF5 (the window spans most of a huge tree)."""


def chunk_locations(
    reader: RangeFile, dset: Any, lo_key: tuple[int, ...], hi_key: tuple[int, ...]
) -> dict[tuple[int, ...], tuple[int, int]] | None:
    """``{chunk offsets: (file offset, stored bytes)}`` of the written chunks whose offsets (in elements,
    compared as tuples) lie in [lo_key, hi_key], read from the B-tree a level per concurrent wave; None
    where this data set's index is not a version-1 B-tree or does not parse (HDF5 then finds the chunks)."""
    try:
        start = reader.peek(0, 16)
        if start is None or start[:8] != b"\x89HDF\r\n\x1a\n":
            return None
        sa = start[13] if start[8] in (0, 1) else start[9]
        base = int(dset.file.userblock_size)
        root = _btree_address(reader, base + _header_address(dset), sa)
        if root is None:
            return None
        return _walk(reader, base, root, sa, len(dset.shape) + 1, lo_key + (0,), hi_key + (0,))
    except (struct.error, IndexError, ValueError, AttributeError, OSError):
        return None


def _header_address(dset: Any) -> int:
    """The data set's object header address, from its link in its group (``h5o.get_info`` would walk the
    whole chunk index to count its size: a round trip per node)."""
    parent, _, name = dset.name.rpartition("/")
    group = dset.file[parent or "/"]  # held: the link proxy does not keep its group open
    return int(group.id.links.get_info(name.encode()).u)


def _btree_address(reader: RangeFile, at: int, sa: int) -> int | None:
    """The chunk B-tree's address from the layout message (version 3, chunked) of the header at ``at``."""
    reader.prefetch([at], _HEADER_BYTES)  # cached since the index walk, as a rule: no request
    data = reader.peek(at, _HEADER_BYTES)
    if data is None:
        return None
    for kind, body in _messages(data):
        if kind == 0x0008 and body[0] == 3 and body[1] == 2:
            return int.from_bytes(body[3 : 3 + sa], "little")
    return None


def _messages(data: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of the messages in an object header's first block (version 1 or 2)."""
    found = []
    if data[:4] == b"OHDR":
        flags = data[5]
        pos = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 0x03)
        end = pos + width + int.from_bytes(data[pos : pos + width], "little")
        pos += width
        step = 6 if flags & 0x04 else 4
        while pos + step <= min(end, len(data)):
            kind, size = data[pos], struct.unpack_from("<H", data, pos + 1)[0]
            found.append((kind, data[pos + step : pos + step + size]))
            pos += step + size
    elif data[0] == 1:
        end = 16 + struct.unpack_from("<I", data, 8)[0]
        pos = 16
        while pos + 8 <= min(end, len(data)):
            kind, size = struct.unpack_from("<HH", data, pos)
            found.append((kind, data[pos + 8 : pos + 8 + size]))
            pos += 8 + size
    return found


def _walk(
    reader: RangeFile, base: int, root: int, sa: int, dims: int, lo: tuple[int, ...], hi: tuple[int, ...]
) -> dict[tuple[int, ...], tuple[int, int]] | None:
    """Fetch the tree a level at a time (one concurrent wave each), keeping the children whose key range
    meets [lo, hi]; the leaves' entries in range are the chunks."""
    key = 8 + 8 * dims
    found: dict[tuple[int, ...], tuple[int, int]] = {}
    level = [root]
    while level:
        if len(level) > _MAX_LEVEL_NODES:
            return None
        reader.prefetch([base + node for node in level], _NODE_BYTES)
        children: list[int] = []
        for node in level:
            head = reader.peek(base + node, 8)
            if head is None or head[:4] != b"TREE" or head[4] != 1:
                return None
            used = struct.unpack_from("<H", head, 6)[0]
            body = reader.peek(base + node, 8 + 2 * sa + (used + 1) * key + used * sa)
            if body is None:
                return None
            keys = [_key(body, 8 + 2 * sa + i * (key + sa), dims) for i in range(used + 1)]
            for i in range(used):
                at = 8 + 2 * sa + i * (key + sa) + key
                child = int.from_bytes(body[at : at + sa], "little")
                if head[5] == 0 and lo <= keys[i][1] <= hi:
                    found[keys[i][1][:-1]] = (base + child, keys[i][0])
                elif head[5] > 0 and keys[i][1] <= hi and keys[i + 1][1] >= lo:
                    children.append(child)
        level = children
    return found


def _key(body: bytes, at: int, dims: int) -> tuple[int, tuple[int, ...]]:
    """A chunk key: the chunk's stored bytes and its offsets (after its filter mask)."""
    return struct.unpack_from("<I", body, at)[0], struct.unpack_from(f"<{dims}Q", body, at + 8)
