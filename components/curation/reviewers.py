"""Reviewers: who reviewed the open analyzer, how far they agree with each other and with the judge, and
their consensus per group (``engines.curation.reviewers``).

Every verdict is kept under the signed-in user who gave it; this tab sets them side by side, read
from the store off the session's thread when it is built and when asked again. Names are what people
signed in with: shown as text, never as markup.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import panel as pn

from components.background import BackgroundWork
from components.safe_text import escape_text, safe_table
from engines.curation import CurationReview
from engines.curation.reviewers import ReviewerAgreement

__all__ = ["ReviewersPanel"]


def _kappa(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def summary_markdown(result: ReviewerAgreement) -> str:
    """The tab's text: reviewers, Fleiss' kappa, the consensus's counts (names escaped)."""
    if not result.reviewers:
        return "*No reviewer has accepted or rejected a group yet.*"
    people = ", ".join(f"{escape_text(name)} ({count})" for name, count in result.reviewers.items())
    lines = [f"**Reviewers** (groups accepted or rejected): {people}"]
    if result.fleiss_groups:
        lines.append(
            f"**Fleiss' κ** over the {result.fleiss_groups} groups every reviewer answered: "
            f"{_kappa(result.fleiss)}"
        )
    counts = Counter(result.consensus.values())
    if counts:
        lines.append(
            f"**Consensus** over {len(result.consensus)} groups answered by two or more: "
            + ", ".join(f"{counts[a]} {a}" for a in ("accept", "reject", "split") if counts[a])
        )
    lines.append("Expert curators agree about 80% of the time (UnitRefine): a ceiling for any judge.")
    return "\n\n".join(lines)


def kappa_table(result: ReviewerAgreement) -> pd.DataFrame:
    """One row per pair of reviewers and per reviewer against the judge: Cohen's kappa and groups compared."""
    rows = [{"between": f"{a} and {b}", "Cohen's κ": _kappa(k), "groups": n} for a, b, k, n in result.pairs]
    rows += [
        {"between": f"{name} and the judge", "Cohen's κ": _kappa(k), "groups": n}
        for name, (k, n) in result.with_judge.items()
    ]
    return pd.DataFrame(rows, columns=["between", "Cohen's κ", "groups"])


class ReviewersPanel(pn.viewable.Viewer):
    """The open analyzer's reviewers; one per opened analyzer."""

    def __init__(self, review: CurationReview, work: BackgroundWork) -> None:
        super().__init__()
        self._review, self._work = review, work
        self._summary = pn.pane.Markdown("Reading the reviewers' verdicts…", sizing_mode="stretch_width")
        self._table = pn.Column(sizing_mode="stretch_width")
        self._refresh = pn.widgets.Button(label="Refresh", width=90)
        self._refresh.on_click(lambda _e: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Read everyone's standing verdicts again (other reviewers keep reviewing)."""
        self._work.run("reviewers", self._review.reviewers, apply=self._show, failed=self._failed)

    def _show(self, result: ReviewerAgreement) -> None:
        self._summary.object = summary_markdown(result)
        rows = kappa_table(result)
        self._table[:] = (
            [safe_table(rows, show_index=False, disabled=True, sizing_mode="stretch_width")]
            if len(rows)
            else []
        )

    def _failed(self, exc: BaseException) -> None:
        self._summary.object = f"**The reviewers' verdicts could not be read:** {escape_text(exc)}"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._refresh, self._summary, self._table, sizing_mode="stretch_width")
