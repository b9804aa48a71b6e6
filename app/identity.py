"""The signed-in person of the current browser session, and the services as that person uses them.

Pages call these once when they are built and pass the results down to engines; nothing decides
who someone is from the address the server is bound to.
"""

from __future__ import annotations

import panel as pn

from app.context import AppContext
from app.settings import Settings
from engines.jobs.service import JobService
from engines.limits import Budget, UsageLimiter, model_calls_limit
from engines.people import Person

__all__ = ["session_person", "jobs_for", "model_budget_for"]


def session_person(settings: Settings) -> Person:
    """The person signed in to this session (``anonymous`` with ``--auth none`` or outside a server)."""
    return settings.person(pn.state.user)


def jobs_for(ctx: AppContext, person: Person) -> JobService:
    """The job service acting as ``person``: their submissions are counted and only their jobs cancelled."""
    return ctx.jobs.acting_as(person, ctx.settings.jobs_per_minute)


def model_budget_for(settings: Settings, person: Person) -> Budget:
    """``person``'s hourly budget of model calls (chat turns, VLM judgements), shared by every process of the
    workspace."""
    return Budget(UsageLimiter(settings.workspace), person, model_calls_limit(settings.model_calls_per_hour))
