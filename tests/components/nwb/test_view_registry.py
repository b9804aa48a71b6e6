"""Views pick themselves from index metadata, with inheritance, for every object of every file."""

from __future__ import annotations

import pytest

from components.nwb.views import RawHdf5View, views_for
from engines.nwb.index import NwbIndex, ObjectInfo
from engines.nwb.nwbfile import open_nwb
from tests.conftest import ALL_NWB_FILES, DATA_DIR


@pytest.mark.parametrize("path", ALL_NWB_FILES, ids=lambda p: p.name)
def test_every_object_gets_at_least_the_raw_view_last(path, policy, index_store):
    index = open_nwb(str(path), policy, index_store).index
    for info in index.objects.values():
        views = views_for(index, info.path)
        assert views and views[-1] is RawHdf5View


def _ids(name: str, path: str, policy, index_store) -> list[str]:
    index = open_nwb(str(DATA_DIR / name), policy, index_store).index
    return [v.id for v in views_for(index, path)]


def test_types_get_their_views(policy, index_store):
    assert (
        _ids("pynwb-types/test_ElectricalSeries.nwb", "/acquisition/test_eS", policy, index_store)[0]
        == "traces"
    )
    assert _ids("sub-4_ses-4_ecephys+image.nwb", "/units", policy, index_store)[:3] == [
        "raster",
        "psth",
        "table",
    ]
    assert _ids("sub-4_ses-4_ecephys+image.nwb", "/acquisition/events", policy, index_store)[:2] == [
        "events",
        "traces",
    ]
    assert _ids("sub-4_ses-4_ecephys+image.nwb", "/intervals/encoding_table", policy, index_store)[:2] == [
        "intervals",
        "table",
    ]
    assert _ids("sub-4_ses-4_ecephys+image.nwb", "/", policy, index_store)[0] == "overview"
    assert "frames" in _ids(
        "pynwb-types/test_TwoPhotonSeries.nwb", "/acquisition/test_2ps", policy, index_store
    )


def test_extension_type_gets_parent_views():
    index = NwbIndex(
        objects={
            "/": ObjectInfo(path="/", kind="group", children=["ext"]),
            "/ext": ObjectInfo(path="/ext", kind="group", neurodata_type="MyLabSeries", children=["data"]),
            "/ext/data": ObjectInfo(path="/ext/data", kind="dataset", shape=[100, 4], dtype="<f4"),
        },
        nwb_version="2.7.0",
        lineage={"MyLabSeries": ["MyLabSeries", "ElectricalSeries", "TimeSeries"]},
    )
    assert [v.id for v in views_for(index, "/ext")] == ["traces", "ephys-summary", "align", "storage", "hdf5"]
