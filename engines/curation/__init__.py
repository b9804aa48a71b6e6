"""The curation engine: candidate merges, images, judges with reasons, verdicts, labels, exports, apply.

Start with ``CurationReview.open(workspace, analyzer_folder)`` (or ``ensure_demo_analyzer``
for the offline demo); ``curate_batch`` runs the whole pipeline headless.
"""

from engines.curation.agreement import Agreement
from engines.curation.analyzer import (
    CURATION_EXTENSIONS,
    ExtensionStatus,
    build_analyzer,
    open_analyzer,
)
from engines.curation.apply import ApplyReport, apply_curation_to_analyzer
from engines.curation.batch import BatchResult, curate_batch, main
from engines.curation.candidates import (
    PRESETS,
    STEP_HELP,
    TEMPLATE_DIFF_THRESH_HELP,
    CandidateRequest,
    CandidateRun,
    StepParameter,
    find_candidates,
    preset_form,
)
from engines.curation.data import AnalyzerData
from engines.curation.demo import demo_truth, ensure_demo_analyzer
from engines.curation.errors import (
    AnalyzerOpenError,
    CurationError,
    MissingExtensions,
    ReplyParseError,
)
from engines.curation.exports import build_curation, resolve_merges, write_curation_json, write_reasoning_csv
from engines.curation.extensions import compute_missing_extensions
from engines.curation.ground_truth import GroundTruth, InjectedFaults, build_ground_truth
from engines.curation.images import FEATURES, GroupImages, ImageParams
from engines.curation.judge import FewShotExamples, Judge, JudgeContext, run_judge
from engines.curation.labels import label_units
from engines.curation.metrics_judge import MetricsJudge, MetricsJudgeParams
from engines.curation.model import CandidateGroup, JudgeRun, MergeDecision, UnitLabel, Verdict
from engines.curation.review import CurationReview, make_judge
from engines.curation.store import DecisionStore
from engines.curation.vlm_judge import VlmJudge, VlmJudgeParams

__all__ = [
    "AnalyzerData",
    "AnalyzerOpenError",
    "Agreement",
    "ApplyReport",
    "BatchResult",
    "CURATION_EXTENSIONS",
    "CandidateGroup",
    "CandidateRequest",
    "CandidateRun",
    "CurationError",
    "CurationReview",
    "DecisionStore",
    "ExtensionStatus",
    "FEATURES",
    "FewShotExamples",
    "GroundTruth",
    "GroupImages",
    "ImageParams",
    "InjectedFaults",
    "Judge",
    "JudgeContext",
    "JudgeRun",
    "MergeDecision",
    "MetricsJudge",
    "MetricsJudgeParams",
    "MissingExtensions",
    "ReplyParseError",
    "PRESETS",
    "STEP_HELP",
    "StepParameter",
    "TEMPLATE_DIFF_THRESH_HELP",
    "UnitLabel",
    "Verdict",
    "VlmJudge",
    "VlmJudgeParams",
    "apply_curation_to_analyzer",
    "build_analyzer",
    "build_curation",
    "build_ground_truth",
    "compute_missing_extensions",
    "curate_batch",
    "demo_truth",
    "ensure_demo_analyzer",
    "find_candidates",
    "label_units",
    "main",
    "make_judge",
    "open_analyzer",
    "preset_form",
    "resolve_merges",
    "run_judge",
    "write_curation_json",
    "write_reasoning_csv",
]
