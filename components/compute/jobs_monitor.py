"""The Compute page's monitor: every engine's jobs with filters, progress, retry/cancel, workers, throughput.

Polls the job store (one SQLite read per refresh) on a per-session periodic callback that
stops when the session closes; nothing here runs jobs. Every job shows its owner; retry and
cancel go through the session's ``JobService`` (acting as the signed-in person), so they change
only that person's jobs (admins: any) and say which selected jobs were left alone and why.
"""

from __future__ import annotations

import time
from pathlib import PurePosixPath

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from components.background import on_session_thread
from components.safe_text import escape_text
from engines.jobs import Job, JobStatus
from engines.jobs.service import JobService
from engines.people import NotAllowed

__all__ = ["JobsMonitor"]

_ALL = "all"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, time.time() - seconds)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


_SUBJECT_INPUTS = ("source", "analyzer", "run", "data")
"""Inputs that name what a job works on, whichever engine's kind it is (the first present is shown)."""


def _subject(job: Job) -> str:
    value = next((job.inputs[name] for name in _SUBJECT_INPUTS if isinstance(job.inputs.get(name), str)), "")
    return PurePosixPath(value.split("?")[0].rstrip("/")).name or value


def _row(job: Job) -> dict:
    duration = (job.finished or time.time()) - job.started if job.started else None
    return {
        "id": job.id,
        "owner": job.owner or "(admins)",
        "kind": job.kind,
        "file": _subject(job),
        "object": str(job.inputs.get("path", job.inputs.get("group", ""))),
        "status": job.status.value,
        "progress": round(job.progress * 100),
        "message": job.message or "",
        "attempts": job.attempts,
        "worker": job.worker_id or "",
        "created": _ago(job.created),
        "duration (s)": round(duration, 1) if duration is not None else None,
        "error": job.error or "",
    }


def throughput_histogram(buckets: list[tuple[float, int]], now: float | None = None) -> hv.Histogram:
    """Jobs done in each of the last 60 minutes (empty minutes as zero), on an axis of minutes before now."""
    now = time.time() if now is None else now
    end = (int(now // 60) + 1) * 60
    counts = np.zeros(60, dtype=np.int64)
    for start, count in buckets:
        slot = 59 - int((end - 60 - start) // 60)
        if 0 <= slot < 60:
            counts[slot] += count
    edges = np.arange(-60, 1, dtype=float) + (end - now) / 60.0  # minute boundaries, relative to now
    return hv.Histogram(
        (edges, counts),
        kdims=[hv.Dimension("minutes", label="minutes ago")],
        vdims=hv.Dimension("jobs", label="jobs done"),
    ).opts(
        responsive=True,
        height=200,
        title="Jobs done per minute (last hour)",
        tools=["hover"],
        color="#1f77b4",
        line_color="white",
        xlim=(-60, 0),
        ylim=(0, max(1, int(counts.max()) + 1)),
    )


class JobsMonitor(pn.viewable.Viewer):
    status: param.Selector[str] = param.Selector(default=_ALL, objects=[_ALL, *[s.value for s in JobStatus]])
    kind: param.Selector[str] = param.Selector(default=_ALL, objects=[_ALL])
    file = param.String(default="", doc="Show jobs whose file, analyzer or run contains this text.")

    def __init__(
        self, jobs: JobService, kinds: list[str], backend_facts: dict, refresh_s: float = 2.0, **params
    ) -> None:
        super().__init__(**params)
        self._service = jobs
        self._store = jobs.store
        self.param.kind.objects = [_ALL, *kinds]
        self._facts = backend_facts
        self._jobs = pn.widgets.Tabulator(
            pd.DataFrame(columns=list(_row.__annotations__) or ["id"]),
            show_index=False,
            disabled=True,
            selectable="checkbox",
            sizing_mode="stretch_width",
            height=380,
            pagination="local",
            page_size=100,
            formatters={"progress": {"type": "progress", "max": 100, "legend": True}},
        )
        self._workers = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, sizing_mode="stretch_width", height=160
        )
        self._counts = pn.pane.Markdown("")
        self._throughput = pn.pane.HoloViews(sizing_mode="stretch_width", height=220)
        self._feedback = pn.pane.Markdown("", css_classes=["nd-muted"])
        retry = pn.widgets.Button(label="Retry selected", width=140)
        cancel = pn.widgets.Button(label="Cancel selected", button_type="warning", width=140)
        retry.on_click(lambda _: self._act(self._service.retry, "retried"))
        cancel.on_click(lambda _: self._act(self._service.cancel, "cancelled"))
        self._actions = pn.Row(retry, cancel, self._feedback)
        self.refresh()
        callback = pn.state.add_periodic_callback(
            on_session_thread(self.refresh), period=int(refresh_s * 1000)
        )
        pn.state.on_session_destroyed(lambda _ctx: callback.stop())

    def _selected_ids(self) -> list[int]:
        frame = self._jobs.value
        return [int(frame.iloc[i]["id"]) for i in self._jobs.selection if i < len(frame)]

    def _act(self, action, verb: str) -> None:
        ids = self._selected_ids()
        if not ids:
            self._feedback.object = "Select jobs first (tick their boxes)."
            return
        refused = []
        for job_id in ids:
            try:
                action(job_id)
            except NotAllowed as exc:
                refused.append(str(exc))
        done = len(ids) - len(refused)
        self._feedback.object = escape_text(" ".join([f"{done} job(s) {verb}.", *refused]))
        self.refresh()

    @param.depends("status", "kind", "file", watch=True)
    def refresh(self) -> None:
        jobs = self._store.list(
            status=None if self.status == _ALL else self.status,
            kind=None if self.kind == _ALL else self.kind,
            limit=1000,
        )
        needle = self.file.strip().lower()
        if needle:
            jobs = [
                job
                for job in jobs
                if any(needle in str(job.inputs.get(name, "")).lower() for name in _SUBJECT_INPUTS)
            ]
        frame = pd.DataFrame([_row(job) for job in jobs])
        if frame.empty:
            frame = pd.DataFrame(
                columns=["id", "owner", "kind", "file", "object", "status", "progress", "message"]
            )
        selected = set(self._selected_ids())
        self._jobs.value = frame
        self._jobs.selection = [i for i, job_id in enumerate(frame["id"]) if job_id in selected]
        counts = self._store.counts()
        self._counts.object = " · ".join(f"**{counts.get(s, 0)}** {s.value}" for s in JobStatus) + (
            f" · backend: {escape_text(self._facts.get('backend', '?'))}, "
            f"{self._facts.get('workers', '?')} worker(s)"
        )
        self._workers.value = pd.DataFrame(
            [
                {
                    "worker": w.worker_id,
                    "host": w.host,
                    "pid": w.pid,
                    "last heartbeat": _ago(w.last_seen),
                    "current job": w.current_job,
                }
                for w in self._store.workers()
            ]
        )
        self._throughput.object = throughput_histogram(
            self._store.throughput(bucket_s=60, since=time.time() - 3600)
        )

    def __panel__(self) -> pn.viewable.Viewable:
        filters = pn.Row(
            pn.widgets.Select.from_param(self.param.status, label="Status", width=140),
            pn.widgets.Select.from_param(self.param.kind, label="Kind", width=200),
            pn.widgets.TextInput.from_param(self.param.file, label="File contains", width=260),
        )
        return pn.Column(
            self._counts,
            filters,
            self._actions,
            self._jobs,
            pn.pane.Markdown("**Workers**"),
            self._workers,
            self._throughput,
            sizing_mode="stretch_width",
        )
