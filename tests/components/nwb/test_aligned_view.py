"""The aligned view: picked objects stacked on the file's shared window, each read for that window.

Outside a served session ``BackgroundWork`` runs work at once, so a controller change has been
read and applied by the time the assignment returns.
"""

from __future__ import annotations

import html

import panel as pn
import pytest

from components.nwb.controller import NwbFileController
from components.nwb.views import AlignedSeriesView, views_for
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.aligned import BROKEN, CRAFTED_NAME, write_aligned_nwb

LFP, TTL, TRIALS, UNITS = "/acquisition/lfp", "/acquisition/ttl", "/intervals/trials", "/units"


@pytest.fixture
def nwb(workspace, policy, index_store):
    f = open_nwb(str(write_aligned_nwb(workspace / "aligned.nwb")), policy, index_store)
    yield f
    f.close()


def _view(nwb, path="/", **shared) -> AlignedSeriesView:
    view = AlignedSeriesView(nwb, path, controller=NwbFileController(object_path=path, **shared))
    pn.panel(view.__panel__()).get_root()  # down to Bokeh models, so plot callbacks run
    return view


def _drawn_windows(view: AlignedSeriesView) -> dict[str, tuple[float, float]]:
    return {path: panel.plot._drawn for path, panel in view._panels.items() if panel.plot is not None}


def test_offered_for_the_root_and_every_time_based_object(nwb):
    for path in ("/", LFP, TTL, TRIALS, UNITS, "/acquisition/notes", "/events/lever_presses"):
        assert "align" in [v.id for v in views_for(nwb.index, path)], path
    assert "align" not in [v.id for v in views_for(nwb.index, "/general")]


def test_root_stacks_one_object_of_each_kind_and_the_selected_object_alone(nwb):
    view = _view(nwb)
    kinds = [view._items[p].kind for p in view._panels]
    assert kinds == ["traces", "events", "intervals", "units"]
    assert list(_view(nwb, TRIALS)._panels) == [TRIALS]


def test_picker_lists_every_time_based_object_grouped_by_kind(nwb):
    view = _view(nwb, LFP)
    labels = list(view._picker.options)
    kinds = [label.split(" · ")[0] for label in labels]
    assert kinds == sorted(kinds, key=["Traces", "Events", "Intervals", "Units"].index)
    assert view._picker.value == [LFP]
    assert "Events · /events/lever_presses" in labels and f"Units · {UNITS}" in labels


def test_a_shared_window_change_reaches_every_panel(nwb):
    series = [LFP, TTL, TRIALS, UNITS, "/acquisition/notes"]
    controller = NwbFileController(object_path="/", series=series, time_window=(10.0, 20.0))
    view = AlignedSeriesView(nwb, "/", controller=controller)
    pn.panel(view.__panel__()).get_root()
    assert set(_drawn_windows(view).values()) == {(10.0, 20.0)}
    controller.time_window = (40.0, 45.0)
    assert _drawn_windows(view) == dict.fromkeys(series, (40.0, 45.0))
    assert all(" · 40.00 – 45.00 s · " in panel.title.object for panel in view._panels.values())
    spikes = view._panels[UNITS].plot._pipe.data[0].data
    assert len(spikes.times) and spikes.times.min() >= 40.0 and spikes.times.max() < 45.0
    trials = view._panels[TRIALS].plot._pipe.data[0].data
    assert list(trials.start) == [40.0]  # the trial 40-46 s; the one 30-36 s ends before the window


def test_zooming_one_panel_moves_the_shared_window(nwb):
    controller = NwbFileController(series=[LFP, UNITS], time_window=(0.0, 30.0))
    view = AlignedSeriesView(nwb, "/", controller=controller)
    pn.panel(view.__panel__()).get_root()
    view._panels[LFP].plot._zoomed(x_range=(5.0, 7.5))  # what Bokeh reports on a wheel zoom
    assert controller.time_window == (5.0, 7.5)
    assert _drawn_windows(view)[UNITS] == (5.0, 7.5)


def test_long_window_traces_are_decimated(nwb):
    view = _view(nwb, LFP, time_window=(0.0, 120.0))
    trace = view._panels[LFP].plot._pipe.data[0].data
    assert trace.decimated and len(trace.t) <= 1200
    assert "decimated" in view._panels[LFP].title.object


def test_a_series_that_cannot_be_read_says_why_and_the_others_draw(nwb):
    view = _view(nwb, "/", series=[LFP, f"/acquisition/{BROKEN}", UNITS])
    broken = view._panels[f"/acquisition/{BROKEN}"]
    assert broken.plot is None
    alert = broken.body[0]
    assert isinstance(alert, pn.pane.Alert) and "rate" in alert.object and "could not be read" in alert.object
    assert view._panels[LFP].plot is not None and view._panels[UNITS].plot is not None


def test_picking_adds_and_removes_panels_and_updates_the_shared_series(nwb):
    controller = NwbFileController(object_path=LFP, time_window=(0.0, 10.0))
    view = AlignedSeriesView(nwb, LFP, controller=controller)
    pn.panel(view.__panel__()).get_root()
    view._picker.value = [LFP, UNITS]
    assert controller.series == [LFP, UNITS] and list(view._panels) == [LFP, UNITS]
    assert _drawn_windows(view)[UNITS] == (0.0, 10.0)
    view._picker.value = [LFP]
    assert controller.series == [] and list(view._panels) == [LFP]  # the default needs no link field


def test_unknown_series_in_a_link_are_dropped(nwb):
    view = _view(nwb, "/", series=["/nope", UNITS])
    assert list(view._panels) == [UNITS]


def test_file_names_are_shown_as_text(nwb):
    crafted = f"/acquisition/{CRAFTED_NAME}"
    view = _view(nwb, crafted)
    title = view._panels[crafted].title.object
    assert "<img" not in title and html.unescape(title).count(CRAFTED_NAME) == 1
    assert all("<img" not in label for label in view._picker.options)
    assert view._picker.value == [crafted]
