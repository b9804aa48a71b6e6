"""A large generated analyzer for the scale benchmark and tests: 800 units and thousands of candidate groups.

Real Kilosort analyzers have 400-800 units and more, where review tools slow to a crawl. This builds one
with the demo's machinery (``ensure_demo_analyzer`` under another name: built once per workspace, under a
lock, renamed into place): 800 units on 32 channels for 20 s at 3 Hz, so making it takes about 30 s on
two cores (most of it ``template_similarity`` over the crowded probe) and its folder is about 0.6 GB
(the correlograms, 800 x 800 x 101 counts, are most of it).

``CROWDED_REQUEST`` pairs units within 12 µm whose templates are alike (l1 similarity above 0.65, the
stored matrix, so no template is compared again): about 2,600 pairs here, in about a second. The
recommended union finds more (about 11,700 pairs, in about 80 s) but no faster a test could wait for.
"""

from __future__ import annotations

from pathlib import Path

from engines._filesystem import build_lock
from engines._progress import Progress, no_progress
from engines.curation.candidates import CandidateRequest, CandidateRun
from engines.curation.demo import BUILD_WAIT_S, DemoSpec, ensure_demo_analyzer
from engines.curation.ground_truth import InjectedFaults
from engines.curation.review import CurationReview

__all__ = ["LARGE_SPEC", "CROWDED_REQUEST", "ensure_large_analyzer", "open_large_review"]

LARGE_SPEC = DemoSpec(
    duration_s=20.0,
    num_units=800,
    num_channels=32,
    firing_rate_hz=3.0,
    faults=InjectedFaults(amplitude_splits=4, temporal_splits=4, random_splits=4, duplicates=4),
    seed=3,
)

CROWDED_REQUEST = CandidateRequest(
    runs=(
        CandidateRun(
            None,
            ("unit_locations", "template_similarity"),
            {
                "unit_locations": {"max_distance_um": 12.0},
                "template_similarity": {"similarity_method": "l1", "template_diff_thresh": 0.35},
            },
        ),
    ),
    resolve_graph=False,
)


def ensure_large_analyzer(
    workspace: Path,
    spec: DemoSpec = LARGE_SPEC,
    progress: Progress = no_progress,
    wait_s: float = BUILD_WAIT_S,
) -> Path:
    """The large analyzer's folder (``<workspace>/curation/large-<units>/analyzer``), generated first if it is
    not there (about 30 s)."""
    return ensure_demo_analyzer(workspace, spec, progress, wait_s, name=f"large-{spec.num_units}")


def open_large_review(
    workspace: Path,
    folder: Path | None = None,
    spec: DemoSpec = LARGE_SPEC,
    request: CandidateRequest = CROWDED_REQUEST,
) -> CurationReview:
    """The large analyzer (``folder``, else the one generated in ``workspace``) under review in ``workspace``,
    with ``request``'s candidates found and judged by the metrics judge the first time (once per workspace,
    under a lock; about 10 s for 2,600 groups)."""
    folder = folder or ensure_large_analyzer(workspace, spec)
    review = CurationReview.open(workspace, folder)
    with build_lock(workspace, f"curation-candidates-{review.key}", BUILD_WAIT_S):
        if not review.candidates():
            review.find_candidates(request)
        if not review.decisions():
            review.judge("metrics")
    return review
