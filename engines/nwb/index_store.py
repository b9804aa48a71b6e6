"""Indexes kept in the workspace (SQLite), so reopening a file costs one validation request.

One store per server process; every session reads through it, so a file indexed by one
user opens instantly for the next. The database is a ``WorkspaceDb`` (WAL on a local disk,
the rollback journal on NFS), so several server processes and job workers share it.

A file version is indexed once for all of them: ``building(key)`` is a workspace lock the
opener holds while it builds, so a second process (or session) opening the same version at
the same time waits for the first and reads its index from the store. The in-memory LRU can
never be stale: a version key names one file content, so its index never changes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engines._filesystem import build_lock
from engines.nwb.index import NwbIndex
from engines.workspace_db import WorkspaceDb

__all__ = ["IndexStore", "BUILD_WAIT_S", "INDEX_FORMAT", "workspace_index_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nwb_index (
    version_key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    payload BLOB NOT NULL
)
"""
INDEX_FORMAT = 2
"""Bump when what an index records changes, so indexes built by older code are built again
(2: extension types carry their parents' lineage; remote datasets described from their headers)."""
BUILD_WAIT_S = 300.0
"""How long an opener waits for another process's build of the same file before building it itself."""


class IndexStore:
    """Read-through cache of ``NwbIndex`` objects keyed by file version (URL + size + ETag)."""

    def __init__(self, workspace: Path, memory_items: int = 32, build_wait_s: float = BUILD_WAIT_S) -> None:
        self.workspace = Path(workspace)
        self.path = self.workspace / "nwb_index.sqlite"
        self._db = WorkspaceDb(self.path, _SCHEMA, shared=True)  # every file opened at once reads it
        self._memory: OrderedDict[str, NwbIndex] = OrderedDict()
        self._memory_items = memory_items
        self._build_wait_s = build_wait_s
        self._lock = threading.Lock()

    def get(self, version_key: str) -> NwbIndex | None:
        version_key = _stored_key(version_key)
        with self._lock:
            if version_key in self._memory:
                self._memory.move_to_end(version_key)
                return self._memory[version_key]
        with self._db.read() as db:
            row = db.execute("SELECT payload FROM nwb_index WHERE version_key = ?", (version_key,)).fetchone()
        if row is None:
            return None
        index = NwbIndex.from_bytes(row[0])
        self._remember(version_key, index)
        return index

    def put(self, version_key: str, source: str, index: NwbIndex) -> None:
        version_key = _stored_key(version_key)
        payload = index.to_bytes()
        with self._db.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO nwb_index VALUES (?, ?, ?, ?)",
                (version_key, source, time.time(), payload),
            )
        self._remember(version_key, index)

    @contextmanager
    def building(self, version_key: str) -> Iterator[bool]:
        """Hold the build of ``version_key`` for every process on this workspace (see the module docstring);
        check ``get`` again inside. Yields False when another builder held it past ``build_wait_s``."""
        with build_lock(self.workspace, f"nwb-index-{_stored_key(version_key)}", self._build_wait_s) as held:
            yield held

    def _remember(self, version_key: str, index: NwbIndex) -> None:
        with self._lock:
            self._memory[version_key] = index
            self._memory.move_to_end(version_key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)


def _stored_key(version_key: str) -> str:
    """The key an index of this file version is kept under by this code's ``INDEX_FORMAT``."""
    return f"v{INDEX_FORMAT}:{version_key}"


_STORES: dict[Path, IndexStore] = {}
_STORES_LOCK = threading.Lock()


def workspace_index_store(workspace: Path) -> IndexStore:
    """The process's one store of ``workspace``'s indexes, for code that opens files one after another
    (jobs, commands): a store of its own each time would keep a SQLite connection open until the garbage
    collector found it (a store sits in reference cycles), so a server running many jobs held files open."""
    key = Path(workspace).resolve()
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = IndexStore(key)
        return store
