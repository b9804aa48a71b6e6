"""Request a precomputed product for a view and follow its job: queue position, progress, errors.

The job runs elsewhere (worker threads, processes or Dask); this component only polls the
job store (one SQLite read a second) and calls ``on_ready`` once with the result folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import panel as pn

from engines.errors import NeurodeckError
from engines.nwb.nwbfile import NwbFile
from engines.nwb.product_jobs import ProductJobs, ProductState

__all__ = ["ProductWatcher"]

log = logging.getLogger(__name__)


class ProductWatcher(pn.viewable.Viewer):
    """A status line for one product; ``ready`` holds the result folder once the job is done."""

    def __init__(self, products: ProductJobs, kind: str, nwbfile: NwbFile, path: str,
                 on_ready: Callable[[Path], None], label: str, poll_s: float = 1.0) -> None:
        super().__init__()
        self._products = products
        self._on_ready = on_ready
        self._label = label
        self.ready: Path | None = None
        self._callback = None
        self._status = pn.pane.Markdown("", css_classes=["nd-job-status"], margin=(0, 10))
        self._retry = pn.widgets.Button(label="Retry", width=80, visible=False)
        self._retry.on_click(self._on_retry)
        try:
            self._state: ProductState | None = products.request(kind, nwbfile, path)
        except NeurodeckError as exc:
            self._state = None
            self._status.object = f"{label}: cannot be computed ({exc})"
            return
        if not self._update():
            self._callback = pn.state.add_periodic_callback(self._poll, period=int(poll_s * 1000))
            pn.state.on_session_destroyed(lambda _ctx: self._stop())

    def _stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _poll(self) -> None:
        self._state = self._products.state(self._state.job.id)
        if self._update():
            self._stop()

    def _update(self) -> bool:
        """Show the state; True when nothing more will change (done or failed)."""
        state = self._state
        self._retry.visible = state.failed
        if state.done:
            self._status.object = f"{self._label}: ready"
            if self.ready is None:
                self.ready = state.result_dir
                try:
                    self._on_ready(state.result_dir)
                except Exception as exc:  # a result that cannot be shown must not break the view
                    log.exception("Showing %s failed", self._label)
                    self._status.object = f"{self._label}: result could not be shown ({exc})"
            return True
        self._status.object = f"{self._label}: {state.describe()}"
        return state.failed

    def _on_retry(self, _event) -> None:
        self._state = self._products.retry(self._state.job.id)
        if not self._update() and self._callback is None:
            self._callback = pn.state.add_periodic_callback(self._poll, period=1000)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self._status, self._retry, sizing_mode="stretch_width")
