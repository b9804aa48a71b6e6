"""Ask for a job's result and follow it in a view: queue position, progress, errors, retry and cancel.

The job runs elsewhere (worker threads, processes or Dask); this component polls the job
store (one SQLite read a second, on Panel's callback pool), shows the state on the session's
thread and calls ``on_ready`` there once with the result folder. It may be built off the
session's thread: polling starts on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn
import param
from panel.io.callbacks import PeriodicCallback

from components.background import run_on_session_thread
from components.safe_text import escape_text
from engines.errors import NeurodeckError
from engines.jobs.service import JobService, JobState

__all__ = ["JobWatcher"]

log = logging.getLogger(__name__)


class JobWatcher(pn.viewable.Viewer):
    """A status line for one requested result; ``ready`` holds its folder once the job is done."""

    def __init__(
        self,
        jobs: JobService,
        kind: str,
        inputs: dict[str, Any],
        on_ready: Callable[[Path], None],
        label: str,
        poll_s: float = 1.0,
    ) -> None:
        super().__init__()
        self._jobs = jobs
        self._on_ready = on_ready
        self._label = label
        self._poll_ms = int(poll_s * 1000)
        self.ready: Path | None = None
        self._doc = pn.state.curdoc
        self._callback: PeriodicCallback | None = None
        self._stopped = False
        self._status = pn.pane.Markdown("", css_classes=["nd-job-status"], margin=(0, 10))
        self._retry = pn.widgets.Button(label="Retry", width=80, visible=False)
        self._retry.on_click(self._on_retry)
        self._cancel = pn.widgets.Button(label="Cancel", width=80, visible=False, button_type="warning")
        self._cancel.on_click(self._on_cancel)
        self._state: JobState | None = None  # None: the job could not be requested
        try:
            state = jobs.request(kind, inputs)
        except NeurodeckError as exc:
            self._status.object = escape_text(f"{label}: cannot be computed ({exc})")
            return
        self._state = state
        if not self._update(state):
            run_on_session_thread(self._doc, self._start_polling)

    @property
    def state(self) -> JobState | None:
        return self._state

    def _start_polling(self) -> None:
        if self._callback is None and not self._stopped and pn.state.curdoc is not None:
            self._callback = pn.state.add_periodic_callback(self._poll, period=self._poll_ms)

    def stop(self) -> None:
        """Stop polling (the view was replaced or the session ended); the job itself goes on."""
        self._stopped = True
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _poll(self) -> None:
        """On Panel's pool: read the store there, show what it says on the session's thread."""
        if self._state is None:  # polling starts only after a successful request
            return
        state = self._jobs.state(self._state.job.id)
        run_on_session_thread(self._doc, lambda: self._show(state))

    def _show(self, state: JobState) -> None:
        if self._stopped:
            return
        self._state = state
        if self._update(state):
            self.stop()

    def _update(self, state: JobState) -> bool:
        """Show ``state``; True when nothing more will change (done or failed)."""
        self._retry.visible = state.failed
        self._cancel.visible = state.active
        if state.done and state.result_dir is not None:  # done means a result folder; checked for the types
            self._status.object = escape_text(f"{self._label}: ready")
            if self.ready is None:
                self.ready = state.result_dir
                try:
                    self._on_ready(state.result_dir)
                except Exception as exc:  # a result that cannot be shown must not break the view
                    log.exception("Showing %s failed", self._label)
                    self._status.object = escape_text(f"{self._label}: result could not be shown ({exc})")
            return True
        self._status.object = escape_text(f"{self._label}: {state.describe()}")
        return state.failed

    def _on_retry(self, _event: param.parameterized.Event) -> None:
        if self._state is None:  # the button shows only for a requested job
            return
        try:
            self._state = self._jobs.retry(self._state.job.id)
        except NeurodeckError as exc:  # someone else's job, or this person's submissions are used up
            self._status.object = escape_text(f"{self._label}: {exc}")
            return
        self._stopped = False
        if not self._update(self._state):
            self._start_polling()

    def _on_cancel(self, _event: param.parameterized.Event) -> None:
        if self._state is None:  # the button shows only for a requested job
            return
        try:
            self._state = self._jobs.cancel(self._state.job.id)
        except NeurodeckError as exc:  # a job shared with (and owned by) someone else
            self._status.object = escape_text(f"{self._label}: {exc}")
            return
        self._update(self._state)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self._status, self._cancel, self._retry, sizing_mode="stretch_width")
