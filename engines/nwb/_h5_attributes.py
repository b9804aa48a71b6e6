"""Decode HDF5 attribute messages from metadata bytes already fetched, as h5py would read them.

Indexing a remote file reads every attribute of every object; through h5py each read costs
about 0.1 ms of library work (open, type and space queries, conversion), which for a few
thousand attributes is most of a first open once the bytes are in. The bytes are already
in: ``PointerChaser`` parsed the object headers that hold the attribute messages and
fetched the global heaps that hold their variable-length strings.

Decoded here: integers, IEEE floats, fixed-length strings and variable-length strings, as
scalars or arrays of any shape, each equal to what ``h5py``'s ``attrs[name]`` returns (a
scalar number as a Python number, which is what the index keeps of it).
Anything else (references, enums and booleans, compounds, arrays, variable-length
sequences, empty dataspaces, strings whose heap is not fetched) is ``UNDECODED``: the
caller reads that attribute through h5py, so the result never depends on what is decoded
here, only its cost does. ``tests/engines/nwb/test_h5_attributes.py`` checks every kind
against h5py.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["UNDECODED", "AttributeDecoder", "attribute_parts", "dataset_type", "dataspace_dims"]

UNDECODED: Any = object()
"""An attribute this module does not decode: read it through h5py."""

_Peek = Callable[[int, int], "bytes | None"]

_IEEE = {  # size: (precision, exponent location, exponent size, mantissa location, mantissa size, bias)
    2: (16, 10, 5, 0, 10, 15),
    4: (32, 23, 8, 0, 23, 127),
    8: (64, 52, 11, 0, 52, 1023),
}
_NULLTERM, _NULLPAD, _SPACEPAD = 0, 1, 2


class AttributeDecoder:
    """Values of attribute messages of one file, reading variable-length strings from its global heaps.

    ``peek(address, length)`` gives cached bytes at an HDF5 address (relative to the base
    address) or None; parsed heap collections are kept for the decoder's life (one walk).
    """

    def __init__(self, sizeof_addr: int, sizeof_size: int, peek: _Peek) -> None:
        self._sa = sizeof_addr
        self._ss = sizeof_size
        self._peek = peek
        self._heaps: dict[int, dict[int, bytes]] = {}
        self._types: dict[bytes, Any] = {}

    def decode(self, messages: list[bytes]) -> dict[str, Any] | None:
        """Name -> value (or ``UNDECODED``) of each attribute message, in h5py's order (by name).

        None when a message itself cannot be parsed (the caller reads the object through h5py).
        """
        out: dict[str, Any] = {}
        for message in messages:
            try:
                name, value = self._attribute(message)
            except (struct.error, IndexError, ValueError, UnicodeDecodeError):
                return None
            out[name] = value
        return dict(sorted(out.items()))

    def raw(self, address: int, length: int) -> bytes | None:
        """Cached bytes at an HDF5 address (a small dataset's stored value), or None."""
        return self._peek(address, length)

    def values(self, datatype: bytes, shape: tuple[int, ...], data: bytes) -> Any:
        """A dataset's values stored as ``data`` (its raw bytes), as h5py reads them, or ``UNDECODED``."""
        try:
            return self._value(datatype, shape, data, 0)
        except (struct.error, IndexError, ValueError, UnicodeDecodeError):
            return UNDECODED

    def _attribute(self, data: bytes) -> tuple[str, Any]:
        name, datatype, space, pos = attribute_parts(data)
        shape = dataspace_dims(space, self._ss)
        text = name.decode("utf-8")
        if shape is None:
            return text, UNDECODED
        return text, self._value(datatype, shape, data, pos)

    def _value(self, datatype: bytes, shape: tuple[int, ...], data: bytes, pos: int) -> Any:
        kind = self._types.get(datatype)
        if kind is None:
            kind = self._types[datatype] = _type_kind(datatype)
        if kind is _VLEN_STRING:
            return self._vlen_strings(data, pos, math.prod(shape), shape)
        if kind is _OTHER:
            return UNDECODED
        dtype, scalar, padding = kind
        if not shape and scalar is not None:  # the common case, a single number: no numpy
            return scalar.unpack_from(data, pos)[0]
        count, size = math.prod(shape), dtype.itemsize
        raw = data[pos : pos + count * size]
        if len(raw) != count * size:
            raise ValueError("attribute data shorter than its dataspace")
        if padding is not None:
            raw = b"".join(
                _string_as_h5py_reads_it(raw[i * size : (i + 1) * size], padding) for i in range(count)
            )
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
        return arr[()] if arr.ndim == 0 else arr

    def _vlen_strings(self, data: bytes, pos: int, count: int, shape: tuple[int, ...]) -> Any:
        width = 4 + self._sa + 4
        values = []
        for i in range(count):
            at = pos + i * width
            length = struct.unpack_from("<I", data, at)[0]
            collection = int.from_bytes(data[at + 4 : at + 4 + self._sa], "little")
            index = struct.unpack_from("<I", data, at + 4 + self._sa)[0]
            if length == 0:
                values.append("")
                continue
            stored = (self._heap(collection) or {}).get(index)
            if stored is None or len(stored) < length:
                return UNDECODED
            values.append(stored[:length].decode("utf-8", "surrogateescape"))
        if not shape:
            return values[0]
        arr = np.empty(count, dtype=object)
        arr[:] = values
        return arr.reshape(shape)

    def _heap(self, address: int) -> dict[int, bytes] | None:
        """Objects of the global heap collection at ``address`` by index; None when its bytes are not
        cached."""
        if address in self._heaps:
            return self._heaps[address]
        head = self._peek(address, 8 + self._ss)
        if head is None or head[:4] != b"GCOL":
            return None
        size = int.from_bytes(head[8 : 8 + self._ss], "little")
        body = self._peek(address, size)
        if body is None:
            return None
        objects: dict[int, bytes] = {}
        pos = 8 + self._ss
        header = 8 + self._ss
        while pos + header <= size:
            index = struct.unpack_from("<H", body, pos)[0]
            if index == 0:  # free space: the rest of the collection
                break
            length = int.from_bytes(body[pos + 8 : pos + 8 + self._ss], "little")
            objects[index] = body[pos + header : pos + header + length]
            pos += header + ((length + 7) & ~7)
        self._heaps[address] = objects
        return objects


def attribute_parts(data: bytes) -> tuple[bytes, bytes, bytes, int]:
    """An attribute message's name, datatype message, dataspace message and where its values start.

    Raises ``ValueError`` for an unknown version or a shared datatype or dataspace (stored elsewhere).
    """
    version = data[0]
    name_size, type_size, space_size = struct.unpack_from("<HHH", data, 2)
    if version == 1:  # each part padded to 8 bytes
        pad = lambda n: (n + 7) & ~7  # noqa: E731
        pos = 8
    elif version in (2, 3):
        if data[1] & 0x03:
            raise ValueError("shared datatype or dataspace")
        pad = lambda n: n  # noqa: E731
        pos = 9 if version == 3 else 8
    else:
        raise ValueError(f"attribute message version {version}")
    name = data[pos : pos + name_size].split(b"\0", 1)[0]
    pos += pad(name_size)
    datatype = data[pos : pos + type_size]
    pos += pad(type_size)
    space = data[pos : pos + space_size]
    return name, datatype, space, pos + pad(space_size)


def dataspace_dims(space: bytes, sizeof_size: int) -> tuple[int, ...] | None:
    """A dataspace message's dimensions (() for a scalar); None for a null (empty) dataspace."""
    version, rank = space[0], space[1]
    if version == 1:
        pos = 8
    elif version == 2:
        if space[3] == 2:
            return None
        pos = 4
    else:
        raise ValueError(f"dataspace version {version}")
    return tuple(
        int.from_bytes(space[pos + i * sizeof_size : pos + (i + 1) * sizeof_size], "little")
        for i in range(rank)
    )


def dataset_type(datatype: bytes) -> tuple[str, np.dtype] | None:
    """The index's type text of a datatype message and the numpy type h5py reads it as, or None where
    h5py must say (``_object_info.dtype_text`` is the rule this follows)."""
    kind = _type_kind(datatype)
    if kind is _VLEN_STRING:
        return "str", np.dtype(object)
    if kind is not _OTHER:
        dtype, _, padding = kind
        return ("str" if padding is not None else dtype.str), dtype
    if datatype[0] & 0x0F == 7 and datatype[1] & 0x0F in (0, 1):  # object or region references
        return "ref", np.dtype(object)
    return None


_VLEN_STRING: Any = object()
_OTHER: Any = object()


def _type_kind(datatype: bytes) -> Any:
    """How to read values of this HDF5 datatype: ``_VLEN_STRING``, ``_OTHER`` (left to h5py), or
    (numpy type h5py reads it as, struct for a scalar number or None, string padding or None)."""
    type_class = datatype[0] & 0x0F
    bits = int.from_bytes(datatype[1:4], "little")
    size = struct.unpack_from("<I", datatype, 4)[0]
    order = ">" if bits & 0x01 else "<"
    if type_class == 0:  # fixed-point: whole bytes only
        offset, precision = struct.unpack_from("<HH", datatype, 8)
        if size not in (1, 2, 4, 8) or offset != 0 or precision != 8 * size:
            return _OTHER
        code = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
        code = code if bits & 0x08 else code.upper()
        return np.dtype(f"{order}{'i' if bits & 0x08 else 'u'}{size}"), struct.Struct(order + code), None
    if type_class == 1:  # floating point: IEEE layouts only
        if bits & 0x40 or size not in _IEEE:
            return _OTHER
        offset, precision, exp_at, exp_size, mant_at, mant_size, bias = struct.unpack_from(
            "<HHBBBBI", datatype, 8
        )
        if offset != 0 or (precision, exp_at, exp_size, mant_at, mant_size, bias) != _IEEE[size]:
            return _OTHER
        return np.dtype(f"{order}f{size}"), struct.Struct(order + {2: "e", 4: "f", 8: "d"}[size]), None
    if type_class == 3 and bits & 0x0F in (_NULLTERM, _NULLPAD, _SPACEPAD) and size > 0:
        return np.dtype(f"S{size}"), None, bits & 0x0F
    if type_class == 9 and bits & 0x0F == 1:  # variable-length string (not a sequence)
        return _VLEN_STRING
    return _OTHER


def _string_as_h5py_reads_it(raw: bytes, padding: int) -> bytes:
    """One fixed-length string as HDF5 converts it to h5py's null-padded memory type (same length)."""
    if padding == _NULLTERM:
        text = raw[: len(raw) - 1].split(b"\0", 1)[0]
    elif padding == _SPACEPAD:
        text = raw.rstrip(b" ")
    else:  # null-padded like the memory type: copied as is
        return raw
    return text.ljust(len(raw), b"\0")
