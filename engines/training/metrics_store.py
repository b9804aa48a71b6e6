"""A run's metrics in SQLite (``<run>/metrics.sqlite``): one row per logged step and split, or per event.

Why SQLite and not Parquet: a run's metrics arrive one row at a time while the page reads the
new rows every second and a comparison reads one metric of up to 20 runs. SQLite appends a row
in one small transaction that readers in other processes see whole (WAL on a local disk, the
rollback journal on a network filesystem: ``WorkspaceDb`` chooses), answers "rows after id k"
and "this metric of this split" without loading the rest, and ships with Python. A Parquet file
cannot be appended to: following a live run would mean rewriting it at every log step or
keeping a growing heap of part files, and the trainer would need pyarrow, which the project
does not install.

Each row keeps the dict the trainer wrote as JSON text beside the columns queries filter on
(``step``, ``split``, ``event``), so a new metric (evaluation while training, say) needs no
schema change. Every finite number of a metric row is also kept in ``scalars`` (split, name,
row id, step, value), clustered by split and name, so ``metric_series`` reads one curve as one
range of one table without parsing JSON (NaN and infinity are left out there: a gap in the curve).

Old run folders hold ``metrics.jsonl`` only. Their complete lines are copied into the store on
the first read (``catch_up``), and the byte offset reached is kept, so a run whose old trainer
still appends to its JSON lines is followed too: each read copies the lines added since. The
JSON lines file is left as it was.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engines.workspace_db import WorkspaceDb

__all__ = [
    "STORE_NAME",
    "LEGACY_NAME",
    "MetricsWriter",
    "read_rows",
    "read_jsonl",
    "current_trajectory",
    "trajectory_rows",
    "metric_series",
    "catch_up",
]

STORE_NAME, LEGACY_NAME = "metrics.sqlite", "metrics.jsonl"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS metrics (id INTEGER PRIMARY KEY, step INTEGER NOT NULL, split TEXT, "
    "event TEXT, row TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS metrics_events ON metrics (event, id) WHERE event IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS scalars (split TEXT NOT NULL, name TEXT NOT NULL, id INTEGER NOT NULL, "
    "step INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (split, name, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS legacy (source TEXT PRIMARY KEY, offset INTEGER NOT NULL)"
)
_INSERT = "INSERT INTO metrics (step, split, event, row) VALUES (?, ?, ?, ?)"
_INSERT_SCALAR = "INSERT INTO scalars (split, name, id, step, value) VALUES (?, ?, ?, ?, ?)"
_NOT_METRICS = frozenset({"step", "split", "time"})


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (at any depth) as None, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value.item() if isinstance(value, np.generic) else value


def _json(row: dict[str, Any]) -> str:
    """The row as JSON text. SQLite's JSON functions refuse NaN and infinity (not JSON), so a row holding
    one (a diverged loss) stores null there instead, which reads back as a missing value."""
    try:
        return json.dumps(row, default=float, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(row), default=str, allow_nan=False)


def _columns(row: dict[str, Any]) -> tuple[int, str | None, str | None, str]:
    event = row.get("event")
    split = row.get("split")
    return (
        int(row.get("step", 0) or 0),
        None if split is None else str(split),
        None if event is None else str(event),
        _json(row),
    )


def _append(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (inside the caller's transaction): each as JSON, and each finite number of a metric
    row also in ``scalars``, clustered by split and name so one curve is one range read."""
    scalars = []
    for row in rows:
        step, split, event, text = _columns(row)
        row_id = conn.execute(_INSERT, (step, split, event, text)).lastrowid
        if split is None or event is not None:
            continue
        for name, value in row.items():
            number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
            if number and name not in _NOT_METRICS and math.isfinite(value):
                scalars.append((split, name, row_id, step, float(value)))
    conn.executemany(_INSERT_SCALAR, scalars)


class MetricsWriter:
    """The trainer's end of a run's store: one connection for the run's life, one committed row per write."""

    def __init__(self, path: Path) -> None:
        catch_up(path)  # a resumed old run keeps its history: copy its JSON lines in first
        self._db = WorkspaceDb(path, SCHEMA)
        self._conn = self._db.connect(check_same_thread=False)
        self._usual = "NORMAL" if self._db.journal_mode == "WAL" else "FULL"  # WorkspaceDb's choice

    def write(self, row: dict[str, Any], durable: bool = False) -> None:
        """Commit one row; ``durable`` also syncs it to disk before returning (events: resume, checkpoint)."""
        if durable:
            self._conn.execute("PRAGMA synchronous=FULL")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                _append(self._conn, [{"time": time.time(), **row}])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        finally:
            if durable:
                self._conn.execute(f"PRAGMA synchronous={self._usual}")

    def write_many(self, rows: list[dict[str, Any]]) -> None:
        """Commit many rows in one transaction (a run's history written at once: imports, benchmarks)."""
        now = time.time()
        with self._db.write() as conn:
            _append(conn, [{"time": now, **row} for row in rows])

    def close(self) -> None:
        self._conn.close()


@functools.lru_cache(maxsize=256)
def _store(path: str) -> WorkspaceDb:
    """The store at ``path``, its schema applied once per process (a comparison reopens the same runs every
    few seconds). Readers call it only once the file exists: they never create a store; ``catch_up`` does."""
    return WorkspaceDb(Path(path), SCHEMA)


def read_jsonl(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete JSON lines of an old ``metrics.jsonl`` from byte ``offset``, and the offset to continue from.

    A line still being written (no newline yet) is left for the next call; unparseable lines are skipped.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    rows = []
    for line in data[:end].splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows, offset + end + 1


def catch_up(path: Path) -> None:
    """Copy the lines of the run's old ``metrics.jsonl`` not yet in the store (none: nothing happens).

    Costs one ``stat`` when there is no old file; otherwise one small query, and the new lines' parse.
    """
    legacy = Path(path).with_name(LEGACY_NAME)
    try:
        size = legacy.stat().st_size
    except FileNotFoundError:
        return
    if Path(path).exists() and _copied(Path(path)) >= size:
        return
    with _store(str(path)).write() as conn:  # the write lock: two readers never copy a line twice
        done = conn.execute("SELECT offset FROM legacy WHERE source = ?", (LEGACY_NAME,)).fetchone()
        rows, end = read_jsonl(legacy, done[0] if done else 0)
        _append(conn, rows)
        conn.execute("INSERT OR REPLACE INTO legacy (source, offset) VALUES (?, ?)", (LEGACY_NAME, end))


def _copied(path: Path) -> int:
    """How many bytes of the old JSON lines the store holds (0 before the first copy)."""
    with _store(str(path)).read() as conn:
        done = conn.execute("SELECT offset FROM legacy WHERE source = ?", (LEGACY_NAME,)).fetchone()
    return int(done[0]) if done else 0


def read_rows(path: Path, after: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Rows (events included) stored after row id ``after``, and the id to continue from.

    What the page polls every second: costs one indexed query of the new rows only.
    """
    path = Path(path)
    catch_up(path)
    if not path.exists():
        return [], after
    with _store(str(path)).read() as conn:
        found = conn.execute("SELECT id, row FROM metrics WHERE id > ? ORDER BY id", (after,)).fetchall()
    if not found:
        return [], after
    return [json.loads(text) for _, text in found], int(found[-1][0])


def current_trajectory(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the run's current history: a ``resume`` event at step k drops earlier rows after step k."""
    kept: list[dict[str, Any]] = []
    for row in rows:
        if row.get("event") == "resume":
            step = int(row.get("step", 0))
            kept = [r for r in kept if int(r.get("step", 0)) <= step]
        kept.append(row)
    return kept


def _kept(conn: sqlite3.Connection) -> tuple[str, tuple[int, ...]]:
    """The condition keeping a row of the current trajectory: a ``resume`` at step k logged after it drops
    it when it is past k. Resumes are few (a person asks for each), so they become parameters."""
    resumes = conn.execute("SELECT id, step FROM metrics WHERE event = 'resume'").fetchall()
    if not resumes:
        return "", ()
    dropped = " OR ".join("(id < ? AND step > ?)" for _ in resumes)
    return f" AND NOT ({dropped})", tuple(v for pair in resumes for v in pair)


def trajectory_rows(path: Path) -> list[dict[str, Any]]:
    """The metric rows (no events) of the run's current trajectory, in the order they were logged."""
    path = Path(path)
    catch_up(path)
    if not path.exists():
        return []
    with _store(str(path)).read() as conn:
        kept, args = _kept(conn)
        query = f"SELECT row FROM metrics WHERE event IS NULL{kept} ORDER BY id"
        found = conn.execute(query, args).fetchall()
    return [json.loads(text) for (text,) in found]


def _no_series() -> pd.DataFrame:
    return pd.DataFrame({"step": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64")})


def metric_series(path: Path, split: str, metric: str) -> pd.DataFrame:
    """``step`` and ``value`` of one metric on one split along the current trajectory (empty when absent).

    Costs one range read of the ``scalars`` table (no JSON parsed): about a millisecond for 2,000 steps.
    """
    path = Path(path)
    catch_up(path)
    if not path.exists():
        return _no_series()
    with _store(str(path)).read() as conn:
        kept, args = _kept(conn)
        conn.row_factory = None  # plain tuples: numpy reads 2,000 of them many times faster than Rows
        found = conn.execute(
            f"SELECT step, value FROM scalars WHERE split = ? AND name = ?{kept} ORDER BY id",
            (split, metric, *args),
        ).fetchall()
    if not found:
        return _no_series()
    pairs = np.array(found, dtype=float)
    return pd.DataFrame({"step": pairs[:, 0].astype(np.int64), "value": pairs[:, 1]})
