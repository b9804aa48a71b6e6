"""The plain records curation passes around: candidate groups, decisions, verdicts, labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from engines.curation.data import UnitId

__all__ = [
    "CandidateGroup",
    "MergeDecision",
    "Decision",
    "Verdict",
    "VerdictKind",
    "UnitLabel",
    "JudgeRun",
    "MERGE",
    "NOT_MERGE",
    "UNSURE",
]

MERGE: Final = "merge"
NOT_MERGE: Final = "not merge"
UNSURE: Final = "not enough evidence"
"""The judge cannot tell: too few coincidences to test the refractory period, amplitudes within noise.
Never a merge; the reviewer decides (the grid's "Show: not enough evidence" lists these groups)."""
Decision = Literal["merge", "not merge", "not enough evidence"]
VerdictKind = Literal["accept", "reject", "skip"]
"""``accept``: the reviewer says the group's units are one neuron (merge them); ``reject``: they are
not; ``skip``: undecided. Agreement with a judge compares accept/reject with merge/not merge."""


@dataclass(frozen=True)
class CandidateGroup:
    """Units that may be one neuron. ``group_id`` is stable per analyzer and unit set (the store assigns
    it)."""

    group_id: int
    unit_ids: tuple[UnitId, ...]
    similarity: float | None = None
    """Mean pairwise template similarity (the analyzer's ``template_similarity`` method)."""
    origin: str = ""
    """Where it came from: ``preset:<name>``, ``steps:<a+b>``, ``edited:<parent id>``, ``manual``."""
    parent_id: int | None = None

    @property
    def size(self) -> int:
        return len(self.unit_ids)


@dataclass
class MergeDecision:
    """A judge's answer for one group: a decision with reasons, or an error that says why there is none."""

    group_id: int
    unit_ids: tuple[UnitId, ...]
    judge: str
    decision: Decision | None = None
    confidence: float | None = None
    """0..1: how sure the judge is of ``decision``."""
    score: float | None = None
    """0..1: the judge's merge score (1 = certainly one neuron), whatever the decision."""
    reasoning: str = ""
    """One or two sentences a person can read."""
    report: str = ""
    """The full report (per-feature findings, numbers)."""
    merge_groups: tuple[tuple[UnitId, ...], ...] = ()
    """The units to merge (several sets when only parts of a group belong together)."""
    error: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    p_merge: float | None = None
    """0..1: the calibrated probability that the group is a true merge (``calibration``); None when the
    judge has no calibration (the VLM judge) or the decision was stored before calibration existed."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.decision is not None

    @property
    def merge_type(self) -> str:
        """What the reasoning CSV's ``merge_type`` column holds: merge, not merge, or error."""
        if self.error is not None or self.decision is None:
            return "error"
        return self.decision

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def failed(cls, group: CandidateGroup, judge: str, error: str, **extra: Any) -> MergeDecision:
        return cls(group_id=group.group_id, unit_ids=group.unit_ids, judge=judge, error=error, **extra)


@dataclass(frozen=True)
class Verdict:
    """A reviewer's verdict on a group, as recorded (the latest not undone one counts)."""

    id: int
    group_id: int
    verdict: VerdictKind
    merge_units: tuple[UnitId, ...]
    session: str
    created: float
    undone: bool = False
    owner: str = ""
    """The signed-in user who gave it ('' for verdicts given before owners were recorded)."""


@dataclass(frozen=True)
class UnitLabel:
    """A unit's quality label: good, mua or noise, from a labeler or a person."""

    unit_id: UnitId
    label: str
    source: str
    """``human``, ``bombcell`` or ``thresholds`` (UnitRefine's labels are kept in ``unitrefine_store``)."""
    probability: float | None = None


@dataclass(frozen=True)
class JudgeRun:
    """One run of a judge over some groups; decisions land in the store as they are made."""

    id: int
    judge: str
    params: dict[str, Any]
    status: str
    """``running``, ``done``, ``failed`` or ``cancelled``."""
    n_groups: int
    n_done: int
    n_errors: int
    started: float
    finished: float | None
    message: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
