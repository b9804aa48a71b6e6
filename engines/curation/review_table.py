"""The review grid's rows, held in memory between page changes: filter, sort and page without the store.

At 800 units and 2,000+ candidate groups, each page change read every decision from SQLite (twice: once for
the agreement line, once for the focused group's detail) and decoded their JSON, about 0.4 s a page. Here
the rows are read once (``reload``), filtered and sorted once per view (``visible`` keeps the last one), and
a verdict updates its own row (``apply_verdict``) instead of reading the table again; ``refresh`` in the
grid still re-reads everything (other tabs' verdicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from engines.curation.agreement import Agreement, disagrees, measure_agreement
from engines.curation.model import CandidateGroup, MergeDecision, Verdict

__all__ = ["FILTERS", "SORTS", "ReviewTable", "build_table", "filter_rows", "with_doubt"]

FILTERS: dict[str, str | None] = {
    "all": None,
    "not reviewed": "not_reviewed",
    "judge: merge": "merge",
    "judge: not merge": "not merge",
    "not enough evidence": "not enough evidence",
    "judge error": "error",
    "human/AI disagree": "disagrees",
    "reviewed": "reviewed",
}
SORTS: dict[str, tuple[str, bool]] = {
    "group": ("group_id", False),
    "similarity": ("similarity", True),
    "confidence": ("confidence", True),
    "score": ("score", True),
    "least sure first": ("doubt", False),
}
"""Grid orderings: column and whether descending. ``doubt`` is |P(merge) - 0.5| (see ``with_doubt``)."""
_THEN_BY = {"doubt": "score_doubt"}
"""Ties broken by a second column: groups the calibration puts in one block (the same probability) come
least sure of the raw score first."""


def build_table(
    candidates: list[CandidateGroup],
    decisions: Mapping[int, MergeDecision],
    verdicts: Mapping[int, Verdict],
    examples: Mapping[int, str],
) -> pd.DataFrame:
    """One row per candidate group: what the review grid shows, filters and sorts."""
    rows = []
    for group in candidates:
        d, v = decisions.get(group.group_id), verdicts.get(group.group_id)
        rows.append(
            {
                "group_id": group.group_id,
                "unit_ids": list(group.unit_ids),
                "size": group.size,
                "similarity": group.similarity,
                "origin": group.origin,
                "decision": d.merge_type if d else "",
                "confidence": d.confidence if d else None,
                "score": d.score if d else None,
                "p_merge": d.p_merge if d else None,
                "reasoning": (d.reasoning or d.error or "") if d else "",
                "judge": d.judge if d else "",
                "example": examples.get(group.group_id, ""),
                **_verdict_columns(d, v),
            }
        )
    return pd.DataFrame(rows)


def _verdict_columns(decision: MergeDecision | None, verdict: Verdict | None) -> dict[str, Any]:
    """A row's columns that follow its standing verdict."""
    return {
        "verdict": verdict.verdict if verdict else "",
        "reviewed": verdict is not None,
        "disagrees": bool(decision and verdict and disagrees(decision, verdict)),
    }


def with_doubt(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``doubt``: how far the calibrated merge probability is from a coin toss (0 = least sure). A group
    without one (a VLM decision, or one stored before calibration) uses the judge's raw score instead;
    a group not judged has none and goes last."""
    score = frame["score"].astype(float)
    probability = frame["p_merge"].astype(float).fillna(score) if "p_merge" in frame else score
    return frame.assign(doubt=(probability - 0.5).abs(), score_doubt=(score - 0.5).abs())


def filter_rows(frame: pd.DataFrame, how: str | None) -> pd.DataFrame:
    """The rows one of ``FILTERS`` keeps."""
    if frame.empty or how is None:
        return frame
    if how == "not_reviewed":
        return frame[~frame["reviewed"]]
    if how == "reviewed":
        return frame[frame["reviewed"]]
    if how == "disagrees":
        return frame[frame["disagrees"]]
    return frame[frame["decision"] == how]


class ReviewTable:
    """A review's rows and the decisions and verdicts behind them, as last read; see the module docstring.

    ``review`` is a ``CurationReview`` (typed loosely: the review builds its own table with ``build_table``).
    """

    def __init__(self, review: Any) -> None:
        self._review = review
        self.frame = pd.DataFrame()
        self.decisions: dict[int, MergeDecision] = {}
        self.verdicts: dict[int, Verdict] = {}
        self._groups: dict[int, CandidateGroup] = {}
        self.version = 0
        """Counts changes to the rows: views and lines drawn from them are kept until it moves."""
        self._view: tuple[tuple[Any, ...], pd.DataFrame] | None = None

    def reload(self) -> None:
        """Read candidates, decisions, verdicts and examples again (about 0.3 s for 2,600 groups)."""
        review = self._review
        candidates = review.candidates()
        self.decisions, self.verdicts = review.decisions(), review.verdicts()
        self._groups = {g.group_id: g for g in candidates}
        self.frame = build_table(candidates, self.decisions, self.verdicts, review.store.examples(review.key))
        self._changed()

    def reload_verdicts(self) -> None:
        """Read the standing verdicts again (after an undo: the group's earlier verdict, if any, stands)."""
        self.verdicts = self._review.verdicts()
        if self.frame.empty:
            return
        columns = pd.DataFrame(
            [
                _verdict_columns(self.decisions.get(g), self.verdicts.get(g))
                for g in self.frame["group_id"].astype(int)
            ],
            index=self.frame.index,
        )
        self.frame = self.frame.assign(**{name: columns[name] for name in columns})
        self._changed()

    def apply_verdict(self, verdict: Verdict) -> None:
        """A verdict just saved here: its group's row changes, nothing is read."""
        self.verdicts[verdict.group_id] = verdict
        self._set(verdict.group_id, **_verdict_columns(self.decisions.get(verdict.group_id), verdict))

    def set_example(self, group_id: int, kind: str) -> None:
        self._set(group_id, example=kind)

    def _set(self, group_id: int, **values: Any) -> None:
        if self.frame.empty:
            return
        rows = self.frame["group_id"] == group_id
        for column, value in values.items():
            self.frame.loc[rows, column] = value
        self._changed()

    def _changed(self) -> None:
        self.version += 1  # the kept view's key holds the version: it is not reused after a change

    def group(self, group_id: int) -> CandidateGroup | None:
        return self._groups.get(group_id)

    def example(self, group_id: int) -> str:
        rows = self.frame[self.frame["group_id"] == group_id] if not self.frame.empty else self.frame
        return str(rows["example"].iloc[0] or "") if len(rows) else ""

    def agreement(self) -> Agreement:
        return measure_agreement(self.decisions, self.verdicts)

    def visible(self, show: str, sort_by: str, min_similarity: float) -> pd.DataFrame:
        """The rows a view shows, in its order; the same view asked again (a page change) costs nothing."""
        key = (show, sort_by, min_similarity, self.version)
        if self._view is not None and self._view[0] == key:
            return self._view[1]
        frame = filter_rows(self.frame, FILTERS[show])
        if not frame.empty and min_similarity > 0:
            frame = frame[frame["similarity"].fillna(0) >= min_similarity]
        if not frame.empty:
            column, descending = SORTS[sort_by]
            if column == "doubt":
                frame = with_doubt(frame)
            columns = [column, _THEN_BY[column]] if column in _THEN_BY else [column]
            frame = frame.sort_values(columns, ascending=not descending, na_position="last", kind="stable")
        self._view = (key, frame)
        return frame
