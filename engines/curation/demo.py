"""The offline demo: a generated recording with known split and duplicated units, ready to review.

``ensure_demo_analyzer(workspace)`` builds ``<workspace>/curation/demo/`` once: the recording
(int16 binary, ~25 MB), an analyzer with every curation extension, and ``truth.json`` with the
merges a perfect curator makes. It is built in a temporary folder and renamed into place, so
two processes asking at once both end with one complete demo, and a crash leaves none.
"""

from __future__ import annotations

import json
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.curation._progress import Progress, no_progress, sub_progress
from engines.curation.analyzer import DEFAULT_JOB_KWARGS, compute_missing_extensions
from engines.curation.ground_truth import InjectedFaults, build_ground_truth

__all__ = ["DemoSpec", "ensure_demo_analyzer", "demo_truth"]


@dataclass(frozen=True)
class DemoSpec:
    duration_s: float = 30.0
    num_units: int = 16
    num_channels: int = 16
    firing_rate_hz: float = 20.0
    faults: InjectedFaults = InjectedFaults(amplitude_splits=1, temporal_splits=1, random_splits=2, duplicates=1)
    seed: int = 7


def _demo_folder(workspace: Path) -> Path:
    return Path(workspace) / "curation" / "demo"


def demo_truth(workspace: Path) -> dict[str, Any]:
    """``truth.json`` of the demo: origin of each unit, the injected faults, the true merge groups."""
    return json.loads((_demo_folder(workspace) / "truth.json").read_text())


def ensure_demo_analyzer(workspace: Path, spec: DemoSpec = DemoSpec(), progress: Progress = no_progress) -> Path:
    """The demo analyzer's folder, building the demo first if it is not there (about 30 s here)."""
    from spikeinterface.core import create_sorting_analyzer

    final = _demo_folder(workspace)
    analyzer_folder = final / "analyzer"
    if (final / "truth.json").is_file() and analyzer_folder.is_dir():
        return analyzer_folder
    temp = final.parent / f".demo-{uuid.uuid4().hex[:8]}.tmp"
    temp.mkdir(parents=True)
    try:
        truth = build_ground_truth(spec.duration_s, spec.num_units, spec.num_channels, spec.faults, spec.seed,
                                   spec.firing_rate_hz, progress=sub_progress(progress, 0.0, 0.3))
        progress(0.3, "saving the recording")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recording = truth.recording.save(folder=temp / "recording", dtype="int16", **DEFAULT_JOB_KWARGS)
            analyzer = create_sorting_analyzer(truth.sorting, recording, format="binary_folder",
                                               folder=temp / "analyzer", sparse=True, job_kwargs=DEFAULT_JOB_KWARGS)
        compute_missing_extensions(analyzer, progress=sub_progress(progress, 0.4, 0.95))
        (temp / "truth.json").write_text(json.dumps({**truth.to_json(), "spec": repr(spec)}, indent=1))
        del analyzer  # the analyzer stores its recording as "../recording": the rename keeps it valid
        try:
            temp.rename(final)
        except OSError:
            if not (final / "truth.json").is_file():  # not a concurrent build that won: a real failure
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    progress(1.0, "demo ready")
    return analyzer_folder
