"""Indexes kept in the workspace (SQLite), so reopening a file costs one validation request.

One store per server process; every session reads through it, so a file indexed by one
user opens instantly for the next. Writes are single statements (atomic in SQLite).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from engines.nwb.index import NwbIndex

__all__ = ["IndexStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nwb_index (
    version_key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    payload BLOB NOT NULL
)
"""


class IndexStore:
    """Read-through cache of ``NwbIndex`` objects keyed by file version (URL + size + ETag)."""

    def __init__(self, workspace: Path, memory_items: int = 32) -> None:
        workspace.mkdir(parents=True, exist_ok=True)
        self.path = workspace / "nwb_index.sqlite"
        self._memory: OrderedDict[str, NwbIndex] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, version_key: str) -> NwbIndex | None:
        with self._lock:
            if version_key in self._memory:
                self._memory.move_to_end(version_key)
                return self._memory[version_key]
        with self._connect() as db:
            row = db.execute("SELECT payload FROM nwb_index WHERE version_key = ?", (version_key,)).fetchone()
        if row is None:
            return None
        index = NwbIndex.from_bytes(row[0])
        self._remember(version_key, index)
        return index

    def put(self, version_key: str, source: str, index: NwbIndex) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO nwb_index VALUES (?, ?, ?, ?)",
                       (version_key, source, time.time(), index.to_bytes()))
        self._remember(version_key, index)

    def _remember(self, version_key: str, index: NwbIndex) -> None:
        with self._lock:
            self._memory[version_key] = index
            self._memory.move_to_end(version_key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
