"""Computing the curation extensions an analyzer lacks: in dependency order, one at a time, cancellably.

Split from ``analyzer`` (which opens and builds analyzers and says what they hold) because this is
the slow part, the one the job kind runs step by step in child processes.
"""

from __future__ import annotations

import warnings
from typing import Any

from engines._progress import Cancel, Progress, no_progress, raise_if_cancelled
from engines.curation.analyzer import (
    CURATION_EXTENSIONS,
    DEFAULT_JOB_KWARGS,
    EXTENSION_PARAMS,
    RECORDING_EXTENSIONS,
    has_loaded,
)
from engines.curation.errors import CurationError, MissingExtensions

__all__ = ["compute_missing_extensions", "compute_one_extension", "missing_in_order", "require_recording"]


def compute_missing_extensions(
    analyzer: Any,
    extensions: tuple[str, ...] = CURATION_EXTENSIONS,
    params: dict[str, dict[str, Any]] | None = None,
    job_kwargs: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    cancel: Cancel = None,
    no_recording: str = "",
) -> list[str]:
    """Compute each missing extension of ``extensions`` (and what it depends on), one at a time.

    Cancel is checked between extensions (an extension that reads the recording can take
    minutes on long recordings; the job kind runs those in a child process to stop them at
    once). Raises ``MissingExtensions`` when an extension needs the recording and the analyzer
    has none (``no_recording``: why, from ``ExtensionStatus``). Returns the names computed, in order.
    """
    params = {**EXTENSION_PARAMS, **(params or {})}
    kwargs = {**DEFAULT_JOB_KWARGS, **(job_kwargs or {})}
    todo = missing_in_order(analyzer, extensions)
    require_recording(analyzer, todo, no_recording)
    for index, name in enumerate(todo):
        raise_if_cancelled(cancel, f"computing {name}")
        progress(index / max(1, len(todo)), f"computing {name} ({index + 1} of {len(todo)})")
        compute_one_extension(analyzer, name, params.get(name, {}), kwargs)
    progress(1.0, "extensions ready" if todo else "all extensions were already computed")
    return todo


def require_recording(analyzer: Any, todo: list[str], no_recording: str = "") -> None:
    """Raise ``MissingExtensions`` when ``todo`` holds extensions that read the recording and the analyzer has
    none."""
    has_recording = analyzer.has_recording() or analyzer.has_temporary_recording()
    blocked = [name for name in todo if name in RECORDING_EXTENSIONS and not has_recording]
    if blocked:
        why = (
            f"has no recording: {no_recording}"
            if no_recording
            else "cannot find its recording (moved or deleted)"
        )
        raise MissingExtensions(
            f"{', '.join(blocked)} must be computed from the recording, and this analyzer {why}. "
            "Re-attach it (SpikeInterface's set_temporary_recording) or compute them where the recording is.",
            missing=tuple(blocked),
        )


def missing_in_order(analyzer: Any, extensions: tuple[str, ...]) -> list[str]:
    """The extensions of ``extensions`` (and their dependencies) the analyzer lacks, in computing order."""
    from spikeinterface.core.sortinganalyzer import get_available_analyzer_extensions

    unknown = sorted(set(extensions) - set(get_available_analyzer_extensions()))
    if unknown:
        raise CurationError(f"unknown analyzer extension(s) {', '.join(unknown)}")
    wanted = _with_dependencies(extensions)
    order = list(CURATION_EXTENSIONS) + sorted(wanted - set(CURATION_EXTENSIONS))
    return [name for name in order if name in wanted and not has_loaded(analyzer, name)]


def compute_one_extension(
    analyzer: Any, name: str, params: dict[str, Any], job_kwargs: dict[str, Any]
) -> None:
    from spikeinterface.core.sortinganalyzer import get_extension_class

    extension_class = get_extension_class(name)
    if analyzer.has_extension(name) and not has_loaded(analyzer, name):
        analyzer.delete_extension(name)  # saved but unreadable: replace it
    kwargs = dict(params)
    if extension_class.need_job_kwargs:
        kwargs.update(job_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analyzer.compute(name, **kwargs)


def _with_dependencies(extensions: tuple[str, ...]) -> set[str]:
    needs = {
        "templates": {"random_spikes"},
        "spike_amplitudes": {"templates"},
        "spike_locations": {"templates"},
        "template_similarity": {"templates"},
        "unit_locations": {"templates"},
        "template_metrics": {"templates"},
        "quality_metrics": {"templates", "noise_levels", "spike_amplitudes"},
    }
    wanted = set(extensions)
    while True:
        grown = wanted | {dep for name in wanted for dep in needs.get(name, ())}
        if grown == wanted:
            return wanted
        wanted = grown
