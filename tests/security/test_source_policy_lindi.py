"""A LINDI index cannot lead the server outside the allowed folders or to private addresses.

An index names where its data lives: chunk references (paths relative to the index, absolute
paths, URLs, templates) and whole HDF5 files (``_EXTERNAL_ARRAY_LINK``). Each must pass the
same rules as a path or URL the user typed. The crafted indexes here sit under an allowed
folder and point at a file outside every allowed folder, or at a loopback server.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.errors import NeurodeckError
from engines.io.errors import SourceNotAllowed, SourceNotFound
from engines.nwb.errors import NwbOpenError
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb

SECRET = b"top secret bytes"


def _index(x_attrs: dict | None = None, ref: list | None = None) -> dict:
    refs = {
        ".zgroup": {"zarr_format": 2},
        ".zattrs": {"nwb_version": "2.7.0"},
        "x/.zarray": {
            "chunks": [16],
            "compressor": None,
            "dtype": "|u1",
            "fill_value": 0,
            "filters": None,
            "order": "C",
            "shape": [16],
            "zarr_format": 2,
        },
        "x/.zattrs": x_attrs or {},
    }
    if ref is not None:
        refs["x/0"] = ref
    return {"version": 1, "refs": refs}


@pytest.fixture
def site(tmp_path: Path, workspace: Path):
    """An allowed folder holding indexes, and a secret file (and HDF5 file) outside every allowed folder."""
    served = workspace / "served"
    served.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.bin"
    secret.write_bytes(SECRET)
    with h5py.File(outside / "secret.h5", "w") as h5:
        h5["data"] = np.frombuffer(SECRET, dtype="u1")
    os.utime(secret, (1, secret.stat().st_mtime))  # any read now moves the access time (relatime)
    (served / "link.bin").symlink_to(secret)
    return served, outside


def _write(folder: Path, name: str, index: dict) -> Path:
    path = folder / f"{name}.lindi.json"
    path.write_text(json.dumps(index))
    return path


def _read_x(path: Path, policy, workspace: Path) -> bytes:
    nwb = open_nwb(str(path), policy, IndexStore(workspace / "indexes"))
    try:
        return bytes(nwb.dataset("/x")[:])
    finally:
        nwb.close()


@pytest.mark.parametrize(
    "location",
    [
        "../../outside/secret.bin",
        "./../../outside/secret.bin",
        "link.bin",
        "{{root}}/outside/secret.bin",
        "ABSOLUTE",
        "FROM_SERVER_FOLDER",
    ],
)
def test_chunk_references_outside_the_folders_are_refused(location, site, policy, workspace):
    served, outside = site
    from_server_folder = location == "FROM_SERVER_FOLDER"
    location = location.replace("ABSOLUTE", str(outside / "secret.bin"))
    location = location.replace(
        "FROM_SERVER_FOLDER", os.path.relpath(outside / "secret.bin")
    )  # lindi's own reading
    index = {**_index(ref=[location, 0, len(SECRET)]), "templates": {"root": str(outside.parent)}}
    # Read from the index's folder, a path relative to the server's folder names a file outside the roots or,
    # depending on where the server runs, no file at all: either way it is refused, never read.
    refusal = (SourceNotAllowed, SourceNotFound) if from_server_folder else SourceNotAllowed
    with pytest.raises(refusal, match="outside the folders this server may read|No file at") as caught:
        _read_x(_write(served, "crafted", index), policy, workspace)
    if refusal is SourceNotAllowed:
        assert "outside the folders this server may read" in str(caught.value)
    named = location.replace(
        "{{root}}", str(outside.parent)
    )  # what the index itself says, templates expanded
    assert str(outside) not in str(caught.value).replace(named, "")  # no resolved path, no symlink target
    assert (outside / "secret.bin").stat().st_atime == 1  # not opened for reading


@pytest.mark.parametrize("target", ["ABSOLUTE", "../../outside/secret.h5"])
def test_external_hdf5_files_outside_the_folders_are_refused(target, site, policy, workspace):
    served, outside = site
    target = target.replace("ABSOLUTE", str(outside / "secret.h5"))
    index = _index({"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": target, "name": "data"}})
    with pytest.raises(SourceNotAllowed, match="outside the folders this server may read"):
        _read_x(_write(served, "external", index), policy, workspace)


def test_loopback_urls_are_refused_for_chunks_and_external_files(site, policy, workspace, range_server):
    served, _ = site
    strict = dataclasses.replace(policy, allow_private_urls=False)
    url = range_server.url_for("pynwb-types/test_Units.nwb")
    range_server.log.clear()
    for name, index in (
        ("chunk", _index(ref=[url, 0, 16])),
        (
            "external",
            _index({"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": url, "name": "units/id"}}),
        ),
    ):
        with pytest.raises(SourceNotAllowed, match="private address 127.0.0.1"):
            _read_x(_write(served, name, index), strict, workspace)
    assert range_server.log.count == 0


def test_references_inside_the_folders_still_read(site, policy, workspace, range_server):
    """What the rules allow keeps working: a chunk beside the index, an external HDF5 file, a chunk URL."""
    served, _ = site
    (served / "chunk.bin").write_bytes(b"0123456789abcdef")
    with h5py.File(served / "data.h5", "w") as h5:
        h5["group/data"] = np.arange(16, dtype="u1")
    beside = _write(served, "beside", _index(ref=["./chunk.bin", 0, 16]))
    assert _read_x(beside, policy, workspace) == b"0123456789abcdef"
    linked = _index(
        {"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": "data.h5", "name": "group/data"}}
    )
    assert _read_x(_write(served, "linked", linked), policy, workspace) == bytes(range(16))
    source = Path(range_server.root) / "pynwb-types/test_Units.nwb"
    from_url = _read_x(
        _write(served, "url", _index(ref=[range_server.url_for("pynwb-types/test_Units.nwb"), 0, 16])),
        policy,
        workspace,
    )
    assert from_url == source.read_bytes()[:16]


def test_hdf5_external_links_inside_an_external_file_are_not_followed(site, policy, workspace):
    served, outside = site
    with h5py.File(served / "hop.h5", "w") as h5:
        h5["away"] = h5py.ExternalLink(str(outside / "secret.h5"), "/")
    index = _index(
        {"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": "hop.h5", "name": "away/data"}}
    )
    with pytest.raises(NeurodeckError, match="does not follow"):
        _read_x(_write(served, "hop", index), policy, workspace)


def test_a_symlinked_index_is_named_as_typed_not_by_its_target(workspace, policy):
    hidden = workspace / "hidden-store"
    hidden.mkdir()
    (hidden / "real.lindi.json").write_text("{ not json")
    link = workspace / "mine.lindi.json"
    link.symlink_to(hidden / "real.lindi.json")
    with pytest.raises(NwbOpenError) as caught:
        open_nwb(str(link), policy, IndexStore(workspace / "indexes"))
    assert "mine.lindi.json" in str(caught.value)
    assert "hidden-store" not in str(caught.value) and "real.lindi.json" not in str(caught.value)


def test_a_symlink_out_of_the_folders_names_only_what_was_typed(site, policy, workspace):
    served, outside = site
    (served / "innocent.nwb").symlink_to(outside / "secret.h5")
    typed = str(served / "innocent.nwb")
    with pytest.raises(SourceNotAllowed) as caught:
        open_nwb(typed, policy, IndexStore(workspace / "indexes"))
    assert typed in str(caught.value) and str(outside) not in str(caught.value)


def test_an_unreadable_file_behind_a_symlink_is_named_as_typed(workspace, policy):
    hidden = workspace / "hidden-store"
    hidden.mkdir()
    (hidden / "real.nwb").write_bytes(
        b"\x89HDF\r\n\x1a\n" + b"\0" * 64
    )  # an HDF5 signature, then nothing usable
    (workspace / "mine.nwb").symlink_to(hidden / "real.nwb")
    with pytest.raises(NwbOpenError) as caught:
        open_nwb(str(workspace / "mine.nwb"), policy, IndexStore(workspace / "indexes"))
    message = str(caught.value)
    assert "mine.nwb" in message and "hidden-store" not in message and "real.nwb" not in message


def test_a_local_lindi_tar_reads_its_own_members(workspace, policy):
    """``./`` references of a ``.lindi.tar`` are byte ranges inside the tar itself: still read, through the
    checks."""
    import lindi

    path = workspace / "made.lindi.tar"
    made = lindi.LindiH5pyFile.from_lindi_file(str(path), mode="w")
    made.attrs["nwb_version"] = "2.7.0"
    made.create_dataset("x", data=np.arange(40_000, dtype="f8"), chunks=(10_000,))
    made.close()
    nwb = open_nwb(str(path), policy, IndexStore(workspace / "indexes"))
    try:
        assert np.array_equal(nwb.dataset("/x")[:], np.arange(40_000, dtype="f8"))
    finally:
        nwb.close()
