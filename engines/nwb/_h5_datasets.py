"""A dataset's index entry from its parsed object header, so a remote walk need not open it with h5py.

Indexing a remote file describes every dataset: shape, type, chunks, compression, maximum
shape, attributes and, for small ones, the value. Through h5py each costs an object open,
several property-list queries and, for a value, a read: about a third of a first open of a
file with hundreds of series once the bytes are in. The bytes are in: ``PointerChaser``
parsed the header (its dataspace, datatype, layout and filter pipeline messages) and fetched
small contiguous values. Decoded here: dataspace versions 1-2, layout version 3, filter
pipelines 1-2, and the types and values ``_h5_attributes`` decodes. Anything else (layout
version 4, shared messages, references' values, chunked values, values not fetched) returns
None and the walk asks h5py, so the index never depends on what is decoded here, only its
cost does; ``tests/engines/nwb/test_index_remote.py`` compares every test file's remote index
with h5py's.
"""

from __future__ import annotations

import struct
from typing import Any

from engines.nwb._h5_attributes import UNDECODED, AttributeDecoder, dataset_type
from engines.nwb._object_info import keeps_value, neurodata_types
from engines.nwb.index import ObjectInfo, to_jsonable

__all__ = ["dataset_from_header"]

_COMPRESSION = ((1, "gzip"), (32000, "lzf"), (4, "szip"))
"""h5py's ``Dataset.compression``: the first of these filters in the pipeline names it."""
_NOT_COMPRESSION = {1, 2, 3, 4, 6, 32000}
"""Filters h5py knows; any other in a pipeline makes its ``compression`` 'unknown'."""


def dataset_from_header(
    path: str,
    kept: dict[int, bytes | None],
    attrs: dict[str, Any],
    decoder: AttributeDecoder,
    sizes: tuple[int, int],
) -> ObjectInfo | None:
    """The entry h5py's walk would make of this dataset, or None where h5py must be asked.

    ``kept``: the header's dataspace (1), datatype (3), layout (8) and filter (11) messages;
    ``sizes``: the superblock's (sizeof_addr, sizeof_size).
    """
    space, datatype, layout = kept.get(0x0001), kept.get(0x0003), kept.get(0x0008)
    if space is None or datatype is None or layout is None or kept.get(0x000B, b"") is None:
        return None
    try:
        return _describe(path, kept, attrs, decoder, sizes)
    except (struct.error, IndexError, ValueError):
        return None


def _describe(
    path: str,
    kept: dict[int, Any],
    attrs: dict[str, Any],
    decoder: AttributeDecoder,
    sizes: tuple[int, int],
) -> ObjectInfo | None:
    typed = dataset_type(kept[0x0003])
    extent = _dataspace(kept[0x0001], sizes[1])
    storage = _layout(kept[0x0008], sizes)
    if typed is None or extent is None or storage is None:
        return None
    (text, dtype), (shape, maxshape), (chunks, raw_at) = typed, extent, storage
    filters = kept.get(0x000B)
    ndt, ns = neurodata_types(attrs)
    info = ObjectInfo(
        path=path,
        kind="dataset",
        neurodata_type=ndt,
        namespace=ns,
        attrs=attrs,
        shape=list(shape) if shape is not None else None,
        dtype=text,
        chunks=chunks,
        compression=_compression(filters) if filters else None,
        maxshape=list(maxshape) if maxshape is not None else None,
    )
    if shape is not None and keeps_value(path, shape, dtype):
        raw = raw_at(decoder) if text != "ref" else None
        value = UNDECODED if raw is None else decoder.values(kept[0x0003], shape, raw)
        if value is UNDECODED:
            return None
        info.value, info.has_value = to_jsonable(value), True
    return info


def _dataspace(space: bytes, sizeof_size: int) -> tuple[Any, Any] | None:
    """(shape, maxshape) as h5py gives them: (None, None) for a null dataspace; unlimited axes None."""
    version, rank, flags = space[0], space[1], space[2]
    if version == 1:
        pos = 8
    elif version == 2:
        if space[3] == 2:
            return None, None
        pos = 4
    else:
        return None
    read = lambda i: int.from_bytes(space[pos + i * sizeof_size : pos + (i + 1) * sizeof_size], "little")  # noqa: E731
    shape = tuple(read(i) for i in range(rank))
    if not flags & 0x01:
        return shape, shape
    unlimited = (1 << (8 * sizeof_size)) - 1
    return shape, tuple(None if read(rank + i) == unlimited else read(rank + i) for i in range(rank))


def _layout(layout: bytes, sizes: tuple[int, int]) -> tuple[list[int] | None, Any] | None:
    """(chunks, a function of the decoder giving the raw value bytes or None), for layout version 3."""
    if layout[0] != 3:
        return None
    sizeof_addr, sizeof_size = sizes
    if layout[1] == 0:  # compact: the value is in the message
        size = struct.unpack_from("<H", layout, 2)[0]
        raw = layout[4 : 4 + size]
        return None, lambda _decoder: raw if len(raw) == size else None
    if layout[1] == 1:  # contiguous
        address = int.from_bytes(layout[2 : 2 + sizeof_addr], "little")
        size = int.from_bytes(layout[2 + sizeof_addr : 2 + sizeof_addr + sizeof_size], "little")
        if address == (1 << (8 * sizeof_addr)) - 1:  # never written: h5py gives the fill value
            return None, lambda _decoder: None
        return None, lambda decoder: decoder.raw(address, size)
    if layout[1] == 2:  # chunked (v1 B-tree): dimensions, the last being the element size
        rank = layout[2] - 1
        at = 3 + sizeof_addr
        chunks = [struct.unpack_from("<I", layout, at + 4 * i)[0] for i in range(rank)]
        return chunks, lambda _decoder: None
    return None


def _compression(filters: bytes) -> str | None:
    """``Dataset.compression`` of a filter pipeline message."""
    ids = _filter_ids(filters)
    for code, name in _COMPRESSION:
        if code in ids:
            return name
    return "unknown" if any(code not in _NOT_COMPRESSION for code in ids) else None


def _filter_ids(filters: bytes) -> list[int]:
    version, count = filters[0], filters[1]
    pos = 8 if version == 1 else 2
    ids = []
    for _ in range(count):
        code = struct.unpack_from("<H", filters, pos)[0]
        if version == 1:
            name_size, _flags, values = struct.unpack_from("<HHH", filters, pos + 2)
            pos += 8 + ((name_size + 7) & ~7) + 4 * values + (4 if values % 2 else 0)
        elif version == 2:
            named = code >= 256
            name_size = struct.unpack_from("<H", filters, pos + 2)[0] if named else 0
            pos += 2 + (2 if named else 0)
            _flags, values = struct.unpack_from("<HH", filters, pos)
            pos += 4 + name_size + 4 * values
        else:
            raise ValueError(f"filter pipeline version {version}")
        ids.append(code)
    return ids
