"""The deep dive on the demo's review (kept here, next to the demo it needs): spikeinterface-gui's own
controller and views, what reaches the decision store from them, and what they may not touch."""

from __future__ import annotations

import copy
import html
import sys
from pathlib import Path

import pytest

from components.background import BackgroundWork
from components.curation.deep_dive import DeepDive
from engines.curation import CurationReview
from engines.curation.deep_dive import SIGUI_INSTALL, check_deep_dive, read_only_analyzer, sigui_missing
from engines.curation.errors import CurationError

pytest.importorskip("spikeinterface_gui")


def _opened(review: CurationReview, group: int) -> DeepDive:
    """The deep dive built as the page builds it (outside a server its work runs at once)."""
    saved: list[int] = []
    deep = DeepDive(review, BackgroundWork(), on_saved=lambda: saved.append(1), group=group)
    deep.open()
    assert deep._built is not None, deep._message.objects
    deep.saved = saved  # type: ignore[attr-defined]
    return deep


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture
def alices_review(workspace: Path, demo_analyzer, demo_folder: Path) -> CurationReview:
    return CurationReview(workspace, demo_analyzer, demo_folder, owner="alice")


def test_a_merge_in_spikeinterface_gui_s_unit_list_is_alice_s_accept_verdict_for_the_group(alices_review):
    units = tuple(alices_review.analyzer.unit_ids[:3])
    group = alices_review.add_group(units[:2]).group_id
    deep = _opened(alices_review, group)
    controller, unitlist = deep._built.controller, deep._built.views["unitlist"]
    assert controller.get_visible_unit_ids() == list(units[:2])  # the group is what the views show
    rows = [list(unitlist.table.value.index).index(u) for u in units[:2]]
    unitlist.table.selection = rows
    unitlist.merge_button.clicks += 1  # spikeinterface-gui's own Merge button
    verdict = alices_review.verdicts()[group]
    assert (verdict.verdict, verdict.merge_units, verdict.owner) == ("accept", units[:2], "alice")
    assert deep.saved == [1]  # the page refreshes its grid
    assert "group" in deep._message.objects[0].object and "accepted" in deep._message.objects[0].object


def test_labels_and_removed_units_become_the_units_labels_and_a_merge_beyond_the_group_a_new_group(
    alices_review,
):
    units = tuple(alices_review.analyzer.unit_ids[:4])
    group = alices_review.add_group(units[:2]).group_id
    deep = _opened(alices_review, group)
    controller, view = deep._built.controller, deep._built.views["waveform"]
    controller.set_label_to_unit(units[0], "quality", "MUA")
    controller.make_manual_delete_if_possible([units[3]])
    controller.make_manual_merge_if_possible([units[1], units[2]])
    view.notify_manual_curation_updated()  # what every curation change in its views sends
    labels = alices_review.labels()
    assert (labels[units[0]].label, labels[units[0]].source) == ("mua", "human")
    assert labels[units[3]].label == "noise"
    made = [g for g in alices_review.candidates() if set(g.unit_ids) == {units[1], units[2]}]
    assert made and alices_review.verdicts()[made[0].group_id].verdict == "accept"
    assert group not in alices_review.verdicts()  # the group itself was not merged


def test_the_views_follow_the_group_and_start_from_what_was_decided(alices_review):
    units = tuple(alices_review.analyzer.unit_ids[:4])
    first = alices_review.add_group(units[:2]).group_id
    second = alices_review.add_group(units[2:4]).group_id
    alices_review.record_verdict(first, "accept")
    deep = _opened(alices_review, first)
    assert {frozenset(m["unit_ids"]) for m in deep._built.controller.curation_data["merges"]} == {
        frozenset(units[:2])
    }
    deep.group = second
    assert deep._built.controller.get_visible_unit_ids() == list(units[2:4])
    assert f"Group {second}" in deep._status.object


def test_what_the_views_compute_stays_in_memory_and_leaves_the_review_s_analyzer_as_it_was(
    alices_review, demo_folder
):
    before = _files(demo_folder)
    params = dict(alices_review.analyzer.extensions["correlograms"].params)
    deep = _opened(
        alices_review, alices_review.add_group(tuple(alices_review.analyzer.unit_ids[:2])).group_id
    )
    controller = deep._built.controller
    controller.compute_correlograms(window_ms=20.0, bin_ms=2.0)  # a view's Compute button
    controller.compute_similarity(method="cosine")
    controller.analyzer.compute("templates", operators=["average"])  # even asked to save, nothing is written
    assert controller.analyzer.extensions["correlograms"].params["window_ms"] == 20.0
    assert alices_review.analyzer.extensions["correlograms"].params == params
    assert _files(demo_folder) == before
    assert not (Path.cwd() / "curation.json").exists()


def test_an_extension_the_review_left_out_is_not_read_from_the_folder(demo_analyzer):
    """open_analyzer leaves pickled extensions out (no --trust-pickles): spikeinterface-gui's controller asks
    for extensions by name, and SpikeInterface would load a saved one from the folder."""
    opened = copy.copy(demo_analyzer)
    opened.extensions = {k: v for k, v in demo_analyzer.extensions.items() if k != "quality_metrics"}
    assert "quality_metrics" in demo_analyzer.get_saved_extension_names()  # it is in the folder
    view = read_only_analyzer(opened)
    assert view.get_extension("quality_metrics") is None and not view.has_extension("quality_metrics")
    assert view.get_extension("templates") is demo_analyzer.extensions["templates"]


def test_without_spikeinterface_gui_the_button_says_how_to_install_it(alices_review, monkeypatch):
    monkeypatch.setitem(sys.modules, "spikeinterface_gui", None)  # an import of it fails
    assert SIGUI_INSTALL in sigui_missing()
    deep = DeepDive(alices_review, BackgroundWork())
    assert deep._open.disabled and deep._open.name == f"Deep dive needs {SIGUI_INSTALL}"
    assert SIGUI_INSTALL in html.unescape(deep._message.objects[0].object)  # shown escaped, read as written
    with pytest.raises(CurationError, match="neurodeck\\[sigui\\]"):
        check_deep_dive(alices_review)


def test_an_analyzer_whose_unit_ids_hold_markup_is_not_opened(workspace: Path):
    from spikeinterface.core import create_sorting_analyzer, generate_ground_truth_recording

    recording, sorting = generate_ground_truth_recording(durations=[2.0], num_units=3, num_channels=4, seed=1)
    sorting = sorting.rename_units(["a", "<img src=x onerror=alert(1)>", "c"])
    analyzer = create_sorting_analyzer(sorting, recording, format="memory", sparse=False)
    review = CurationReview(workspace, analyzer, None)
    with pytest.raises(CurationError, match="HTML characters"):
        check_deep_dive(review)
