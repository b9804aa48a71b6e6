"""One catalogue of job kinds that every engine contributes to.

Each engine that has heavy work names a provider module here; the module exposes
``job_kinds(env: JobEnvironment) -> Iterable[JobKind]``. The server, ``run.py worker`` and
the Dask backend all build their registry with ``all_job_kinds``, so every worker can run
every kind and the Compute page lists them all. An engine whose optional packages are not
installed (the training engine without torch, say) contributes nothing instead of failing.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.jobs.kinds import JobKind, KindRegistry

if TYPE_CHECKING:
    from engines.agent.config import LlmConfig
    from engines.io.policy import SourcePolicy

__all__ = ["JobEnvironment", "KIND_PROVIDERS", "all_job_kinds"]

log = logging.getLogger(__name__)

KIND_PROVIDERS: tuple[str, ...] = (
    "engines.nwb.product_jobs",
    "engines.nwb.rechunk",
    "engines.curation.jobs",
    "engines.training.jobs",
)
"""Modules with a ``job_kinds(env)`` function, in the order their kinds are listed."""


@dataclass(frozen=True)
class JobEnvironment:
    """What job kinds need from the server's settings; picklable, so kinds can be bound to it.

    ``source_policy`` says which files and URLs may be read (and where the workspace is);
    ``llm`` is the model endpoint for kinds that call one (None: offline); ``trust_pickles`` lets
    kinds open analyzer files that only unpickling can read (the operator's ``--trust-pickles``).
    """

    source_policy: SourcePolicy
    llm: LlmConfig | None = None
    trust_pickles: bool = False

    @property
    def workspace(self) -> Path:
        return self.source_policy.workspace


def _provider_kinds(module_name: str, env: JobEnvironment) -> Iterable[JobKind]:
    try:
        module: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            return ()  # that engine is not part of this build
        log.info("job kinds of %s are unavailable: %s is not installed", module_name, exc.name)
        return ()
    kinds: Iterable[JobKind] = module.job_kinds(env)  # each provider's job_kinds has this signature
    return kinds


def all_job_kinds(env: JobEnvironment, providers: Iterable[str] = KIND_PROVIDERS) -> KindRegistry:
    """Every registered kind of every engine whose packages are installed."""
    registry = KindRegistry()
    for module_name in providers:
        for kind in _provider_kinds(module_name, env):
            registry.add(kind)
    return registry
