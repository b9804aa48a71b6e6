"""Turn a config's data sources into sessions, and keep them in the run folder so a run is self-contained.

A run converts its sources once (``prepare_run_data``) and later steps, resumes and
evaluations read the saved ``.npz`` files (``load_run_data``), so a changed or vanished
source never changes a run after it started.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from engines._progress import Progress
from engines.io.errors import SourceNotAllowed
from engines.io.policy import SourcePolicy, resolve_local_path
from engines.nwb.index_store import workspace_index_store
from engines.training.config import (
    AllenSource,
    DataConfig,
    EegMotorSource,
    IblSource,
    LorenzSource,
    NilearnSource,
    NitimeSource,
    NwbSource,
    SessionFileSource,
    SyntheticSource,
)
from engines.training.data.lorenz import lorenz_session
from engines.training.data.nitime_data import load_nitime_session
from engines.training.data.nwb import convert_nwb
from engines.training.data.session import Session, load_session, save_session
from engines.training.data.synthetic import generate_synthetic_sessions
from engines.training.errors import DataError
from engines.training.runs import RunFolder, write_json_atomic

__all__ = ["build_sessions", "prepare_run_data", "load_run_data"]


def _one_source(source, config: DataConfig, policy: SourcePolicy | None, report: Progress) -> list[Session]:
    if isinstance(source, SyntheticSource):
        return generate_synthetic_sessions(source, config.bin_s)
    if isinstance(source, NitimeSource):
        return [load_nitime_session(source, config.bin_s)]
    if isinstance(source, LorenzSource):
        return [lorenz_session(source)]
    if policy is None:
        raise DataError(
            f"A {source.kind} source reads files or the network; the server's source policy is needed."
        )
    if isinstance(source, NwbSource):
        return [
            convert_nwb(
                source.path,
                policy,
                workspace_index_store(policy.workspace),
                config.bin_s,
                modality_map=source.modality_map,
                species=source.species,
                progress=report,
            )
        ]
    if isinstance(source, SessionFileSource):
        return [load_session(resolve_local_path(source.path, policy))]
    from engines.training.data import acquire

    source = _with_cache_folder(source, policy)
    if isinstance(source, IblSource):
        return [acquire.fetch_ibl_session(source, config.bin_s)]
    if isinstance(source, AllenSource):
        return [acquire.fetch_allen_experiment(source, config.bin_s)]
    if isinstance(source, EegMotorSource):
        return [acquire.fetch_eeg_motor(source, config.bin_s)]
    if isinstance(source, NilearnSource):
        return [acquire.fetch_nilearn_fmri(source)]
    raise DataError(f"Unknown data source kind {source.kind!r}.")


def _with_cache_folder(source, policy: SourcePolicy):
    """The source with its download folder inside the workspace (default) or an allowed root: a served
    app must not let a user make the server write downloads anywhere else."""
    field = "cache_dir" if hasattr(source, "cache_dir") else "data_dir"
    text = getattr(source, field)
    if text is None:
        folder = policy.workspace / "training" / "cache" / source.kind
    else:
        folder = Path(text).expanduser().resolve()
        roots = [Path(r).resolve() for r in (*policy.allowed_roots, policy.workspace)]
        if not any(folder == r or r in folder.parents for r in roots):
            raise SourceNotAllowed(
                f"The {source.kind} cache folder '{text}' is outside the folders this server may "
                "use; leave it empty (the workspace is used) or pick a folder under a --root."
            )
    folder.mkdir(parents=True, exist_ok=True)
    return source.model_copy(update={field: str(folder)})


def build_sessions(
    config: DataConfig,
    policy: SourcePolicy | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Session]:
    """Every session the config's sources describe, validated; session ids made unique.

    Costs whatever the sources cost (an NWB file is read once; synthetic data is generated in
    milliseconds). Checks ``cancelled`` between sources.
    """
    report = progress or (lambda fraction, message: None)
    sessions: list[Session] = []
    for k, source in enumerate(config.sources):
        if cancelled is not None and cancelled():
            raise DataError("Data preparation was cancelled.")
        report(k / len(config.sources), f"loading {source.kind} source {k + 1} of {len(config.sources)}")
        sub = lambda f, m, k=k: report((k + f) / len(config.sources), m)  # noqa: E731
        sessions.extend(_one_source(source, config, policy, sub))
    seen: dict[str, int] = {}
    for session in sessions:
        count = seen.get(session.session_id, 0)
        seen[session.session_id] = count + 1
        if count:
            session.session_id = f"{session.session_id}-{count}"
    report(1.0, f"{len(sessions)} session(s) ready")
    return sessions


def prepare_run_data(
    folder: RunFolder,
    config: DataConfig,
    policy: SourcePolicy | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Session]:
    """Build the sessions and save them under the run's ``data/`` folder with a manifest; returns them."""
    sessions = build_sessions(config, policy, progress, cancelled)
    folder.data_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for index, session in enumerate(sessions):
        name = f"session_{index:03d}.npz"
        save_session(session, folder.data_dir / name)
        names.append(
            {
                "file": name,
                "session_id": session.session_id,
                "n_bins": session.n_bins,
                "modalities": {m: int(a.shape[1]) for m, a in session.modalities.items()},
                "species": session.species,
            }
        )
    write_json_atomic(folder.data_dir / "manifest.json", {"sessions": names})
    return sessions


def load_run_data(folder: RunFolder) -> list[Session]:
    """The sessions a run trains on, from its ``data/`` folder."""
    try:
        manifest = json.loads((folder.data_dir / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"Run {folder.run_id} has no prepared data (data/manifest.json missing); start it again."
        ) from None
    return [load_session(Path(folder.data_dir) / entry["file"]) for entry in manifest["sessions"]]
