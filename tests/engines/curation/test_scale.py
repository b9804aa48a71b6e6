"""Curation at scale: the 800-unit analyzer, its 2,000+ candidate groups, and the grid paging through them.

The grid holds the rows in memory (``ReviewTable``): a page change reads nothing from the store, the page
buttons turn the page, and the correlograms (units x units x bins) are mapped from disk rather than read.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import panel as pn
import pytest
from spikeinterface.core import load_sorting_analyzer

from components.background import BackgroundWork
from components.curation.grid import CARDS_PER_PAGE, CurationGrid
from engines.curation import AnalyzerData, CandidateRequest, find_candidates, open_analyzer
from engines.curation.data import mapping_of
from engines.curation.review_table import ReviewTable


def test_the_800_unit_analyzer_has_over_2000_candidate_groups_all_judged(large_review):
    groups = large_review.candidates()
    assert len(large_review.analyzer.unit_ids) >= 800
    assert len(groups) >= 2000
    assert set(large_review.decisions()) >= {g.group_id for g in groups}


def test_the_page_buttons_turn_the_page_and_focus_its_first_group(large_review):
    grid = CurationGrid(large_review, BackgroundWork())
    pn.panel(grid)
    first_page = [card.group_id for card in grid._card_slots]
    grid._next_page(None)
    second_page = [card.group_id for card in grid._card_slots]
    assert grid.page_number == 1 and second_page == grid._shown[CARDS_PER_PAGE : 2 * CARDS_PER_PAGE]
    assert grid.group == second_page[0] and not set(first_page) & set(second_page)
    grid._previous_page(None)
    assert grid.page_number == 0 and [card.group_id for card in grid._card_slots] == first_page


def test_paging_2000_groups_reads_nothing_from_the_store_and_takes_milliseconds(large_review, monkeypatch):
    grid = CurationGrid(large_review, BackgroundWork())
    pn.panel(grid)

    def no_reads(*_args, **_kwargs):
        raise AssertionError("a page change read the store")

    for name in ("latest_decisions", "current_verdicts", "current_candidates", "groups", "examples"):
        monkeypatch.setattr(large_review.store, name, no_reads)
    times = []
    for _ in range(10):
        started = time.perf_counter()
        grid._next_page(None)
        times.append(time.perf_counter() - started)
    grid.sort_by = "least sure first"
    grid.show = "judge: not merge"
    assert grid.page_number == 0 and grid._shown
    assert statistics.median(times) < 0.3, times  # about 15 ms here: the images are drawn after, on demand


def test_a_verdict_changes_its_row_without_reading_the_table_again(review):
    review.find_candidates()
    review.judge("metrics")
    table = ReviewTable(review)
    table.reload()
    view = table.visible("not reviewed", "similarity", 0.0)
    assert table.visible("not reviewed", "similarity", 0.0) is view  # a page change: the same rows
    group = int(view["group_id"].iloc[0])
    table.apply_verdict(review.record_verdict(group, "accept"))
    assert group not in set(table.visible("not reviewed", "similarity", 0.0)["group_id"])
    row = table.frame.set_index("group_id").loc[group]
    assert row["verdict"] == "accept" and bool(row["reviewed"])
    assert table.agreement().n_compared == review.agreement().n_compared == 1
    review.undo()
    table.reload_verdicts()
    assert table.frame.set_index("group_id").loc[group, "verdict"] == ""


def test_correlograms_are_mapped_from_the_file_not_read_into_memory(demo_folder):
    analyzer, _ = open_analyzer(demo_folder)
    counts = analyzer.extensions["correlograms"].data["ccgs"]
    assert mapping_of(counts) is not None and not counts.flags.writeable
    stored = np.load(demo_folder / "extensions" / "correlograms" / "ccgs.npy")
    data = AnalyzerData(analyzer)
    units = data.unit_ids[:3]
    assert np.array_equal(data.correlograms(units)[0], stored[np.ix_([0, 1, 2], [0, 1, 2])])
    copy = analyzer.copy()  # SpikeInterface shares the data dict with a copy, and empties it when closing one
    copy.delete_extension("correlograms")
    assert np.array_equal(analyzer.extensions["correlograms"].get_data()[0], stored)


@pytest.mark.parametrize("mapped", [True, False])
def test_finding_candidates_leaves_the_analyzers_correlograms_as_they_were(demo_folder, mapped):
    """SpikeInterface's correlogram step zeroes the counts near zero lag in place: the judge, reading them
    next, saw no zero-lag peak (a duplicate's sign)."""
    analyzer = open_analyzer(demo_folder)[0] if mapped else load_sorting_analyzer(demo_folder)
    before = np.array(analyzer.extensions["correlograms"].get_data()[0])
    find_candidates(analyzer, CandidateRequest.preset("similarity_correlograms"))
    assert np.array_equal(analyzer.extensions["correlograms"].get_data()[0], before)
