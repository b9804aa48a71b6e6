"""The offline demo: a generated recording with known split and duplicated units, ready to review.

``ensure_demo_analyzer(workspace)`` builds ``<workspace>/curation/demo/`` once: the recording
(int16 binary, ~25 MB), an analyzer with every curation extension, and ``truth.json`` with the
merges a perfect curator makes. It is built once for every process sharing the workspace: the
builder holds a workspace lock (``build_lock``), so a second server or session asking at the
same time waits for it rather than building its own, then opens the finished demo. It is built
in a temporary folder and renamed into place, so a crash leaves no half demo, and a waiter
whose deadline passes (a hung builder) builds its own copy without harm.
"""

from __future__ import annotations

import json
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines._filesystem import build_lock
from engines._progress import Progress, no_progress, sub_progress
from engines.curation.analyzer import DEFAULT_JOB_KWARGS
from engines.curation.extensions import compute_missing_extensions
from engines.curation.ground_truth import InjectedFaults, build_ground_truth

__all__ = ["DemoSpec", "ensure_demo_analyzer", "demo_truth"]


@dataclass(frozen=True)
class DemoSpec:
    duration_s: float = 30.0
    num_units: int = 16
    num_channels: int = 16
    firing_rate_hz: float = 20.0
    faults: InjectedFaults = InjectedFaults(
        amplitude_splits=1, temporal_splits=1, random_splits=2, duplicates=1
    )
    seed: int = 7


BUILD_WAIT_S = 900.0
"""How long a second process waits for the demo another one is building (about 30 s, minutes on a busy
machine)."""


def _demo_folder(workspace: Path, name: str = "demo") -> Path:
    return Path(workspace) / "curation" / name


def demo_truth(workspace: Path) -> dict[str, Any]:
    """``truth.json`` of the demo: origin of each unit, the injected faults, the true merge groups."""
    return json.loads((_demo_folder(workspace) / "truth.json").read_text())


def ensure_demo_analyzer(
    workspace: Path,
    spec: DemoSpec = DemoSpec(),
    progress: Progress = no_progress,
    wait_s: float = BUILD_WAIT_S,
    name: str = "demo",
) -> Path:
    """The demo analyzer's folder, building the demo first if it is not there (about 30 s here), or waiting up
    to ``wait_s`` for the process that is building it. ``name``: another generated analyzer beside the demo
    (``<workspace>/curation/<name>/``), such as the 800-unit one of ``engines.curation.scale``."""
    final = _demo_folder(workspace, name)
    analyzer_folder = final / "analyzer"
    if not (final / "truth.json").is_file():
        with build_lock(workspace, f"curation-{name}", wait_s):
            if not (final / "truth.json").is_file():
                _build(final, spec, progress)
    progress(1.0, "demo ready")
    return analyzer_folder


def _build(final: Path, spec: DemoSpec, progress: Progress) -> None:
    from spikeinterface.core import create_sorting_analyzer

    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f".demo-{uuid.uuid4().hex[:8]}.tmp"
    temp.mkdir(parents=True)
    try:
        truth = build_ground_truth(
            spec.duration_s,
            spec.num_units,
            spec.num_channels,
            spec.faults,
            spec.seed,
            spec.firing_rate_hz,
            progress=sub_progress(progress, 0.0, 0.3),
        )
        progress(0.3, "saving the recording")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recording = truth.recording.save(folder=temp / "recording", dtype="int16", **DEFAULT_JOB_KWARGS)
            analyzer = create_sorting_analyzer(
                truth.sorting,
                recording,
                format="binary_folder",
                folder=temp / "analyzer",
                sparse=True,
                job_kwargs=DEFAULT_JOB_KWARGS,
            )
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
