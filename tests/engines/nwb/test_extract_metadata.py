"""The file overview comes from the index alone and agrees with pynwb."""

from __future__ import annotations

import warnings

import pynwb

from engines.nwb.extract import file_overview
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR


def _read(name: str):
    io = pynwb.NWBHDF5IO(str(DATA_DIR / name), "r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return io, io.read()


def test_overview_over_http_costs_no_requests_and_matches_pynwb(range_server, policy, index_store):
    f = open_nwb(range_server.url_for("sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    range_server.log.clear()
    overview = file_overview(f)
    assert range_server.log.count == 0
    io, nwb = _read("sub-4_ses-4_ecephys+image.nwb")
    with io:
        session = overview["Session"]
        assert (session["identifier"], session["session_description"], session["lab"]) == (
            nwb.identifier,
            nwb.session_description,
            nwb.lab,
        )
        assert session["session_start_time"].startswith("1900-01-01")
        assert session["nwb_version"] == "2.4.0"
        assert overview["Subject"] == {
            "subject_id": "4",
            "species": "Homo sapiens",
            "sex": "M",
            "age": "P49Y",
        }
        assert set(overview["Devices"]) == set(nwb.devices)
        assert set(overview["Electrode groups"]) == set(nwb.electrode_groups)
        contents = overview["Contents"]
        assert (contents["Units"], contents["TimeIntervals"], contents["OpticalSeries"]) == (1, 3, 1)
        assert "VectorData" not in contents and "NWBFile" not in contents


def test_overview_lists_every_subject_field_and_experimenters(policy, index_store):
    subject = file_overview(open_nwb(str(DATA_DIR / "pynwb-types/test_Subject.nwb"), policy, index_store))[
        "Subject"
    ]
    io, nwb = _read("pynwb-types/test_Subject.nwb")
    with io:
        for field in ("subject_id", "species", "sex", "age", "genotype", "weight", "description"):
            assert subject[field] == getattr(nwb.subject, field)
    session = file_overview(open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, index_store))["Session"]
    assert session["experimenter"] == "Mike Economo"
    assert session["keywords"] == (
        "motor planning; premotor cortex; preparatory activity; extracellular electrophysiology"
    )
    assert session["institution"] == "Janelia Research Campus"


def test_devices_and_electrode_groups_show_their_descriptions(policy, index_store):
    overview = file_overview(
        open_nwb(str(DATA_DIR / "pynwb-types/test_ElectricalSeries.nwb"), policy, index_store)
    )
    assert overview["Devices"] == {"dev1": ""}
    assert overview["Electrode groups"]["tetrode1"].startswith("tetrode location")
