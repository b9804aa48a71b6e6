"""The Sweeps view renders to Bokeh, follows the controller, and says what it cannot show."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import holoviews as hv
import panel as pn
import pytest

from components.nwb.controller import NwbFileController
from components.nwb.views import views_for
from components.nwb.views.icephys import IcephysView
from engines.nwb.nwbfile import NwbFile, open_nwb
from tests.conftest import DATA_DIR
from tests.support.nwb_files.icephys import write_icephys_nwb

ICEPHYS = "/general/intracellular_ephys"


@pytest.fixture(scope="module")
def icephys_file(tmp_path_factory) -> Path:
    return write_icephys_nwb(tmp_path_factory.mktemp("icephys") / "icephys.nwb")


@pytest.fixture
def nwb(policy, index_store, icephys_file) -> NwbFile:
    allowed = dataclasses.replace(policy, allowed_roots=(*policy.allowed_roots, icephys_file.parent))
    f = open_nwb(str(icephys_file), allowed, index_store)
    yield f
    f.close()


def _view(nwb: NwbFile, path: str, **selection) -> tuple[IcephysView, NwbFileController]:
    controller = NwbFileController(object_path=path, **selection)
    view = IcephysView(nwb, path, controller=controller)
    pn.panel(view.__panel__()).get_root()  # all the way to Bokeh models
    return view, controller


def _ylabels(view: IcephysView) -> list[str]:
    return [hv.Store.lookup_options("bokeh", panel, "plot").kwargs["ylabel"] for panel in view._plot.object]


def test_it_is_the_first_view_of_series_and_icephys_tables(nwb):
    for path in (
        "/acquisition/ccs_00",
        "/stimulus/presentation/vcss_06",
        ICEPHYS,
        f"{ICEPHYS}/sequential_recordings",
    ):
        assert views_for(nwb.index, path)[0] is IcephysView, path
    assert IcephysView not in views_for(nwb.index, "/")


def test_a_series_opens_on_its_own_sweep_and_the_tables_on_the_first_sequence(nwb):
    view, _ = _view(nwb, "/acquisition/vcs_07")
    assert view._picker.value == [7]
    assert _ylabels(view) == ["response (pA)", "stimulus (mV)"]
    view, _ = _view(nwb, ICEPHYS)
    assert view._picker.value == [0, 1, 2]
    assert "3 of 9 sweeps, from the icephys tables" in view._status.object
    assert len(view._table[0].value) == 3


def test_grouping_and_averaging_follow_the_controller(nwb):
    view, controller = _view(nwb, ICEPHYS)
    controller.param.update(sweeps=list(range(9)), sweep_group="sequential.stimulus_type", average=True)
    assert view._group.value == "sequential.stimulus_type" and view._average.value
    assert "9 of 9 sweeps" in view._status.object and "mean ± SD per group" in view._status.object
    assert _ylabels(view) == ["response (mV)", "response (pA)", "stimulus (pA)", "stimulus (mV)"]
    assert view._whole.options == ["", "current steps", "voltage steps"]
    view._whole.value = (
        "voltage steps"  # pick a whole group: the controller (and so the link) gets its sweeps
    )
    assert controller.sweeps == [6, 7, 8]
    assert view._whole.value == "voltage steps"


def test_an_unknown_sweep_or_group_is_said_and_the_default_shown(nwb):
    view, controller = _view(nwb, ICEPHYS, sweeps=[42], sweep_group="nonsense")
    texts = " ".join(alert.object for alert in view._problems)
    assert "This file has no sweep 42; its sweeps are 0–8" in texts
    assert "Sweeps cannot be grouped by 'nonsense'" in texts
    assert view._picker.value == [0, 1, 2]
    controller.sweeps = [1]  # a valid pick replaces the bad one, and its message goes
    assert view._picker.value == [1]
    assert "42" not in " ".join(alert.object for alert in view._problems)


def test_older_files_without_tables_show_their_series(policy, index_store):
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_PatchClampSeries.nwb"), policy, index_store)
    try:
        view, _ = _view(f, "/acquisition/pcs")
        assert "PatchClampSeries (no icephys tables)" in view._status.object
        assert view._group.options["sweep_number"] == "sweep_number"
    finally:
        f.close()


def test_crafted_descriptions_reach_the_page_as_text(tmp_path, policy, index_store):
    payload = "<img src=x onerror=alert(1)>"
    path = write_icephys_nwb(tmp_path / "crafted.nwb", text=payload)
    allowed = dataclasses.replace(policy, allowed_roots=(*policy.allowed_roots, tmp_path))
    f = open_nwb(str(path), allowed, index_store)
    try:
        view, controller = _view(f, ICEPHYS, sweep_group="condition.tag")
        controller.sweep_group = payload  # an address naming a group that is markup
        assert payload not in " ".join(alert.object for alert in view._problems)
        assert "&#60;img" in " ".join(alert.object for alert in view._problems)
        table = view._table[0]
        assert payload in " ".join(table.value["description"])  # cells are plain text in Tabulator
        assert all("<" not in title for title in table.titles.values())
    finally:
        f.close()


def test_a_selection_too_large_to_read_is_said_and_the_pickers_stay(nwb, monkeypatch):
    import engines.nwb.extract.icephys as icephys

    monkeypatch.setattr(icephys, "MAX_SAMPLES", 9_000)  # two sweeps (2 x 4,000 samples) fit, nine do not
    view, controller = _view(nwb, ICEPHYS, sweeps=list(range(9)))
    texts = " ".join(alert.object for alert in view._problems)
    assert "These sweeps could not be shown" in texts and "Pick fewer sweeps" in texts
    assert view._picker.value == list(range(9))
    controller.sweeps = []  # back to the default: the first sequence, cut to what one read takes
    assert view._picker.value == [0, 1]
    assert "2 of 9 sweeps" in view._status.object
    assert not view._problems.objects
