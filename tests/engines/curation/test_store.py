"""Verdicts, decisions and labels in SQLite: kept across restarts, never corrupted by two writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engines.curation import CandidateRequest, CurationReview, DecisionStore, MergeDecision
from engines.curation.errors import CurationError

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def groups(review):
    return review.find_candidates(CandidateRequest.recommended())


def test_decisions_verdicts_and_labels_survive_a_restart(
    review, groups, workspace, demo_analyzer, demo_folder
):
    review.judge("metrics")
    review.record_verdict(groups[0].group_id, "accept")
    review.record_verdict(groups[1].group_id, "reject")
    review.set_label(groups[0].unit_ids[0], "mua")
    review.set_example(groups[2].group_id, "good")
    again = CurationReview(workspace, demo_analyzer, demo_folder)  # a new session, as after a server restart
    assert again.key == review.key
    assert [g.group_id for g in again.candidates()] == [g.group_id for g in groups]
    assert again.decisions() == review.decisions()
    assert {g: v.verdict for g, v in again.verdicts().items()} == {
        groups[0].group_id: "accept",
        groups[1].group_id: "reject",
    }
    assert again.labels()[groups[0].unit_ids[0]].label == "mua"
    assert [g.group_id for g in again.examples().good] == [groups[2].group_id]


def test_undo_takes_back_this_sessions_latest_verdict_and_keeps_the_history(review, groups):
    group = groups[0].group_id
    review.record_verdict(group, "accept")
    review.record_verdict(group, "reject")
    undone = review.undo()
    assert undone.verdict == "reject" and review.verdicts()[group].verdict == "accept"
    assert review.undo().verdict == "accept" and group not in review.verdicts() and review.undo() is None
    assert [v.undone for v in review.store.verdict_history(review.key, group)] == [True, True]


def test_an_edited_group_gets_its_own_id_and_remembers_its_parent(review, groups):
    big = review.add_group(
        groups[0].unit_ids + tuple(u for u in groups[1].unit_ids if u not in groups[0].unit_ids)
    )
    known = {g.unit_ids for g in groups}
    dropped = next(
        big.unit_ids[:i] + big.unit_ids[i + 1 :]
        for i in range(len(big.unit_ids))
        if big.unit_ids[:i] + big.unit_ids[i + 1 :] not in known
    )
    edited = review.edit_group(big.group_id, dropped)
    assert edited.parent_id == big.group_id and edited.origin == f"edited:{big.group_id}"
    assert {big.group_id, edited.group_id} <= {g.group_id for g in review.candidates()}
    assert (
        review.edit_group(big.group_id, groups[0].unit_ids).group_id == groups[0].group_id
    )  # one id per unit set
    with pytest.raises(CurationError, match="not in group"):
        missing = next(u for u in big.unit_ids if u not in edited.unit_ids)
        review.record_verdict(edited.group_id, "accept", merge_units=(missing, edited.unit_ids[0]))
    with pytest.raises(CurationError, match="unknown verdict"):
        review.record_verdict(edited.group_id, "maybe")


def test_a_person_s_label_wins_over_a_labeler_run_later(review):
    unit = review.data.unit_ids[0]
    review.set_label(unit, "noise")
    labels = review.label_units("thresholds")
    assert {lab.label for lab in labels} <= {"good", "mua", "noise"} and len(labels) == len(
        review.data.unit_ids
    )
    assert review.labels()[unit].label == "noise" and review.labels()[unit].source == "human"


WRITER = """
import sys
from pathlib import Path
from engines.curation import DecisionStore
store = DecisionStore(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    store.record_verdict("analyzer", i % 7, ("accept", "reject", "skip")[i % 3], (1, 2), sys.argv[2])
"""


def test_two_processes_writing_verdicts_at_once_lose_nothing_and_corrupt_nothing(workspace):
    DecisionStore(workspace)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(workspace), name, "150"], cwd=REPO)
        for name in ("tab-a", "tab-b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    store = DecisionStore(workspace)
    history = store.verdict_history("analyzer")
    assert len(history) == 300 and {v.session for v in history} == {"tab-a", "tab-b"}
    assert set(store.current_verdicts("analyzer")) == set(range(7))
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_decision_row_keeps_everything_the_grid_shows(workspace):
    store = DecisionStore(workspace)
    run = store.start_run("a", "vlm", {"num_workers": 2}, [4])
    row = MergeDecision(
        group_id=4,
        unit_ids=(3, "x"),
        judge="vlm",
        decision="merge",
        confidence=0.7,
        score=0.7,
        reasoning="dip",
        report="## crosscorrelograms\ndip",
        merge_groups=((3, "x"),),
        evidence={"calls": 3},
        tokens_in=30,
        tokens_out=15,
        cost_usd=0.001,
        elapsed_s=1.5,
    )
    store.record_decision(run, "a", row)
    assert DecisionStore(workspace).decisions(run) == [row]
    summary = store.run(run)
    assert (summary.n_done, summary.tokens_in, summary.cost_usd) == (1, 30, 0.001)


def test_decisions_saved_before_calibration_stay_readable_and_new_ones_keep_their_probability(workspace):
    """A workspace whose decisions table predates ``p_merge``: its rows read back with no probability, and
    the column is added in place for the rows that follow."""
    path = workspace / "curation" / "decisions.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE decisions (run_id INTEGER NOT NULL, group_id INTEGER NOT NULL, "
            "analyzer TEXT NOT NULL, judge TEXT NOT NULL, units TEXT NOT NULL, decision TEXT, "
            "confidence REAL, score REAL, reasoning TEXT, report TEXT, merge_groups TEXT, error TEXT, "
            "evidence TEXT, tokens_in INTEGER, tokens_out INTEGER, cost_usd REAL, elapsed_s REAL, "
            "created REAL NOT NULL, PRIMARY KEY (run_id, group_id))"
        )
        db.execute(
            "INSERT INTO decisions (run_id, group_id, analyzer, judge, units, decision, confidence, score, "
            "created) VALUES (1, 0, 'a', 'metrics', '[1, 2]', 'merge', 0.97, 0.97, 1.0)"
        )
    store = DecisionStore(workspace)
    old = store.latest_decisions("a")[0]
    assert (old.decision, old.score, old.p_merge) == ("merge", 0.97, None)
    new = MergeDecision(1, (3, 4), "metrics", "not merge", 0.99, 0.01, "flat", p_merge=0.0023)
    store.record_decision(2, "a", new)
    assert DecisionStore(workspace).latest_decisions("a")[1].p_merge == 0.0023
