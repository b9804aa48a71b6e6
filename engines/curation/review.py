"""One analyzer under review: the object a page session (or the batch command) works through.

``CurationReview`` ties an analyzer to the workspace's decision store and image cache. Every
method is a plain call that returns plain data; the long ones (extensions, candidates,
judging, applying) take ``progress`` and ``cancel`` and are meant to run off the UI thread
(or as job kinds, see ``jobs.py``). Reads of the store always show what other tabs and
processes saved, so a refresh after another tab's verdict shows it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

from engines._progress import Cancel, Progress, is_cancelled, no_progress
from engines.agent.config import LlmConfig
from engines.curation.agreement import Agreement, measure_agreement
from engines.curation.analyzer import (
    CURATION_EXTENSIONS,
    ExtensionStatus,
    analyzer_fingerprint,
    extension_status,
    open_analyzer,
    sorting_fingerprint,
)
from engines.curation.apply import ApplyReport, apply_curation_to_analyzer
from engines.curation.candidates import CandidateRequest, find_candidates
from engines.curation.data import AnalyzerData, UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.curation.exports import (
    build_curation,
    merges_from_review,
    write_curation_json,
    write_reasoning_csv,
)
from engines.curation.extensions import compute_missing_extensions
from engines.curation.images import FEATURES, GroupImages, ImageParams
from engines.curation.judge import FewShotExamples, Judge, JudgeContext, run_judge
from engines.curation.labels import label_units
from engines.curation.metrics_judge import MetricsJudge
from engines.curation.model import CandidateGroup, JudgeRun, MergeDecision, UnitLabel, Verdict
from engines.curation.review_table import build_table
from engines.curation.reviewers import ReviewerAgreement, measure_reviewers, verdicts_by_reviewer
from engines.curation.store import LABELS, DecisionStore
from engines.curation.unitrefine_store import unitrefine_export
from engines.curation.vlm_judge import MAX_MODEL_WORKERS, VlmJudge, VlmJudgeParams

__all__ = ["CurationReview", "make_judge"]

_DEFAULT_IMAGE_PARAMS = ImageParams()
_RECOMMENDED_REQUEST = CandidateRequest.recommended()
"""Defaults for the methods below; both are frozen, so one instance serves every review."""


def make_judge(
    name: str,
    llm: LlmConfig | None = None,
    num_workers: int = 8,
    features: tuple[str, ...] = ("crosscorrelograms", "amplitude_plot"),
    max_workers: int = MAX_MODEL_WORKERS,
) -> Judge:
    """``metrics`` (offline) or ``vlm`` (needs ``llm``; at most ``max_workers`` parallel calls, the operator's
    cap)."""
    if name == "metrics":
        return MetricsJudge()
    if name == "vlm":
        return VlmJudge(
            llm, VlmJudgeParams(features=features, num_workers=num_workers), max_workers=max_workers
        )
    raise CurationError(f"unknown judge {name!r}; choose metrics or vlm")


class CurationReview:
    """See the module docstring. Build it with ``CurationReview.open(workspace, folder)``."""

    def __init__(
        self,
        workspace: Path,
        analyzer: Any,
        path: Path | None,
        status: ExtensionStatus | None = None,
        session: str | None = None,
        llm: LlmConfig | None = None,
        image_params: ImageParams = _DEFAULT_IMAGE_PARAMS,
        owner: str = "",
    ) -> None:
        self.workspace = Path(workspace)
        self.analyzer = analyzer
        self.path = None if path is None else Path(path).resolve()
        self.session = session or uuid.uuid4().hex[:12]
        self.owner = owner
        """Who gives this review's verdicts (a ``Person.name``), recorded on each."""
        self.llm = llm
        self.image_params = image_params
        self.store = DecisionStore(self.workspace)
        self.status = status or extension_status(analyzer)
        identity = f"{self.path or 'memory'}|{sorting_fingerprint(analyzer)}"
        self.key = hashlib.blake2b(identity.encode(), digest_size=10).hexdigest()
        self.store.register_analyzer(self.key, str(self.path or "memory"), len(analyzer.unit_ids))
        self._data: AnalyzerData | None = None
        self._images: GroupImages | None = None

    @classmethod
    def open(
        cls,
        workspace: Path,
        folder: str | Path,
        session: str | None = None,
        llm: LlmConfig | None = None,
        trust_pickles: bool = False,
        owner: str = "",
    ) -> CurationReview:
        """Open the analyzer at ``folder`` (``trust_pickles``: the operator lets its pickles be loaded);
        raises ``AnalyzerOpenError`` with what to do."""
        analyzer, status = open_analyzer(folder, trust_pickles=trust_pickles)
        return cls(workspace, analyzer, Path(folder), status, session, llm, owner=owner)

    # --- data ---------------------------------------------------------------------------------
    @property
    def data(self) -> AnalyzerData:
        if self._data is None:
            self._data = AnalyzerData(self.analyzer)
        return self._data

    @property
    def images(self) -> GroupImages:
        if self._images is None:
            self._images = GroupImages(
                self.data,
                self.workspace / "curation" / "images",
                analyzer_fingerprint(self.analyzer),
                self.image_params,
            )
        return self._images

    def compute_extensions(
        self,
        extensions: tuple[str, ...] | None = None,
        progress: Progress = no_progress,
        cancel: Cancel = None,
    ) -> list[str]:
        """Compute the missing curation extensions in this process (the job kind does it cancellably)."""
        done = compute_missing_extensions(
            self.analyzer,
            extensions or CURATION_EXTENSIONS,
            progress=progress,
            cancel=cancel,
            no_recording=self.status.no_recording,
        )
        self.status, self._data, self._images = (
            extension_status(self.analyzer, no_recording=self.status.no_recording),
            None,
            None,
        )
        return done

    # --- candidates and groups ----------------------------------------------------------------
    def find_candidates(
        self,
        request: CandidateRequest = _RECOMMENDED_REQUEST,
        progress: Progress = no_progress,
        cancel: Cancel = None,
    ) -> list[CandidateGroup]:
        """Run the request and make its groups the current candidate list (ids stay stable per unit set)."""
        found = find_candidates(self.analyzer, request, progress, cancel)
        rows = [(g, found.origins[g], self._similarity(g)) for g in found.groups]
        return self.store.save_candidates(self.key, rows, request.to_json(), found.seconds)

    def _similarity(self, units: tuple[UnitId, ...]) -> float | None:
        pairs = [self.data.pair_similarity(a, b) for i, a in enumerate(units) for b in units[i + 1 :]]
        values = [v for v in pairs if v is not None]
        return round(float(sum(values) / len(values)), 4) if values else None

    def candidates(self) -> list[CandidateGroup]:
        return self.store.current_candidates(self.key)

    def group(self, group_id: int) -> CandidateGroup:
        return self.store.groups(self.key, [group_id])[0]

    def edit_group(self, group_id: int, units: tuple[UnitId, ...]) -> CandidateGroup:
        """A new group with ``units`` (for example one unit dropped), remembering which group it came from."""
        units = tuple(plain_unit_id(u) for u in units)
        for unit in units:
            self.data.index(unit)
        if len(set(units)) < 2:
            raise CurationError("a group needs at least two different units")
        parent = self.group(group_id)
        return self.store.add_group(
            self.key, units, f"edited:{parent.group_id}", parent.group_id, self._similarity(units)
        )

    def add_group(self, units: tuple[UnitId, ...]) -> CandidateGroup:
        units = tuple(plain_unit_id(u) for u in units)
        for unit in units:
            self.data.index(unit)
        if len(set(units)) < 2:
            raise CurationError("a group needs at least two different units")
        return self.store.add_group(self.key, units, "manual", None, self._similarity(units))

    def group_images(self, group_id: int, features: tuple[str, ...] = FEATURES[:2]) -> dict[str, Path]:
        """PNG paths of a group's images (drawn and cached on first use; ``CurationError`` per group)."""
        return self.images.images(self.group(group_id).unit_ids, features)

    # --- judging ------------------------------------------------------------------------------
    def set_example(self, group_id: int, kind: str | None) -> None:
        """Mark a group as a good/bad few-shot example for the VLM (examples are not judged)."""
        self.group(group_id)
        self.store.set_example(self.key, group_id, kind)

    def examples(self) -> FewShotExamples:
        marked = self.store.examples(self.key)
        groups = {g.group_id: g for g in self.store.groups(self.key, list(marked))}
        return FewShotExamples(
            good=tuple(groups[g] for g, k in marked.items() if k == "good"),
            bad=tuple(groups[g] for g, k in marked.items() if k == "bad"),
        )

    def start_judge_run(
        self, judge: str = "metrics", group_ids: list[int] | None = None, params: dict[str, Any] | None = None
    ) -> int:
        """Record a pending run (for the job kind to pick up); None groups means the current candidates."""
        ids = [g.group_id for g in self.candidates()] if group_ids is None else list(group_ids)
        self.store.groups(self.key, ids)  # unknown ids raise here, before anything runs
        return self.store.start_run(self.key, judge, {"judge": judge, **(params or {})}, ids)

    def run_judge(self, run_id: int, progress: Progress = no_progress, cancel: Cancel = None) -> JudgeRun:
        """Judge a recorded run's groups; each decision is stored the moment it is made."""
        run = self.store.run(run_id)
        params = dict(run.params)
        judge = make_judge(
            run.judge,
            self.llm,
            int(params.get("num_workers", 8)),
            tuple(params.get("features", ("crosscorrelograms", "amplitude_plot"))),
            int(params.get("max_workers", MAX_MODEL_WORKERS)),
        )
        groups = self.store.groups(self.key, self.store.run_group_ids(run_id))
        context = JudgeContext(self.data, self.images, self.examples())
        self.store.mark_run(run_id, "running")
        try:
            run_judge(
                judge,
                groups,
                context,
                lambda d: self.store.record_decision(run_id, self.key, d),
                progress,
                cancel,
            )
        except CurationError as exc:
            self.store.mark_run(run_id, "failed", str(exc))
            raise
        except BaseException as exc:
            self.store.mark_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        finished = self.store.run(run_id)
        status = "cancelled" if is_cancelled(cancel) else "done"
        down = getattr(judge, "endpoint_down", None)
        message = down or (
            f"{finished.n_errors} of {finished.n_done} groups failed" if finished.n_errors else ""
        )
        self.store.mark_run(run_id, "failed" if down else status, message)
        return self.store.run(run_id)

    def judge(
        self,
        judge: str = "metrics",
        group_ids: list[int] | None = None,
        params: dict[str, Any] | None = None,
        progress: Progress = no_progress,
        cancel: Cancel = None,
    ) -> JudgeRun:
        """Start and run a judge over the current candidates (or ``group_ids``) in this thread."""
        return self.run_judge(self.start_judge_run(judge, group_ids, params), progress, cancel)

    def decisions(self, judge: str | None = None) -> dict[int, MergeDecision]:
        return self.store.latest_decisions(self.key, judge)

    def decision(self, group_id: int) -> MergeDecision | None:
        """The group's latest decision, read alone (every decision of 2,000 groups takes 0.15 s)."""
        return self.store.latest_decisions(self.key, group_id=group_id).get(group_id)

    # --- verdicts, agreement, labels ----------------------------------------------------------
    def record_verdict(
        self, group_id: int, verdict: str, merge_units: tuple[UnitId, ...] | None = None
    ) -> Verdict:
        """Save a reviewer's accept/reject/skip now. Accept merges ``merge_units`` (default: the judge's merge
        set when it proposed one, else the whole group)."""
        group = self.group(group_id)
        if merge_units is None:
            decision = self.decision(group_id)
            merge_units = decision.merge_groups[0] if decision and decision.merge_groups else group.unit_ids
        units = tuple(plain_unit_id(u) for u in merge_units)
        stray = [u for u in units if u not in group.unit_ids]
        if stray:
            raise CurationError(f"units {stray} are not in group {group_id}; edit the group first")
        return self.store.record_verdict(self.key, group_id, verdict, units, self.session, owner=self.owner)

    def undo(self) -> Verdict | None:
        """Undo this session's latest standing verdict (the keyboard's ``u``); returns it to go back to."""
        return self.store.undo_last(self.key, self.session)

    def verdicts(self) -> dict[int, Verdict]:
        return self.store.current_verdicts(self.key)

    def agreement(self, judge: str | None = None) -> Agreement:
        return measure_agreement(self.decisions(judge), self.verdicts())

    def reviewers(self, judge: str | None = None) -> ReviewerAgreement:
        """Every signed-in reviewer's standing verdicts side by side: their kappas (with the judge too) and
        consensus."""
        history = self.store.verdict_history(self.key)
        return measure_reviewers(verdicts_by_reviewer(history), self.decisions(judge))

    def label_units(self, labeler: str = "bombcell", **options: Any) -> list[UnitLabel]:
        """Label every unit with a labeler and store the labels (a person's labels still win)."""
        labels = label_units(self.analyzer, labeler, **options)
        self.store.record_labels(self.key, labels, self.session)
        return labels

    def set_label(self, unit_id: UnitId, label: str) -> UnitLabel:
        if label not in LABELS:
            raise CurationError(f"unknown label {label!r}; use {', '.join(LABELS)}")
        self.data.index(unit_id)
        row = UnitLabel(unit_id=plain_unit_id(unit_id), label=label, source="human")
        self.store.record_labels(self.key, [row], self.session)
        return row

    def labels(self) -> dict[UnitId, UnitLabel]:
        return self.store.current_labels(self.key)

    # --- the grid, exports, apply -------------------------------------------------------------
    def table(self, judge: str | None = None) -> Any:
        """One row per current candidate group: what the review grid shows, filters and sorts."""
        return build_table(
            self.candidates(), self.decisions(judge), self.verdicts(), self.store.examples(self.key)
        )

    def curation(self, source: str = "human", remove_noise: bool = False) -> dict[str, Any]:
        merges = merges_from_review(self.decisions(), self.verdicts(), source)
        return build_curation(self.analyzer.unit_ids, merges, self.labels(), remove_noise)

    def export_reasoning_csv(self, path: Path | None = None, judge: str | None = None) -> Path:
        target = path or self._export_dir() / "merge_reasoning.csv"
        rows = self.decisions(judge)
        return write_reasoning_csv(target, [rows[g] for g in sorted(rows)], self.verdicts())

    def export_curation_json(
        self, path: Path | None = None, source: str = "human", remove_noise: bool = False
    ) -> Path:
        curation = {**self.curation(source, remove_noise), "reviews": self.reviewers().to_json()}
        curation.update(unitrefine_export(self.workspace, self.key))  # each model's labels, when run
        return write_curation_json(path or self._export_dir() / "curation.json", curation)

    def _export_dir(self) -> Path:
        return self.workspace / "curation" / "exports" / self.key

    def apply(
        self,
        source: str = "human",
        remove_noise: bool = False,
        censor_ms: float | None = 0.4,
        folder: Path | None = None,
        progress: Progress = no_progress,
        cancel: Cancel = None,
    ) -> ApplyReport:
        """Merge into a new analyzer under ``<workspace>/curation/applied/`` and report before/after."""
        name = (self.path.name if self.path else "analyzer") + time.strftime("-curated-%Y%m%d-%H%M%S")
        target = folder or self.workspace / "curation" / "applied" / name
        return apply_curation_to_analyzer(
            self.analyzer,
            self.curation(source, remove_noise),
            target,
            censor_ms,
            progress=progress,
            cancel=cancel,
        )
