"""Icephys sweeps: the list and data agree with pynwb, averages with numpy, locally and over HTTP."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pynwb import NWBHDF5IO, NWBFile
from pynwb.icephys import IZeroClampSeries

from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.icephys import average_sweeps, list_sweeps, read_sweeps
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.support.nwb_files.icephys import CC_AMPLITUDES_PA, write_icephys_nwb
from tests.support.range_server import RangeServer


@pytest.fixture(scope="module")
def icephys_file(tmp_path_factory) -> Path:
    return write_icephys_nwb(tmp_path_factory.mktemp("icephys") / "icephys.nwb")


@pytest.fixture
def local_policy(policy, icephys_file):
    return dataclasses.replace(policy, allowed_roots=(*policy.allowed_roots, icephys_file.parent))


def _members(table, column: str) -> dict[int, int]:
    """Row of the table below -> this table's id, as pynwb reads the ragged region."""
    return {int(m): int(table.id[i]) for i in range(len(table)) for m in table[column][i].index}


def _pynwb_sweeps(path: Path) -> list[dict]:
    """What pynwb says each recording is: its series, stretch, electrode and groups."""
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        recordings = nwb.intracellular_recordings
        simultaneous = _members(nwb.icephys_simultaneous_recordings, "recordings")
        sequential = _members(nwb.icephys_sequential_recordings, "simultaneous_recordings")
        stimulus_type = dict(
            zip(
                nwb.icephys_sequential_recordings.id[:], nwb.icephys_sequential_recordings["stimulus_type"][:]
            )
        )
        repetition = _members(nwb.icephys_repetitions, "sequential_recordings")
        condition = _members(nwb.icephys_experimental_conditions, "repetitions")
        tag = dict(
            zip(nwb.icephys_experimental_conditions.id[:], nwb.icephys_experimental_conditions["tag"][:])
        )
        out = []
        for row in range(len(recordings)):
            response = recordings["responses"]["response"][row]
            stimulus = recordings["stimuli"]["stimulus"][row]
            seq = sequential[simultaneous[row]]
            cond = condition[repetition[seq]]
            out.append(
                {
                    "id": int(recordings.id[row]),
                    "response": (response.timeseries.name, int(response.idx_start), int(response.count)),
                    "stimulus": (stimulus.timeseries.name, int(stimulus.idx_start), int(stimulus.count)),
                    "electrode": recordings["electrodes"]["electrode"][row].name,
                    "step": recordings["stimuli"]["step"][row],
                    "sequential": str(seq),
                    "stimulus_type": stimulus_type[seq],
                    "condition": str(cond),
                    "tag": tag[cond],
                    "sweep_number": str(response.timeseries.sweep_number),
                }
            )
        return out


def _ours(listing) -> list[dict]:
    return [
        {
            "id": s.id,
            "response": (s.response.name, s.response.start, s.response.count),
            "stimulus": (s.stimulus.name, s.stimulus.start, s.stimulus.count),
            "electrode": s.electrode.rsplit("/", 1)[-1],
            "step": s.groups["stimuli.step"],
            "sequential": s.groups["sequential"],
            "stimulus_type": s.groups["sequential.stimulus_type"],
            "condition": s.groups["condition"],
            "tag": s.groups["condition.tag"],
            "sweep_number": s.groups["sweep_number"],
        }
        for s in listing.sweeps
    ]


def _pynwb_data(path: Path, name: str, where: str = "acquisition") -> np.ndarray:
    """A series' data in its unit, scaled as pynwb's own attributes say."""
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        series = (nwb.acquisition if where == "acquisition" else nwb.stimulus)[name]
        return series.data[:].astype(np.float64) * series.conversion + series.offset


def test_the_sweep_list_is_what_pynwb_reads(icephys_file, local_policy, index_store):
    listing = list_sweeps(open_nwb(str(icephys_file), local_policy, index_store))
    assert listing.source == "table"
    assert _ours(listing) == _pynwb_sweeps(icephys_file)
    assert {"stimuli.step", "sequential.stimulus_type", "condition.tag", "repetition", "sweep_number"} <= set(
        listing.group_keys
    )
    assert [s.response.neurodata_type for s in listing.sweeps].count("VoltageClampSeries") == 3


def test_sweep_data_is_scaled_to_its_units_and_starts_at_zero(icephys_file, local_policy, index_store):
    f = open_nwb(str(icephys_file), local_policy, index_store)
    listing = list_sweeps(f)
    (data,) = read_sweeps(f, listing.pick([4]))
    assert data.response.unit == "volts" and data.stimulus.unit == "amperes"
    np.testing.assert_allclose(data.response.values, _pynwb_data(icephys_file, "ccs_04"))
    np.testing.assert_allclose(data.stimulus.values, _pynwb_data(icephys_file, "ccss_04", "stimulus"))
    assert data.stimulus.values.max() == pytest.approx(CC_AMPLITUDES_PA[1] * 1e-12)  # +50 pA, in amperes
    assert data.start_time == pytest.approx(4.0)
    assert data.response.t[0] == 0.0 and data.response.t[1] == pytest.approx(1e-4)


def test_a_group_average_is_numpys_mean_of_its_sweeps(icephys_file, local_policy, index_store):
    f = open_nwb(str(icephys_file), local_policy, index_store)
    listing = list_sweeps(f)
    data = read_sweeps(f, listing.pick(list(range(6))))
    averages = {a.group: a for a in average_sweeps(listing, data, "stimuli.step")}
    assert list(averages) == ["-50 pA", "+50 pA", "+100 pA"]
    plus100 = [_pynwb_data(icephys_file, "ccs_02"), _pynwb_data(icephys_file, "ccs_05")]
    assert averages["+100 pA"].ids == [2, 5]
    np.testing.assert_allclose(averages["+100 pA"].response.values, np.mean(plus100, axis=0))
    np.testing.assert_allclose(averages["+100 pA"].response_sd, np.std(plus100, axis=0))
    # a bigger step depolarises more: the averages are ordered by amplitude during the step
    during = [averages[g].response.values[1000:1300].mean() for g in averages]
    assert during == sorted(during)


def test_a_group_of_mixed_units_is_split_not_averaged(icephys_file, local_policy, index_store):
    f = open_nwb(str(icephys_file), local_policy, index_store)
    listing = list_sweeps(f)
    averages = average_sweeps(listing, read_sweeps(f, listing.sweeps), "condition.tag")
    assert [(a.group, a.ids) for a in averages] == [
        ("control", [0, 1, 2]),
        ("drug (volts)", [3, 4, 5]),
        ("drug (amperes)", [6, 7, 8]),
    ]


def test_the_file_read_through_the_range_server_gives_the_same(icephys_file, local_policy, index_store):
    local = open_nwb(str(icephys_file), local_policy, index_store)
    with RangeServer(icephys_file.parent) as server:
        remote = open_nwb(server.url_for(icephys_file.name), local_policy, index_store)
        try:
            remote_listing = list_sweeps(remote)
            remote_data = read_sweeps(remote, remote_listing.pick([0, 7]))
        finally:
            remote.close()
    local_listing = list_sweeps(local)
    assert _ours(remote_listing) == _ours(local_listing)
    for a, b in zip(remote_data, read_sweeps(local, local_listing.pick([0, 7]))):
        np.testing.assert_array_equal(a.response.values, b.response.values)
        np.testing.assert_array_equal(a.stimulus.t, b.stimulus.t)


def test_an_unknown_sweep_is_an_error_that_names_the_sweeps(icephys_file, local_policy, index_store):
    listing = list_sweeps(open_nwb(str(icephys_file), local_policy, index_store))
    with pytest.raises(InvalidRequest, match="no sweep 99; its sweeps are numbered 0–8"):
        listing.pick([1, 99])


def test_too_many_samples_are_refused_before_reading(icephys_file, local_policy, index_store, monkeypatch):
    import engines.nwb.extract.icephys as icephys

    f = open_nwb(str(icephys_file), local_policy, index_store)
    listing = list_sweeps(f)
    monkeypatch.setattr(icephys, "MAX_SAMPLES", 10_000)  # 3 sweeps of 2 x 2,000 samples fit, 9 do not
    assert len(read_sweeps(f, listing.pick([0, 1]))) == 2
    with pytest.raises(InvalidRequest, match="Pick fewer sweeps"):
        read_sweeps(f, listing.sweeps)


def test_older_files_group_patch_clamp_series_by_sweep_number(policy, index_store):
    listing = list_sweeps(
        open_nwb(str(DATA_DIR / "pynwb-types/test_PatchClampSeries.nwb"), policy, index_store)
    )
    assert listing.source == "series"
    (sweep,) = listing.sweeps
    assert sweep.response.path == "/acquisition/pcs" and sweep.groups["sweep_number"] == "4711"
    stimulus_only = list_sweeps(
        open_nwb(str(DATA_DIR / "pynwb-types/test_CurrentClampStimulusSeries.nwb"), policy, index_store)
    )
    assert [(s.response, s.stimulus.name) for s in stimulus_only.sweeps] == [(None, "ccss")]


def test_a_file_without_intracellular_recordings_says_so(policy, index_store):
    with pytest.raises(UnsupportedData, match="no intracellular recordings"):
        list_sweeps(open_nwb(str(DATA_DIR / "pynwb-types/test_ElectricalSeries.nwb"), policy, index_store))


def test_a_recording_with_only_a_response_has_no_stimulus(tmp_path, policy, index_store):
    """pynwb stores a missing stimulus as (-1, -1, the response): it is no stimulus, not the response."""
    nwb = NWBFile("spontaneous", "izero", datetime(2026, 1, 1, tzinfo=UTC))
    electrode = nwb.create_icephys_electrode(name="e", description="", device=nwb.create_device(name="amp"))
    series = IZeroClampSeries(name="rest", data=np.arange(50.0), electrode=electrode, rate=100.0, gain=1.0)
    nwb.add_acquisition(series)
    nwb.add_intracellular_recording(electrode=electrode, response=series)
    with NWBHDF5IO(str(tmp_path / "izero.nwb"), "w") as io:
        io.write(nwb)
    allowed = dataclasses.replace(policy, allowed_roots=(*policy.allowed_roots, tmp_path))
    f = open_nwb(str(tmp_path / "izero.nwb"), allowed, index_store)
    (sweep,) = list_sweeps(f).sweeps
    assert sweep.response.name == "rest" and sweep.stimulus is None
    (data,) = read_sweeps(f, [sweep])
    np.testing.assert_array_equal(data.response.values, np.arange(50.0))
    assert data.stimulus is None
