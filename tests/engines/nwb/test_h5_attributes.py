"""Attributes decoded from fetched header bytes must equal what h5py reads, kind by kind.

The remote walk decodes attributes itself (``engines/nwb/_h5_attributes.py``) and leaves
the rest to h5py; these tests write files with every common attribute kind in both header
versions, decode them from the file's bytes, and compare with h5py's own reads.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.nwb._h5_attributes import UNDECODED, AttributeDecoder
from engines.nwb._h5_pointers import PointerChaser
from engines.nwb.index import to_jsonable
from tests.conftest import ALL_NWB_FILES, DATA_DIR

NAMES = [str(p.relative_to(DATA_DIR)) for p in ALL_NWB_FILES]

DECODED = [
    "int8",
    "uint8",
    "int16_be",
    "int32",
    "uint64_be",
    "float16",
    "float32",
    "float64_be",
    "nan",
    "inf",
    "ints_2d",
    "floats",
    "empty_floats",
    "text",
    "ascii_text",
    "unicode_text",
    "empty_text",
    "texts",
    "texts_2d",
    "fixed",
    "fixed_array",
    "fixed_nullterm",
    "fixed_spacepad",
    "bytes_with_null",
]
LEFT_TO_H5PY = ["flag", "flags", "reference", "compound", "nothing", "ragged", "array_type"]


def _fixed_string(obj: h5py.HLObject, name: str, size: int, padding: int, raw: bytes) -> None:
    """A fixed-length string attribute with this padding, its bytes written as given (no conversion)."""
    string_type = h5py.h5t.C_S1.copy()
    string_type.set_size(size)
    string_type.set_strpad(padding)
    attr = h5py.h5a.create(obj.id, name.encode(), string_type, h5py.h5s.create(h5py.h5s.SCALAR))
    attr.write(np.array(raw, dtype=f"S{size}"), mtype=string_type)


def _write_kinds(obj: h5py.HLObject, target: h5py.HLObject) -> None:
    attrs = obj.attrs
    attrs["int8"] = np.int8(-5)
    attrs["uint8"] = np.uint8(250)
    attrs["int16_be"] = np.array(-1234, dtype=">i2")
    attrs["int32"] = np.int32(2**31 - 1)
    attrs["uint64_be"] = np.array(2**64 - 1, dtype=">u8")
    attrs["float16"] = np.float16(1.5)
    attrs["float32"] = np.float32(0.1)
    attrs["float64_be"] = np.array(-2.5e-300, dtype=">f8")
    attrs["nan"] = np.nan
    attrs["inf"] = -np.inf
    attrs["ints_2d"] = np.arange(6, dtype="<i4").reshape(2, 3)
    attrs["floats"] = np.linspace(0, 1, 7)
    attrs["empty_floats"] = np.zeros(0)
    attrs["text"] = "a vlen string written by h5py"
    attrs.create("ascii_text", "plain", dtype=h5py.string_dtype("ascii"))
    attrs["unicode_text"] = "Ünïcødé µV ✓"
    attrs["empty_text"] = ""
    attrs["texts"] = ["one", "two", "", "three"]
    attrs.create(
        "texts_2d", np.array([["a", "bb"], ["ccc", "dddd"]], dtype=object), dtype=h5py.string_dtype()
    )
    attrs["fixed"] = np.bytes_(b"abc")
    attrs["fixed_array"] = np.array([b"x", b"yy", b"zzz"], dtype="S3")
    _fixed_string(obj, "fixed_nullterm", 6, h5py.h5t.STR_NULLTERM, b"abc\0zz")
    _fixed_string(obj, "fixed_spacepad", 6, h5py.h5t.STR_SPACEPAD, b"ab  ")
    _fixed_string(obj, "bytes_with_null", 6, h5py.h5t.STR_NULLPAD, b"a\0b")
    attrs["flag"] = True
    attrs["flags"] = np.array([True, False])
    attrs["reference"] = target.ref
    attrs["compound"] = np.array((1, 2.5), dtype=[("a", "<i4"), ("b", "<f8")])
    attrs["nothing"] = h5py.Empty("f8")
    attrs.create("ragged", np.array([np.arange(2), np.arange(3)], dtype=object), dtype=h5py.vlen_dtype("i4"))
    attrs.create("array_type", np.zeros((2, 3), dtype="i4"), shape=(2, 3), dtype=np.dtype("(3,)i4"))


def _file_with_every_kind(path: Path, libver: str) -> None:
    """Every kind on the root, a group and a dataset; with ``libver="latest"`` (v2 headers) more
    than 8 attributes go to dense storage, except on ``/kinds``, made to keep 100 in its header."""
    with h5py.File(path, "w", libver=libver) as h5:
        target = h5.create_dataset("target", data=np.arange(4))
        group = h5.create_group("group")
        dataset = h5.create_dataset("group/values", data=np.arange(10.0))
        compact = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        compact.set_attr_phase_change(100, 90)
        kinds = h5py.Group(h5py.h5g.create(h5.id, b"kinds", gcpl=compact))
        for obj in (h5["/"], group, dataset, kinds):
            _write_kinds(obj, target)
        for i in range(40):  # grows the header past its first block: attributes in continuation blocks
            group.attrs[f"late_{i:02d}"] = f"value {i}" * (i % 5)
        ordered = h5.create_group("ordered", track_order=True)
        ordered.attrs["zeta"] = 1
        ordered.attrs["alpha"] = 2


def _decode_all(path: Path) -> tuple[dict[str, dict | None], dict[str, h5py.HLObject], h5py.File]:
    data = path.read_bytes()

    def peek(offset: int, length: int) -> bytes | None:
        return data[offset : offset + length] if 0 <= offset < len(data) else None

    h5 = h5py.File(path, "r")
    plist = h5.id.get_create_plist()
    sizes = plist.get_sizes()
    chaser = PointerChaser(plist.get_userblock(), *sizes, 4096)
    objects = {"/": h5["/"]}
    h5.visititems(lambda name, obj: objects.setdefault("/" + name, obj) and None)
    for obj in objects.values():
        chaser.add_header(h5py.h5o.get_info(obj.id).addr)
    while chaser.follow(peek):
        pass
    decoder = AttributeDecoder(*sizes, peek)
    decoded = {}
    for path_in_file, obj in objects.items():
        messages = chaser.attribute_messages(h5py.h5o.get_info(obj.id).addr, peek)
        decoded[path_in_file] = decoder.decode(messages) if messages is not None else None
    return decoded, objects, h5


def _same(ours, theirs) -> bool:
    mine, expected = to_jsonable(ours), to_jsonable(theirs)
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(mine, float) and math.isnan(mine)
    return type(mine) is type(expected) and mine == expected


@pytest.mark.parametrize("libver", ["earliest", "latest"])
def test_every_common_kind_decodes_to_what_h5py_reads(tmp_path, libver):
    path = tmp_path / f"{libver}.h5"
    _file_with_every_kind(path, libver)
    decoded, objects, h5 = _decode_all(path)
    with h5:
        compact = ["/kinds"] + (["/", "/group", "/group/values"] if libver == "earliest" else [])
        for name in compact:
            values = decoded[name]
            assert values is not None, f"{name}: its attributes were not decoded at all"
            assert list(values) == list(objects[name].attrs), f"{name}: names or order differ from h5py's"
            for key in DECODED:
                assert values[key] is not UNDECODED, f"{name}: {key} was left to h5py"
                assert _same(values[key], objects[name].attrs[key]), f"{name}: {key} differs from h5py's"
            for key in LEFT_TO_H5PY:
                assert values[key] is UNDECODED, f"{name}: {key} should be left to h5py"
        if libver == "earliest":  # v1 headers: the late attributes sit in continuation blocks
            late = [key for key in decoded["/group"] if key.startswith("late_")]
            assert len(late) == 40 and all(_same(decoded["/group"][k], h5["/group"].attrs[k]) for k in late)
        else:  # dense storage (a fractal heap) is read by h5py
            assert decoded["/"] is None and decoded["/group"] is None and decoded["/group/values"] is None
        assert decoded["/ordered"] is None, "creation-ordered attributes are listed by h5py"


@pytest.mark.parametrize("name", NAMES)
def test_real_files_decode_to_what_h5py_reads(name):
    decoded, objects, h5 = _decode_all(DATA_DIR / name)
    with h5:
        checked = 0
        for path_in_file, values in decoded.items():
            if values is None:
                continue
            assert list(values) == list(objects[path_in_file].attrs), path_in_file
            for key, value in values.items():
                if value is not UNDECODED:
                    assert _same(value, objects[path_in_file].attrs[key]), f"{path_in_file}: {key}"
                    checked += 1
        total = sum(len(obj.attrs) for obj in objects.values())
        assert checked >= 0.8 * total, f"only {checked} of {total} attributes decoded"
