"""The Compute page: the job queue behind every engine's precomputed results, its workers and throughput."""

from __future__ import annotations

import panel as pn

from app.context import AppContext
from app.registry import register_page
from components.jobs_monitor import JobsMonitor


@register_page("compute", "Compute", icon="⚙", order=90, extensions=("tabulator",))
def build_compute_page(ctx: AppContext, link: None) -> pn.viewable.Viewable:
    jobs = ctx.jobs
    return JobsMonitor(jobs.store, list(jobs.kinds.names()), jobs.backend.describe())
