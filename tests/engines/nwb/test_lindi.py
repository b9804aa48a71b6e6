"""LINDI indexes: a remote ``.lindi.json`` gives the same tree as its HDF5 file, for the price of the JSON.

The JSON files are made by lindi from the HDF5 files served over HTTP (so their data
references point at that server) and served by a second server, so requests for the
index and for the HDF5 bytes are counted apart.
"""

from __future__ import annotations

import pytest

from engines.io.range_transport import PROBE_SIZE
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.support.range_server import RangeServer

NAMES = [
    "pynwb-types/test_Units.nwb",
    "pynwb-types/test_timestamps_linking.nwb",
    "pynwb-types/test_TimeIntervals.nwb",
    "anm369963.nwb",
    "A8604-211122_phy.nwb",
    "sub-4_ses-4_ecephys+image.nwb",
]

SAME = ("kind", "neurodata_type", "namespace", "attrs", "children", "shape", "dtype", "link_target")
"""What a LINDI index tells exactly as the HDF5 file does. Not compared: storage layout (chunks,
compression, maxshape describe LINDI's zarr chunks) and hard links (LINDI has none)."""


def _json_name(name: str) -> str:
    return name.replace("/", "__") + ".lindi.json"


@pytest.fixture(scope="module")
def lindi_server(range_server, tmp_path_factory):
    import lindi

    folder = tmp_path_factory.mktemp("lindi")
    for name in NAMES:
        source = lindi.LindiH5pyFile.from_hdf5_file(range_server.url_for(name))
        source.write_lindi_file(str(folder / _json_name(name)))
        source.close()
    with RangeServer(folder) as server:
        yield server


@pytest.mark.parametrize("name", NAMES)
def test_lindi_tree_equals_hdf5_index(name, lindi_server, policy, workspace):
    from_json = open_nwb(lindi_server.url_for(_json_name(name)), policy, IndexStore(workspace / "lindi"))
    from_hdf5 = open_nwb(str(DATA_DIR / name), policy, IndexStore(workspace / "hdf5"))
    try:
        assert list(from_json.index.objects) == list(from_hdf5.index.objects)
        for path, expected in from_hdf5.index.objects.items():
            got = from_json.index.objects[path]
            for field in SAME:
                assert getattr(got, field) == getattr(expected, field), (path, field)
            if expected.has_value and not expected.dtype.startswith(
                "compound"
            ):  # lindi cannot select compounds
                assert (got.has_value, got.value) == (True, expected.value), path
        assert from_json.index.lineage == from_hdf5.index.lineage
    finally:
        from_json.close()
        from_hdf5.close()


@pytest.mark.parametrize("name", ["pynwb-types/test_Units.nwb", "sub-4_ses-4_ecephys+image.nwb"])
def test_listing_costs_the_json_alone(name, lindi_server, range_server, policy, index_store):
    """The probe reads the first 100 KB; a longer JSON costs one more request for the rest. The HDF5 file is
    not touched."""
    json_name = _json_name(name)
    size = (lindi_server.root / json_name).stat().st_size
    lindi_server.log.clear()
    range_server.log.clear()
    nwb = open_nwb(lindi_server.url_for(json_name), policy, index_store)
    try:
        assert len(nwb.index.objects) > 10
        assert lindi_server.log.count == (1 if size <= PROBE_SIZE else 2)
        assert lindi_server.log.bytes == size
        assert range_server.log.count == 0
    finally:
        nwb.close()


def test_reopen_of_lindi_is_the_probe_alone(lindi_server, policy, workspace):
    url = lindi_server.url_for(_json_name("sub-4_ses-4_ecephys+image.nwb"))
    open_nwb(url, policy, IndexStore(workspace)).close()
    lindi_server.log.clear()
    again = open_nwb(url, policy, IndexStore(workspace))
    try:
        assert lindi_server.log.count == 1
        assert again.index.get("/units").neurodata_type == "Units"
    finally:
        again.close()


def test_index_pointing_at_private_addresses_or_foreign_files_is_refused(policy, workspace, range_server):
    """A crafted index must not turn the server into a fetcher of loopback URLs or local files."""
    import dataclasses
    import json

    from engines.io.errors import SourceNotAllowed

    def index_with(location: str) -> dict:
        return {
            "version": 1,
            "refs": {
                ".zgroup": json.dumps({"zarr_format": 2}),
                ".zattrs": json.dumps({"nwb_version": "2.7.0"}),
                "x/0": [location, 0, 16],
            },
        }

    strict = dataclasses.replace(policy, allow_private_urls=False)
    folder = workspace / "served"
    folder.mkdir()
    (folder / "loopback.lindi.json").write_text(json.dumps(index_with("http://127.0.0.1:9/secret")))
    (folder / "passwd.lindi.json").write_text(json.dumps(index_with("/etc/passwd")))
    (folder / "templated.lindi.json").write_text(
        json.dumps({**index_with("{{u}}"), "templates": {"u": "http://169.254.169.254/latest/meta-data"}})
    )
    for name in ("loopback", "templated"):
        with pytest.raises(SourceNotAllowed, match="private address"):
            open_nwb(str(folder / f"{name}.lindi.json"), strict, IndexStore(workspace))
    with pytest.raises(SourceNotAllowed, match="outside the folders"):
        open_nwb(str(folder / "passwd.lindi.json"), policy, IndexStore(workspace))
