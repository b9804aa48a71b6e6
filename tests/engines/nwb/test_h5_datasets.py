"""Datasets described from their fetched headers (``_h5_datasets``) equal h5py's description, every kind.

A remote walk no longer opens most datasets with h5py; the index must not change for it. Each
file holds every storage and type the decoder handles or leaves to h5py, in the classic and the
latest HDF5 format (object header v2, layout v4), and the remote index must equal the local one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.nwb import _walk
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.support.range_server import RangeServer


def _compact(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """A dataset stored in its header (h5py's high-level API cannot ask for it)."""
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple(data.shape)
    dset = h5py.h5d.create(group.id, name.encode(), h5py.h5t.py_create(data.dtype), space, dcpl=plist)
    dset.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def _write(path: Path, libver: str) -> Path:
    with h5py.File(path, "w", libver=libver) as h5:
        h5.attrs["nwb_version"] = "2.7.0"
        g = h5.create_group("kinds")
        g.create_dataset("gzip", data=np.arange(1000.0), chunks=(100,), compression="gzip", shuffle=True)
        g.create_dataset("lzf", data=np.arange(3000, dtype="<i2"), chunks=(500,), compression="lzf")
        g.create_dataset("fletcher", data=np.arange(1000), chunks=(100,), fletcher32=True)
        g.create_dataset("unlimited", data=np.zeros((400, 3)), maxshape=(None, 3), chunks=(100, 3))
        _compact(g, "compact", np.arange(5, dtype="<u4"))
        g.create_dataset("scalar_nan", data=np.nan)
        g.create_dataset("scalar_int", data=np.int64(-7))
        g.create_dataset("big_endian", data=np.arange(6, dtype=">i4").reshape(2, 3))
        g.create_dataset("half", data=np.arange(4, dtype="<f2"))
        g.create_dataset("fixed", data=np.array([b"ab", b"cde"], dtype="S4"))
        g.create_dataset("fixed_scalar", data=np.bytes_(b"hello"))
        g.create_dataset("vlen", data=["one", "two", "three"], dtype=h5py.string_dtype())
        g.create_dataset("vlen_scalar", data="a description", dtype=h5py.string_dtype())
        g.create_dataset("empty", shape=(0,), dtype="f8")
        g.create_dataset("null", data=h5py.Empty("f4"))
        g.create_dataset("unwritten", shape=(3,), dtype="i4", fillvalue=9)
        g.create_dataset("bools", data=np.array([True, False]))
        g.create_dataset("compound", data=np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]))
        g.create_dataset("refs", data=[h5["kinds"].ref], dtype=h5py.ref_dtype)
        g.create_dataset("big", data=np.arange(10_000.0))
        g["gzip"].attrs["unit"] = "volts"
        g["gzip"].attrs["conversion"] = 0.5
    return path


def _rows(index) -> list[tuple[str, dict]]:
    return [(path, dataclasses.asdict(info)) for path, info in index.objects.items()]


@pytest.mark.parametrize("libver", ["earliest", "latest"])
def test_header_descriptions_equal_h5py_for_every_kind(libver, workspace, policy, monkeypatch):
    path = _write(workspace / f"kinds_{libver}.nwb", libver)
    described: list[str] = []
    original = _walk.dataset_from_header

    def counted(name, *args):
        info = original(name, *args)
        if info is not None:
            described.append(name)
        return info

    monkeypatch.setattr(_walk, "dataset_from_header", counted)
    with RangeServer(workspace) as server:
        remote = open_nwb(server.url_for(path.name), policy, IndexStore(workspace / "remote"))
        local = open_nwb(str(path), policy, IndexStore(workspace / "local"))
        try:
            assert _rows(remote.index) == _rows(local.index)
        finally:
            remote.close()
            local.close()
    if libver == "earliest":  # the classic format NWB files are written in: most kinds come from headers
        # (small chunked values, references, bools and compounds are h5py's)
        expected = {"gzip", "lzf", "fletcher", "unlimited", "compact", "scalar_nan", "scalar_int", "big"}
        assert expected <= {name.rsplit("/", 1)[-1] for name in described}
    assert local.index.get("/kinds/scalar_nan").has_value
    assert local.index.get("/kinds/gzip").compression == "gzip"
