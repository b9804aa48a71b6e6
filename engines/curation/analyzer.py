"""Open a SortingAnalyzer (binary folder or zarr), build one, and say which curation extensions it has
(``extensions`` computes the missing ones).

Curation reads seven extensions: ``random_spikes`` and ``templates`` (waveform shapes),
``noise_levels`` (SNR), ``spike_amplitudes`` (the amplitude image), ``correlograms`` (one
computation that every group's CCG grid is sliced from), ``template_similarity`` and
``unit_locations`` (candidate steps), ``quality_metrics`` (labels, before/after reports).
``templates``, ``noise_levels`` and ``spike_amplitudes`` read the recording: each costs one
pass over it; the rest costs seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.curation.errors import AnalyzerOpenError, CurationError
from engines.curation.pickles import TRUST_HINT, pickled_parts, safe_recording

__all__ = [
    "CURATION_EXTENSIONS",
    "EXTENSION_PARAMS",
    "RECORDING_EXTENSIONS",
    "ExtensionStatus",
    "open_analyzer",
    "build_analyzer",
    "extension_status",
    "analyzer_fingerprint",
    "sorting_fingerprint",
    "has_loaded",
    "QUALITY_METRIC_NAMES",
    "check_not_empty",
    "DEFAULT_JOB_KWARGS",
]

log = logging.getLogger(__name__)

CURATION_EXTENSIONS: tuple[str, ...] = (
    "random_spikes",
    "templates",
    "noise_levels",
    "spike_amplitudes",
    "correlograms",
    "template_similarity",
    "unit_locations",
    "template_metrics",
    "quality_metrics",
)
"""In dependency order. ``template_metrics`` feeds the Bombcell labeler's noise section."""

RECORDING_EXTENSIONS = frozenset(
    {
        "templates",
        "noise_levels",
        "spike_amplitudes",
        "spike_locations",
        "waveforms",
        "principal_components",
        "amplitude_scalings",
    }
)
"""Extensions that read the recording (when ``templates`` is computed from random spikes)."""

QUALITY_METRIC_NAMES = [
    "num_spikes",
    "firing_rate",
    "presence_ratio",
    "snr",
    "isi_violation",
    "rp_violation",
    "sliding_rp_violation",
    "amplitude_cutoff",
    "amplitude_median",
]

EXTENSION_PARAMS: dict[str, dict[str, Any]] = {
    "random_spikes": {"max_spikes_per_unit": 500, "seed": 0},
    "correlograms": {"window_ms": 50.0, "bin_ms": 0.5},
    "template_similarity": {"method": "l1"},
    "quality_metrics": {"metric_names": QUALITY_METRIC_NAMES},
}
"""Parameters used when an extension is missing. ``l1`` similarity is what the candidate step
``template_similarity`` uses, so the stored matrix and ``template_diff_thresh`` agree; 0.5 ms
correlogram bins resolve the near-zero-lag peak of duplicated units."""

DEFAULT_JOB_KWARGS: dict[str, Any] = {"n_jobs": 1, "chunk_duration": "1s", "progress_bar": False}


@dataclass(frozen=True)
class ExtensionStatus:
    """Which curation extensions an analyzer has, lacks, or could not load."""

    present: tuple[str, ...]
    missing: tuple[str, ...]
    broken: tuple[str, ...] = ()
    untrusted: tuple[str, ...] = ()
    """Saved as pickles and left out (the operator did not pass ``--trust-pickles``); they can be
    recomputed."""
    has_recording: bool = True
    no_recording: str = ""
    """Why the recording is not attached, when that is known (``it saved no recording``, pickles...)."""
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def computable_without_recording(self) -> tuple[str, ...]:
        return tuple(name for name in self.missing if name not in RECORDING_EXTENSIONS)


def _is_zarr(path: Path) -> bool:
    return path.suffix == ".zarr" or (path / ".zgroup").exists() or (path / "zarr.json").exists()


def _saved_version(path: Path) -> str:
    info = path / "spikeinterface_info.json"
    if info.is_file():
        try:
            return str(json.loads(info.read_text()).get("version", "unknown"))
        except (OSError, ValueError):
            return "unknown"
    attrs = path / ".zattrs"
    if attrs.is_file():
        try:
            return str(json.loads(attrs.read_text()).get("spikeinterface_info", {}).get("version", "unknown"))
        except (OSError, ValueError):
            return "unknown"
    return "unknown"


def open_analyzer(path: str | Path, trust_pickles: bool = False) -> tuple[Any, ExtensionStatus]:
    """Load the analyzer at ``path`` (binary folder or zarr) and say which extensions it has.

    Unless ``trust_pickles`` (the operator's ``--trust-pickles``), nothing in the folder is
    unpickled and no class it names outside SpikeInterface's extractors is called: a sorting
    stored as pickles is refused, a recording that only unpickling could rebuild is left out
    (``ExtensionStatus.no_recording`` says why), pickled extensions are left out as ``untrusted``.
    Extensions that fail to load (written by another SpikeInterface version, truncated) are
    reported as ``broken``; both can be recomputed. Loading reads the sorting and every extension
    into memory, except the correlograms of a binary folder, memory-mapped (``MAPPED_EXTENSIONS``).
    Raises ``AnalyzerOpenError`` when the folder is not an analyzer this SpikeInterface can read.
    """
    import spikeinterface

    folder = Path(path).expanduser()
    if not folder.exists():
        raise AnalyzerOpenError(
            f"No analyzer at '{folder}'. Check the path, or build one from a recording and a sorting."
        )
    if not folder.is_dir():
        raise AnalyzerOpenError(
            f"'{folder}' is a file; a SortingAnalyzer is a folder (binary) or a .zarr folder."
        )
    fmt = "zarr" if _is_zarr(folder) else "binary_folder"
    parts = [] if trust_pickles else _pickled_parts(folder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analyzer, no_recording = _load(folder, fmt, parts, trust_pickles)
    except Exception as exc:  # SpikeInterface raises ValueError, AssertionError, KeyError, zarr errors...
        if type(exc).__name__ == "UnsafeDecodeError":  # numcodecs' own refusal, under --trust-pickles
            raise AnalyzerOpenError(
                f"'{folder.name}' keeps zarr arrays as pickles, which numcodecs decodes only when the "
                "server runs with NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE=1 as well as --trust-pickles."
            ) from exc
        raise AnalyzerOpenError(
            f"'{folder}' could not be read as a SortingAnalyzer by SpikeInterface "
            f"{spikeinterface.__version__} (written by version {_saved_version(folder)}): "
            f"{type(exc).__name__}: {exc}. Open it with the SpikeInterface version that wrote it and save "
            "it again, or rebuild it from the recording and sorting."
        ) from exc
    broken, untrusted = [], []
    for name in analyzer.get_saved_extension_names():
        if any(part.startswith(f"extensions/{name}/") for part in parts):
            untrusted.append(name)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _load_extension(analyzer, name, fmt)
        except Exception as exc:  # one unreadable extension must not hide the others
            log.warning("extension %s of %s could not be loaded: %s", name, folder, exc)
            analyzer.extensions.pop(name, None)
            broken.append(name)
    return analyzer, extension_status(
        analyzer, broken=tuple(broken), untrusted=tuple(untrusted), no_recording=no_recording
    )


MAPPED_EXTENSIONS = frozenset({"correlograms"})
"""Extensions read from disk as they are used rather than loaded whole: ``correlograms`` holds
units x units x bins counts (800 units, 100 bins: 0.5 GB), of which a group needs a few rows."""


def _load_extension(analyzer: Any, name: str, fmt: str) -> None:
    """Load one saved extension; a binary folder's ``MAPPED_EXTENSIONS`` are memory-mapped (read-only)."""
    if fmt != "binary_folder" or name not in MAPPED_EXTENSIONS:
        analyzer.load_extension(name)
        return
    from spikeinterface.core.sortinganalyzer import get_extension_class

    extension = get_extension_class(name).load(analyzer, lazy=True)
    for key, value in extension.data.items():
        if isinstance(value, np.memmap):
            # a plain view of the mapping: SpikeInterface closes the np.memmap values of an extension's data
            # when any extension sharing that dict is collected (a copy shares it), which emptied this one
            extension.data[key] = np.asarray(value)
    analyzer.extensions[name] = extension


def _pickled_parts(folder: Path) -> list[str]:
    """The folder's pickled parts; refuses a folder whose sorting only unpickling can read."""
    try:
        parts = pickled_parts(folder)
    except ValueError as exc:
        raise AnalyzerOpenError(
            f"'{folder.name}' could not be checked for pickles ({exc}): {TRUST_HINT}."
        ) from exc
    core = [
        part
        for part in parts
        if not part.startswith(("extensions/", "recording/")) and part != "recording.pickle"
    ]
    if core:
        raise AnalyzerOpenError(f"'{folder.name}' keeps {', '.join(core[:3])} as pickles: {TRUST_HINT}.")
    return parts


_NOT_LOADED = object()
"""Passed as the recording so SpikeInterface does not rebuild one from the folder's provenance."""


def _load(folder: Path, fmt: str, parts: list[str], trust_pickles: bool) -> tuple[Any, str]:
    from spikeinterface.core import load_sorting_analyzer
    from spikeinterface.core.sortinganalyzer import SortingAnalyzer

    if trust_pickles:
        return load_sorting_analyzer(folder, load_extensions=False, format=fmt), ""
    recording, why = safe_recording(folder, fmt, parts)
    analyzer = SortingAnalyzer.load(
        folder, recording=_NOT_LOADED if recording is None else recording, load_extensions=False, format=fmt
    )
    if recording is None:
        analyzer._recording = (
            None  # opened without a recording, as SpikeInterface does when it cannot find it
        )
    return analyzer, why


def has_loaded(analyzer: Any, name: str) -> bool:
    """True when the extension is computed and readable (a saved but unreadable one does not count)."""
    return name in analyzer.extensions


def extension_status(
    analyzer: Any, broken: tuple[str, ...] = (), untrusted: tuple[str, ...] = (), no_recording: str = ""
) -> ExtensionStatus:
    present = tuple(name for name in CURATION_EXTENSIONS if has_loaded(analyzer, name))
    missing = tuple(name for name in CURATION_EXTENSIONS if not has_loaded(analyzer, name))
    params = {name: dict(analyzer.extensions[name].params) for name in present}
    has_recording = bool(analyzer.has_recording() or analyzer.has_temporary_recording())
    return ExtensionStatus(
        present=present,
        missing=missing,
        broken=broken,
        untrusted=untrusted,
        has_recording=has_recording,
        no_recording="" if has_recording else no_recording,
        params=params,
    )


def check_not_empty(sorting: Any) -> None:
    """Raise ``CurationError`` when there are no units or no spikes at all."""
    if sorting.get_num_units() == 0:
        raise CurationError(
            "The sorting has no units, so there is nothing to curate. Check the sorter's output."
        )
    if int(np.sum(list(sorting.count_num_spikes_per_unit(outputs="array")))) == 0:
        raise CurationError(
            "The sorting's units have no spikes, so there is nothing to curate. "
            "Check the sorter's output and the recording it ran on."
        )


def build_analyzer(
    recording: Any,
    sorting: Any,
    folder: str | Path,
    fmt: str = "binary_folder",
    sparse: bool = True,
    job_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Create an analyzer for ``recording`` + ``sorting`` at ``folder`` (written under a temporary
    name, then renamed, so a crash leaves no half analyzer). Costs a read of a few spikes per unit
    to find their main channels. Raises ``CurationError`` for a sorting with nothing in it."""
    from spikeinterface.core import create_sorting_analyzer
    from spikeinterface.core.sortinganalyzer import SortingAnalyzer

    check_not_empty(sorting)
    folder = Path(folder)
    if folder.exists():
        raise AnalyzerOpenError(
            f"'{folder}' already exists; open it, or choose another folder for the new analyzer."
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".zarr" if fmt == "zarr" else ""
    temp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp{suffix}"
    kwargs = {**DEFAULT_JOB_KWARGS, **(job_kwargs or {})}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            create_sorting_analyzer(
                sorting, recording, format=fmt, folder=temp, sparse=sparse, job_kwargs=kwargs
            )
        temp.rename(folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return SortingAnalyzer.load(folder, recording=recording, format=fmt)


def sorting_fingerprint(analyzer: Any) -> str:
    """A content hash of the sorting alone (spike times, units): the identity verdicts are kept under."""
    return _fingerprint(analyzer, with_extensions=False)


def analyzer_fingerprint(analyzer: Any) -> str:
    """A content hash of the sorting (spike times, units) and the extensions images are drawn from.

    Changes when spikes, unit ids or correlogram/amplitude/template parameters change, so a
    cached image is never reused for different data. Hashes the whole spike vector up to
    64 MB (about 4 M spikes) and evenly spaced blocks of it beyond that (tens of ms).
    """
    return _fingerprint(analyzer, with_extensions=True)


def _fingerprint(analyzer: Any, with_extensions: bool) -> str:
    digest = hashlib.blake2b(digest_size=16)
    spikes = analyzer.sorting.to_spike_vector()
    data = np.ascontiguousarray(spikes).view(np.uint8).reshape(-1)
    digest.update(str(len(spikes)).encode())
    if data.nbytes <= 64 << 20:
        digest.update(data)  # type: ignore[arg-type]  # numpy stubs declare __buffer__ only for 3.12+
    else:
        block = 1 << 20
        for start in np.linspace(0, data.nbytes - block, 64).astype(np.int64):
            digest.update(data[start : start + block])  # type: ignore[arg-type]  # as above
    digest.update(json.dumps([str(u) for u in analyzer.unit_ids]).encode())
    digest.update(str(analyzer.sampling_frequency).encode())
    for name in ("correlograms", "spike_amplitudes", "templates", "random_spikes") if with_extensions else ():
        ext = analyzer.extensions.get(name)
        digest.update(
            f"{name}:{json.dumps(ext.params, sort_keys=True, default=str) if ext else '-'}".encode()
        )
    return digest.hexdigest()
