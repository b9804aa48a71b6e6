"""Per-user rate limits: how many model calls or job submissions one person may make in a sliding window.

The counts are kept in the workspace (``<workspace>/limits.sqlite``), not in the server's memory,
because what they guard costs money or shared compute: a restart must not hand out a fresh hourly
budget, and every process that shares the workspace (a second server, ``run.py`` commands, job
workers judging with a model) must draw on the same budget. Checking and recording one use is a
single ``BEGIN IMMEDIATE`` transaction (about a millisecond), so two tabs of the same user can never
both take the last call; that is nothing beside the model call or job it guards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from engines.people import LimitReached, Person
from engines.workspace_db import WorkspaceDb

__all__ = ["RateLimit", "UsageLimiter", "Budget", "model_calls_limit", "job_submissions_limit"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uses (user TEXT NOT NULL, what TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS uses_by_user ON uses (user, what, at);
"""


@dataclass(frozen=True)
class RateLimit:
    """At most ``allowed`` uses of ``what`` per person in any ``window_s`` seconds; ``setting`` names the
    setting the operator changes to raise it (shown in the message)."""

    what: str
    allowed: int
    window_s: float
    setting: str


def model_calls_limit(per_hour: int) -> RateLimit:
    """Chat turns sent to a model and VLM judgements (``Settings.model_calls_per_hour``)."""
    return RateLimit("model calls", int(per_hour), 3600.0, "model_calls_per_hour")


def job_submissions_limit(per_minute: int) -> RateLimit:
    """New jobs queued (``Settings.jobs_per_minute``); a request answered by an existing job is not one."""
    return RateLimit("job submissions", int(per_minute), 60.0, "jobs_per_minute")


def _wait_text(seconds: float) -> str:
    seconds = max(1.0, seconds)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class UsageLimiter:
    """Sliding-window counters per person and kind of use, shared by every process on one workspace."""

    def __init__(self, workspace: Path) -> None:
        self.path = Path(workspace) / "limits.sqlite"
        self._db = WorkspaceDb(self.path, _SCHEMA)

    def take(self, person: Person, limit: RateLimit, count: int = 1) -> None:
        """Record ``count`` uses by ``person``, or raise ``LimitReached`` (recording nothing) when they would
        go over ``limit``; the message says how many are left and when the next one frees."""
        now = time.time()
        since = now - limit.window_s
        with self._db.write() as db:
            db.execute("DELETE FROM uses WHERE what = ? AND at < ?", (limit.what, since))
            rows = db.execute(
                "SELECT at FROM uses WHERE user = ? AND what = ? ORDER BY at", (person.name, limit.what)
            ).fetchall()
            used = len(rows)
            if used + count > limit.allowed:
                left = max(0, limit.allowed - used)
                frees = (
                    rows[min(used - 1, used + count - limit.allowed - 1)]["at"] + limit.window_s - now
                    if rows
                    else limit.window_s
                )
                window = (
                    "hour"
                    if limit.window_s == 3600
                    else "minute"
                    if limit.window_s == 60
                    else f"{limit.window_s:.0f} s"
                )
                raise LimitReached(
                    f"{person.name} has used {used} of the {limit.allowed} {limit.what} allowed per {window} "
                    f"({left} left, {count} asked for); more free up in {_wait_text(frees)}. "
                    f"The operator can raise the limit ({limit.setting})."
                )
            db.executemany(
                "INSERT INTO uses (user, what, at) VALUES (?, ?, ?)", [(person.name, limit.what, now)] * count
            )

    def used(self, person: Person, limit: RateLimit) -> int:
        """How many uses ``person`` made within the window, up to now."""
        with self._db.read() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM uses WHERE user = ? AND what = ? AND at >= ?",
                (person.name, limit.what, time.time() - limit.window_s),
            ).fetchone()
        return int(count)


@dataclass(frozen=True)
class Budget:
    """One person's budget of one kind, handed to an engine that spends it (a chat, the VLM judge)."""

    limiter: UsageLimiter
    person: Person
    limit: RateLimit

    def take(self, count: int = 1) -> None:
        """Spend ``count`` uses, or raise ``LimitReached``."""
        self.limiter.take(self.person, self.limit, count)
