"""One interface for every judge, and the batch runner that guarantees a row for every group.

A judge answers ``judge(group, context) -> MergeDecision``. ``run_judge`` runs one over many
groups with progress and cancel, hands each decision to ``on_decision`` the moment it exists
(the store writes it), and turns any failure into an error row for that group: a group is
never silently dropped, and one bad group never stops the others.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engines._progress import Cancel, Progress, is_cancelled, no_progress
from engines.curation.data import AnalyzerData
from engines.curation.errors import CurationError
from engines.curation.model import CandidateGroup, MergeDecision

__all__ = ["Judge", "JudgeContext", "FewShotExamples", "run_judge", "OnDecision", "CANCELLED_MESSAGE"]

log = logging.getLogger(__name__)

OnDecision = Callable[[MergeDecision], None]
CANCELLED_MESSAGE = "not judged: the run was cancelled before this group's turn; run the judge again on it"


@dataclass(frozen=True)
class FewShotExamples:
    """Groups the user marked as good (merge) and bad (do not merge) examples; they are not judged."""

    good: tuple[CandidateGroup, ...] = ()
    bad: tuple[CandidateGroup, ...] = ()

    @property
    def group_ids(self) -> set[int]:
        return {g.group_id for g in self.good + self.bad}

    def __bool__(self) -> bool:
        return bool(self.good or self.bad)


@dataclass
class JudgeContext:
    """What a judge may read: the analyzer's arrays, the group images, the few-shot examples."""

    data: AnalyzerData
    images: Any = None
    """A ``GroupImages`` renderer (the VLM judge needs it; the metrics judge does not)."""
    examples: FewShotExamples = field(default_factory=FewShotExamples)


class Judge(ABC):
    """Decides whether a group's units are one neuron. Subclasses set ``name`` and implement ``judge``."""

    name: str = "judge"

    @abstractmethod
    def judge(self, group: CandidateGroup, context: JudgeContext) -> MergeDecision:
        """One decision, or raise a ``CurationError`` whose message becomes the group's error row."""

    def judge_many(
        self,
        groups: Sequence[CandidateGroup],
        context: JudgeContext,
        on_decision: OnDecision,
        progress: Progress,
        cancel: Cancel,
    ) -> None:
        """Judge groups one by one; judges that batch (the VLM's concurrent calls) override this."""
        for index, group in enumerate(groups):
            if is_cancelled(cancel):
                return
            progress(
                index / max(1, len(groups)), f"judging group {group.group_id} ({index + 1} of {len(groups)})"
            )
            on_decision(self.judge_safely(group, context))

    def judge_safely(self, group: CandidateGroup, context: JudgeContext) -> MergeDecision:
        started = time.perf_counter()
        try:
            decision = self.judge(group, context)
        except CurationError as exc:
            decision = MergeDecision.failed(group, self.name, str(exc))
        except Exception as exc:  # a bug or library failure on one group must not lose the others
            log.exception("judge %s failed on group %s", self.name, group.group_id)
            decision = MergeDecision.failed(group, self.name, f"{type(exc).__name__}: {exc}")
        decision.elapsed_s = decision.elapsed_s or time.perf_counter() - started
        return decision


def run_judge(
    judge: Judge,
    groups: Sequence[CandidateGroup],
    context: JudgeContext,
    on_decision: OnDecision | None = None,
    progress: Progress = no_progress,
    cancel: Cancel = None,
) -> list[MergeDecision]:
    """Judge every group except the few-shot examples; returns one row per judged group, in order.

    Groups the judge did not answer (a cancel, a judge bug) get an error row saying so, and
    those rows also go through ``on_decision``. Few-shot example groups are left out.
    """
    excluded = context.examples.group_ids
    todo = [g for g in groups if g.group_id not in excluded]
    found: dict[int, MergeDecision] = {}

    def record(decision: MergeDecision) -> None:
        if decision.group_id in found:
            return
        found[decision.group_id] = decision
        if on_decision is not None:
            on_decision(decision)
        progress(len(found) / max(1, len(todo)), f"{len(found)} of {len(todo)} groups judged")

    judge.judge_many(todo, context, record, progress, cancel)
    for group in todo:
        if group.group_id not in found:
            reason = (
                CANCELLED_MESSAGE if is_cancelled(cancel) else "the judge returned no decision for this group"
            )
            record(MergeDecision.failed(group, judge.name, reason))
    return [found[g.group_id] for g in todo]
