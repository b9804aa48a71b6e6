"""The views of one open file share its controller: one time window, channel and unit picks; disposal stops
them."""

from __future__ import annotations

import re

import pytest

from components.background import BackgroundWork
from components.nwb.controller import NwbFileController
from components.nwb.views import IntervalsView, TracesView, UnitsRasterView
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR

DEMO = DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"


@pytest.fixture
def demo(policy, index_store):
    nwb = open_nwb(str(DEMO), policy, index_store)
    yield nwb
    nwb.close()


def _watchers(controller: NwbFileController) -> int:
    return sum(len(group) for per_param in controller.param.watchers.values() for group in per_param.values())


def test_a_window_set_by_one_view_is_shown_by_the_others(demo):
    controller = NwbFileController()
    traces = TracesView(demo, "/acquisition/experiment_ids", controller=controller)
    raster = UnitsRasterView(demo, "/units", controller=controller)
    traces.__panel__()
    raster.__panel__()
    traces._shift(0.25)  # the pan button moves the shared window by a quarter
    t0, t1 = controller.time_window
    assert raster._status.object.startswith(f"{t0:.2f} – {t1:.2f} s")
    controller.set_window(120.0, 130.0)  # as a zoom in any view does
    assert "Window **120.000 – 130.000 s**" in traces._status.object
    assert raster._status.object.startswith("120.00 – 130.00 s")
    later = IntervalsView(demo, "/intervals/encoding_table", controller=controller)
    later.__panel__()
    assert later._plot._drawn == (120.0, 130.0)  # a view built later opens on the shared window


def test_channel_and_unit_picks_go_through_the_controller(demo):
    controller = NwbFileController(units=[3, 5])
    raster = UnitsRasterView(demo, "/units", controller=controller)
    assert re.search(r"2 picked unit\(s\)", raster._status.object)
    controller.units = []
    assert "all units" in raster._status.object
    traces = TracesView(demo, "/acquisition/experiment_ids", controller=controller)
    assert traces._channels() == [0]
    controller.channels = [5]  # out of range for a 1-channel series: the default is used
    assert traces._channels() == [0]


def test_selecting_another_object_keeps_the_window_and_drops_the_channel_picks():
    controller = NwbFileController(object_path="/a", channels=[1, 2], time_window=(1.0, 2.0))
    controller.select("/b", "traces")
    assert (controller.object_path, controller.view, controller.channels, controller.time_window) == (
        "/b",
        "traces",
        [],
        (1.0, 2.0),
    )


def test_disposing_a_view_stops_everything_it_started(demo, workspace):
    controller = NwbFileController()
    before = _watchers(controller)
    closed = []
    work = BackgroundWork()
    for view_cls, path in (
        (TracesView, "/acquisition/experiment_ids"),
        (UnitsRasterView, "/units"),
        (IntervalsView, "/intervals/encoding_table"),
    ):
        view = view_cls(demo, path, controller=controller, work=work)
        view.__panel__()
        assert _watchers(controller) > before
        view.on_dispose(lambda cls=view_cls: closed.append(cls))  # bound now: dispose runs in this pass
        view.dispose()
        assert _watchers(controller) == before
        assert view.disposed
    assert len(closed) == 3


def test_work_outside_a_served_session_runs_inline_and_newest_wins():
    work = BackgroundWork()
    shown, errors = [], []
    work.run("k", lambda: 1, shown.append)
    work.run("k", lambda: 1 / 0, shown.append, errors.append)
    assert work.inline and shown == [1] and isinstance(errors[0], ZeroDivisionError)
    work.close()
    work.run("k", lambda: 2, shown.append)  # nothing runs once the session has ended
    assert shown == [1]


def test_the_whole_demo_raster_is_never_a_truncated_spike_set(demo):
    raster = UnitsRasterView(demo, "/units")  # no pyramid yet: all 214,277 spikes are read and datashaded
    assert re.match(r"^[\d.]+ – [\d.]+ s · 214,277 spikes · datashaded spikes", raster._status.object)
    assert "first" not in raster._status.object


def test_ttl_codes_show_as_events_over_the_bulk_of_their_timestamps(demo):
    from components.nwb.views import EventsView, views_for

    assert views_for(demo.index, "/acquisition/events")[0] is EventsView
    events = EventsView(demo, "/acquisition/events")
    status = events._status.object
    assert status.startswith("0.00 – 2821.07 s · 1,716 events") and "1 timestamp lies outside" in status
    assert "-1.5429e+09" in status  # the stray first timestamp is named, not used to place the plot


def test_trial_views_align_to_a_table_column_and_group_by_another(demo):
    from components.nwb.views import PsthView, views_for

    assert "psth" in [v.id for v in views_for(demo.index, "/units")]
    controller = NwbFileController(
        alignment={
            "table": "/intervals/encoding_table",
            "group": "stimCategory",
            "pre": -1.0,
            "post": 2.0,
            "bin": 0.1,
        }
    )
    view = PsthView(demo, "/units", controller=controller)
    assert view._status.object.startswith(
        "90 trials of /intervals/encoding_table aligned to start_time · grouped by stimCategory · 35 unit(s)"
    )
    controller.units = [0, 1]
    assert "2 unit(s)" in view._status.object  # the unit picks of the raster narrow the PSTH too
