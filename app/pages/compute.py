"""The Compute page: the job queue behind every engine's precomputed results, its workers and throughput.

Everyone sees every job and its owner; retry and cancel act as the signed-in person (their own jobs;
admins: any).
"""

from __future__ import annotations

from app.context import AppContext
from app.identity import session_person
from app.registry import register_page
from components.compute.jobs_monitor import JobsMonitor


@register_page("compute", "Compute", icon="⚙", order=90, extensions=("tabulator",))
def build_compute_page(ctx: AppContext, link: None) -> JobsMonitor:
    jobs = ctx.jobs.acting_as(session_person(ctx.settings), ctx.settings.jobs_per_minute)
    return JobsMonitor(jobs, list(jobs.kinds.names()), jobs.backend.describe())
