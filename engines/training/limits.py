"""What the operator lets training starts ask for: steps, window length, processes, and how many runs
may go at once per person and on the server.

Kept apart from the run folders (``engines.training.runs``): these are policy checks made
before a start, read from the server's settings, while the folders only record what runs did.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.people import LimitReached, Person
from engines.training.runs import ACTIVE_STATES, RunInfo

__all__ = ["RunLimits"]


@dataclass(frozen=True)
class RunLimits:
    """What the operator lets one person start (``Settings.max_runs_per_user``, ``max_runs_total``,
    ``max_train_steps``, ``max_train_window_s``, ``max_train_processes``)."""

    runs_per_user: int
    runs_total: int
    max_steps: int
    max_window_s: float
    max_processes: int

    def check_request(self, steps: int, window_s: float, nproc: int) -> None:
        """``LimitReached`` when one run asks for more steps, a longer window or more processes than
        allowed."""
        if steps > self.max_steps:
            raise LimitReached(
                f"A run may train at most {self.max_steps:,} steps on this server (asked for "
                f"{steps:,}; max_train_steps). Ask for fewer steps, or resume it later from its "
                "last checkpoint."
            )
        if window_s > self.max_window_s + 1e-9:
            raise LimitReached(
                f"A training window may be at most {self.max_window_s:g} s on this server (asked for "
                f"{window_s:g} s = sequence length x bin; max_train_window_s). Use a shorter sequence "
                "or a smaller bin."
            )
        if nproc > self.max_processes:
            raise LimitReached(
                f"A run may use at most {self.max_processes} processes on this server (asked for "
                f"{nproc}; max_train_processes)."
            )

    def check_capacity(self, person: Person, runs: list[RunInfo]) -> None:
        """``LimitReached`` when ``person`` (or the server) already has as many runs going as allowed."""
        going = [r for r in runs if r.state in ACTIVE_STATES]
        mine = [r for r in going if r.owner == person.name]
        if len(mine) >= self.runs_per_user:
            raise LimitReached(
                f"{person.name} already has {len(mine)} run(s) going ({', '.join(r.run_id for r in mine)}"
                f"); at most {self.runs_per_user} at once per person (max_runs_per_user). Stop one "
                "or wait for it to finish."
            )
        if len(going) >= self.runs_total:
            raise LimitReached(
                f"This server already has {len(going)} runs going, its limit (max_runs_total); "
                "start yours when one finishes."
            )
