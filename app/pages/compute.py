"""The Compute page: the job queue behind the precomputed views, its workers and throughput."""

from __future__ import annotations

import panel as pn

from app.context import AppContext
from app.registry import register_page
from app.session import SessionState
from components.jobs_monitor import JobsMonitor


@register_page("compute", "Compute", icon="⚙", order=90)
def build_compute_page(ctx: AppContext, state: SessionState) -> pn.viewable.Viewable:
    products = ctx.products
    return JobsMonitor(products.store, list(products.kinds.names()), products.backend.describe())
