"""The workspace's index of runs (``<workspace>/training/run_index.sqlite``): what the run list shows, from
one query instead of two files and a config validation per run.

The run folders stay the truth: trainers, ``run.py train`` and runs on other hosts write only
their folders and know nothing of the index. ``refresh`` lists the runs folder and ``stat``s
each run's ``config.json`` and ``status.json`` (about 2,000 system calls for 1,000 runs, a few
milliseconds); only runs whose files changed since (inode, mtime, size) are read again, and
runs whose folder is gone are dropped. So the index can be deleted at any time and is rebuilt,
and several server processes keep it alike (each refresh is one write transaction).

Owners: a row's ``owner`` is copied from the run's ``status.json`` on every change of that file,
never set through the index; ``runs(owner=...)`` returns that person's runs alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from engines.training.runs import ACTIVE_STATES, RunFolder, RunInfo, RunState, runs_root
from engines.workspace_db import WorkspaceDb

__all__ = ["RunIndex", "SORTS", "select_runs"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, signature TEXT NOT NULL, "
    "owner TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL, step INTEGER NOT NULL, "
    "total_steps INTEGER NOT NULL, started REAL, updated REAL, message TEXT NOT NULL, mode TEXT NOT NULL, "
    "status TEXT NOT NULL, hyperparameters TEXT NOT NULL, final TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner)"
)
_COLUMNS = (
    "run_id, signature, owner, name, state, step, total_steps, started, updated, message, mode, status, "
    "hyperparameters, final"
)
_ACTIVE = {s.value for s in ACTIVE_STATES}
_SETTLED = {s.value for s in RunState} - _ACTIVE


def _signature(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def _signatures(root: Path) -> dict[str, str]:
    """``{run id: signature of its config and status}`` for every folder holding a ``config.json``."""
    found: dict[str, str] = {}
    try:
        entries = os.scandir(root)
    except FileNotFoundError:
        return found
    with entries:
        for entry in entries:
            config = _signature(os.path.join(entry.path, "config.json"))
            if config != "-" and entry.is_dir():
                found[entry.name] = f"{config}|{_signature(os.path.join(entry.path, 'status.json'))}"
    return found


def _row(folder: RunFolder, signature: str) -> tuple[Any, ...] | None:
    """The index row of a run from its files (None while its config is unreadable: half written)."""
    from engines.training.config import parse_config  # pydantic only; no torch

    try:
        raw = folder.config()
    except (OSError, ValueError):
        return None
    status = folder.status()
    try:
        hyper = parse_config(raw).hyperparameters()
    except Exception:  # an old or hand-edited config still lists, with what it has
        hyper = {}
    return (
        folder.run_id,
        signature,
        str(status.get("owner", "") or ""),
        str(raw.get("name") or folder.run_id),
        str(status.get("state", RunState.STARTING.value)),
        int(status.get("step", 0) or 0),
        int(status.get("total_steps", raw.get("training", {}).get("steps", 0)) or 0),
        status.get("started"),
        status.get("updated"),
        str(status.get("message", "")),
        str(status.get("mode", "")),
        json.dumps(status, default=str),
        json.dumps(hyper, default=str),
        json.dumps(dict(status.get("final", {})), default=str),
    )


class RunIndex:
    """The index of ``<workspace>/training/runs``; ``runs()`` refreshes it, then answers from one query."""

    def __init__(self, workspace: Path) -> None:
        self.root = runs_root(workspace)
        self.db = WorkspaceDb(Path(workspace) / "training" / "run_index.sqlite", SCHEMA)

    def refresh(self) -> int:
        """Bring the index in line with the folders; returns how many runs were read again."""
        current = _signatures(self.root)
        with self.db.read() as conn:
            known = dict(conn.execute("SELECT run_id, signature FROM runs").fetchall())
        changed = [run_id for run_id, signature in current.items() if known.get(run_id) != signature]
        gone = [(run_id,) for run_id in known if run_id not in current]
        if not changed and not gone:
            return 0
        rows = [_row(RunFolder(self.root / run_id), current[run_id]) for run_id in changed]
        with self.db.write() as conn:
            conn.executemany("DELETE FROM runs WHERE run_id = ?", gone)
            conn.executemany(
                f"INSERT OR REPLACE INTO runs ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                [row for row in rows if row is not None],
            )
        return len(changed)

    def _rows(self, owner: str | None) -> list[Any]:
        self.refresh()
        where, args = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        with self.db.read() as conn:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM runs {where} ORDER BY COALESCE(started, 0) DESC, run_id DESC", args
            ).fetchall()

    def _state(self, row: Any) -> RunState:
        """The stored state; a run stored as active is looked up (is its process alive?)."""
        if row["state"] in _SETTLED:
            return RunState(row["state"])
        return RunFolder(self.root / row["run_id"]).effective_state(json.loads(row["status"]))

    def runs(self, owner: str | None = None) -> list[RunInfo]:
        """Every run (``owner``: only that person's), newest first, after a ``refresh``."""
        return [
            RunInfo(
                run_id=row["run_id"],
                name=row["name"],
                state=self._state(row),
                step=row["step"],
                total_steps=row["total_steps"],
                started=row["started"],
                updated=row["updated"],
                message=row["message"],
                mode=row["mode"],
                hyperparameters=json.loads(row["hyperparameters"]),
                final=json.loads(row["final"]),
                path=self.root / row["run_id"],
                owner=row["owner"],
            )
            for row in self._rows(owner)
        ]

    def frame(self, owner: str | None = None) -> pd.DataFrame:
        """``runs()`` as the run list's table: id, name, owner, state, step, total steps, start, message, then
        ``final.*`` metrics and hyperparameters, one row a run (built straight from the index rows)."""
        records = []
        for row in self._rows(owner):
            record = {
                "run_id": row["run_id"],
                "name": row["name"],
                "owner": row["owner"],
                "state": self._state(row).value,
                "step": row["step"],
                "total_steps": row["total_steps"],
                "started": row["started"],
                "message": row["message"],
            }
            record.update({f"final.{k}": v for k, v in json.loads(row["final"]).items()})
            record.update(json.loads(row["hyperparameters"]))
            records.append(record)
        return pd.DataFrame(records)


SORTS: dict[str, tuple[str, bool]] = {
    "newest first": ("started", False),
    "oldest first": ("started", True),
    "name": ("name", True),
    "state": ("state", True),
    "progress": ("step", False),
    "best val loss": ("final.best_val_loss", True),
}
"""The run list's orders: ``{label: (runs_frame column, ascending)}``; runs lacking the column go last."""


def select_runs(
    runs: pd.DataFrame, text: str = "", states: tuple[str, ...] = (), sort: str = "newest first"
) -> pd.DataFrame:
    """The rows of ``runs`` (a ``runs_frame``) whose state is one of ``states`` (empty: any) and whose name,
    id, data sources or owner contain ``text`` (any case, taken literally), in the order ``sort`` names.

    Vectorised: about a millisecond for 1,000 runs.
    """
    if runs.empty:
        return runs
    if states:
        runs = runs[runs["state"].isin(states)]
    needle = text.strip().lower()
    if needle:
        fields = [c for c in ("name", "run_id", "data.sources", "owner") if c in runs.columns]
        haystack = runs[fields[0]].fillna("").astype(str)
        for field in fields[1:]:
            haystack = haystack + "\n" + runs[field].fillna("").astype(str)
        haystack = haystack.str.lower()
        runs = runs[haystack.str.contains(needle, regex=False)]
    column, ascending = SORTS.get(sort, SORTS["newest first"])
    if column not in runs.columns:
        return runs
    key = (lambda values: values.astype(str).str.lower()) if column == "name" else None
    return runs.sort_values(column, ascending=ascending, na_position="last", kind="stable", key=key)
