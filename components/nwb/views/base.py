"""What every NWB view is: a Viewer for one object, chosen by neurodata type from index metadata.

Views share the open file's ``NwbFileController`` (time window, channels, units) and read
through the session's ``BackgroundWork``: a zoom asks for a read and returns at once; the
picture updates when the read is applied on the session's thread. Everything a view starts
(watchers, job polling) is registered with ``on_dispose`` and stopped by ``dispose()`` when
the view is replaced or the session ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import panel as pn

from components.background import BackgroundWork
from components.job_watcher import JobWatcher
from components.nwb.controller import NwbFileController
from engines.jobs.service import JobService
from engines.nwb.index import NwbIndex
from engines.nwb.nwbfile import NwbFile
from engines.nwb.product_jobs import product_inputs

__all__ = ["NwbView"]

log = logging.getLogger(__name__)


class NwbView(pn.viewable.Viewer):
    """Base class. ``id`` is stable (deep links use it); ``neurodata_types`` match by inheritance."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    neurodata_types: ClassVar[tuple[str, ...]] = ()
    time_based: ClassVar[bool] = False
    """Shows a time window shared through the controller."""

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """Decide from the index only (never read the file to decide)."""
        return any(index.is_a(path, t) for t in cls.neurodata_types)

    def __init__(
        self,
        nwbfile: NwbFile,
        path: str,
        jobs: JobService | None = None,
        controller: NwbFileController | None = None,
        work: BackgroundWork | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.nwbfile = nwbfile
        self.path = path
        self.jobs = jobs  # precomputed products (jobs); None where no job system runs
        self.controller = controller or NwbFileController(object_path=path)
        self.work = work or BackgroundWork()
        self.info = nwbfile.resolve(path)
        self._disposers: list[Callable[[], None]] = []
        self._keys: set[str] = set()
        self._disposed = False

    # --- life ----------------------------------------------------------------------------------
    def on_dispose(self, callback: Callable[[], None]) -> None:
        self._disposers.append(callback)

    def watch_controller(self, callback: Callable[..., None], names: list[str]) -> None:
        """Watch the shared controller until this view is disposed."""
        watcher = self.controller.param.watch(callback, names)
        self.on_dispose(lambda: self.controller.param.unwatch(watcher))

    def watch_job(self, kind: str, on_ready: Callable[[Any], None], label: str) -> JobWatcher:
        """Request this object's product ``kind`` and follow it until the view is disposed."""
        jobs = self.jobs
        if jobs is None:  # views offer products only where a job system runs
            raise RuntimeError(f"'{kind}' is computed by the job system, which is not running here")
        watcher = JobWatcher(jobs, kind, product_inputs(self.nwbfile, self.path), on_ready, label)
        self.on_dispose(watcher.stop)
        return watcher

    def work_key(self, name: str) -> str:
        """A key for ``self.work`` that is this view's own (newest request wins per key; dropped on
        dispose)."""
        key = f"{type(self).__name__}-{id(self)}-{name}"
        if key not in self._keys:
            self._keys.add(key)
            self.on_dispose(lambda: self.work.cancel(key))
        return key

    def dispose(self) -> None:
        """Stop everything this view started; called once when it is replaced or the session ends."""
        if self._disposed:
            return
        self._disposed = True
        for callback in reversed(self._disposers):
            try:
                callback()
            except Exception:
                log.exception("disposing %s failed", self.id)

    @property
    def disposed(self) -> bool:
        return self._disposed
