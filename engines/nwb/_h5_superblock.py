"""Read an HDF5 superblock: where a file's root group lies, so opening a remote file can fetch it early.

Apart from ``_h5_pointers`` because it reads a different structure at a fixed place (the
file's first bytes, versions 0-3) and is needed before any tree is walked: ``root_chaser``
gives the ``PointerChaser`` a remote reader uses while h5py opens the file.
"""

from __future__ import annotations

import struct

from engines.nwb._h5_pointers import PointerChaser

__all__ = ["HDF5_SIGNATURE", "root_chaser"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def root_chaser(start: bytes) -> PointerChaser | None:
    """A chaser for the root group alone, from the file's first bytes (None when no superblock is there).

    What opening a file reads besides the superblock: the root's header, attributes, B-tree and
    name heap.
    """
    if start[:8] != HDF5_SIGNATURE:
        return None
    try:
        version = start[8]
        if version in (0, 1):
            sa, ss = start[13], start[14]
            pos = 28 if version == 1 else 24
            entry = pos + 4 * sa  # the root's symbol table entry, after the base and three other addresses
            chaser = PointerChaser(_address(start, pos, sa), sa, ss, 0, children=False)
            chaser.add_header(_address(start, entry + ss, sa))
            if struct.unpack_from("<I", start, entry + ss + sa)[0] == 1:  # cached symbol table
                chaser.add_symbol_table(
                    _address(start, entry + ss + sa + 8, sa), _address(start, entry + ss + 2 * sa + 8, sa)
                )
            return chaser
        if version in (2, 3):
            sa, ss = start[9], start[10]
            chaser = PointerChaser(_address(start, 12, sa), sa, ss, 0, children=False)
            chaser.add_header(_address(start, 12 + 3 * sa, sa))
            return chaser
    except (struct.error, IndexError):
        return None
    return None


def _address(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "little")
