"""One SQLite database file in the workspace, used through short transactions from any thread or process.

Every store that must survive a restart (jobs, curation decisions, conversations, NWB indexes)
keeps its rows this way: a connection per call (safe across threads and processes), writes
that take SQLite's write lock up front (``BEGIN IMMEDIATE``: read-then-write sequences are
atomic) and roll back on any error, and the WAL journal on a local disk. On a network
filesystem (NFS, SMB, Lustre, ...), where workers on several hosts share a workspace, WAL's
shared memory does not work, so the rollback journal is used; it relies on POSIX locks.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engines._filesystem import is_network_filesystem

__all__ = ["WorkspaceDb"]


class WorkspaceDb:
    """``write()`` and ``read()`` give a connection for one transaction; the schema is applied on creation.

    ``shared=True`` keeps one connection for all of this process's threads (taken in turn): for a store
    read and written many times a second (the NWB index, by every file opened at once), where opening
    and closing a connection per call costs more CPU than the statement. A forked child opens its own.
    """

    def __init__(
        self,
        path: Path,
        schema: str,
        timeout_s: float = 30.0,
        foreign_keys: bool = False,
        shared: bool = False,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self.foreign_keys = foreign_keys
        self.journal_mode = "DELETE" if is_network_filesystem(self.path.parent) else "WAL"
        self._shared = shared
        self._kept: tuple[int, sqlite3.Connection] | None = None
        self._turn = threading.RLock()
        self._set_journal_mode()
        with self.write() as db:
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)

    def _set_journal_mode(self) -> None:
        """Switch the file's journal mode once, waiting out other processes doing the same.

        Changing the mode needs an exclusive lock, and SQLite answers "database is locked" at
        once instead of calling its busy handler, so several processes opening a new workspace
        together would fail; they retry here until ``timeout_s``.
        """
        deadline = time.monotonic() + self.timeout_s
        pause_s = 0.01
        while True:
            db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            try:
                current = db.execute("PRAGMA journal_mode").fetchone()[0]
                if current.upper() != self.journal_mode:
                    db.execute(f"PRAGMA journal_mode={self.journal_mode}")
                return
            except sqlite3.OperationalError as error:
                waiting_helps = "locked" in str(error) or "busy" in str(error)
                if not waiting_helps or time.monotonic() > deadline:
                    raise
            finally:
                db.close()
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.25)

    def connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        """A new connection in autocommit mode (transactions are explicit); rows read as ``sqlite3.Row``."""
        db = sqlite3.connect(
            self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=check_same_thread
        )
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL" if self.journal_mode == "WAL" else "PRAGMA synchronous=FULL")
        if self.foreign_keys:
            db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction: a new one closed after, or (``shared``) the kept one, in turn."""
        if not self._shared:
            db = self.connect()
            try:
                yield db
            finally:
                db.close()
            return
        with self._turn:
            if self._kept is None or self._kept[0] != os.getpid():
                self._kept = (os.getpid(), self.connect(check_same_thread=False))
            yield self._kept[1]

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the write lock from its first statement; rolled back on any error."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # also when COMMIT failed: a kept connection must not stay inside it
                    db.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as db:
            yield db
