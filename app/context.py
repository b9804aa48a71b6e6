"""Server-wide services shared by all sessions (built once in ``serve``): settings and caches.

Only things that are safe to share live here -- the settings (immutable) and stores that
are keyed by content (an NWB index is the same for every user of the same file version).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings
from engines.jobs import DaskBackend, InProcessBackend, JobBackend, JobStore, ResultStore, all_job_kinds
from engines.jobs.service import JobService
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import NwbFile, open_nwb

__all__ = ["AppContext", "keep_workspace_private"]


def keep_workspace_private(workspace: Path) -> None:
    """Workspace folders 0700 and files 0600 from now on (this process's umask), and the workspace itself and
    what is already at its top closed to other users of the machine (chats, indexes, tokens live there)."""
    os.umask(0o077)
    workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
    workspace.chmod(0o700)
    for entry in workspace.iterdir():
        if not entry.is_symlink():
            entry.chmod(0o700 if entry.is_dir() else 0o600)


@dataclass
class AppContext:
    settings: Settings
    index_store: IndexStore
    jobs: JobService

    @classmethod
    def create(cls, settings: Settings, start: bool = True) -> AppContext:
        """Stores in the workspace and the job backend: in-process workers or a Dask client, started unless
        ``start`` is False (a server about to fork into ``--num-procs`` processes starts it in each one, since
        threads do not survive a fork)."""
        settings.workspace.mkdir(parents=True, exist_ok=True)
        store, results = JobStore(settings.workspace), ResultStore(settings.workspace)
        kinds = all_job_kinds(settings.job_environment())
        backend: JobBackend
        if settings.dask_address:
            backend = DaskBackend(store, results, kinds, settings.dask_address)
        else:
            backend = InProcessBackend(store, results, kinds, n_workers=settings.workers)
        ctx = cls(
            settings=settings,
            index_store=IndexStore(settings.workspace),
            jobs=JobService(store, results, backend, kinds),
        )
        if start:
            ctx.start()
        return ctx

    def start(self) -> None:
        """Start the job backend in this process."""
        self.jobs.backend.start()

    def close(self) -> None:
        self.jobs.backend.stop()

    def open_nwb(self, text: str) -> NwbFile:
        """Open a file for one session; the index is shared through the store."""
        return open_nwb(text, self.settings.source_policy(), self.index_store)
