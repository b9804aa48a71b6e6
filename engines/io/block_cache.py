"""The disk cache of remote files' blocks: one flat folder per file version, written by one thread.

Blocks reach memory first and are read from there; writing them to disk is off the read's
path, so a slow or full disk costs the cache, never a read. While a file's tree is being read
(``writes_deferred``) the writer waits, up to ``MAX_DEFER_S``: the first open of a remote file
fetches a few hundred small blocks, and writing each (a temporary file, a write, a rename) took
0.1 s of CPU per open on the two cores that were parsing the same blocks (the open benchmark's
spread file: CPU 0.29 s with the writes alongside, 0.19 s without). They are written once the
open is done, while the user looks at the tree.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from engines._filesystem import atomic_write

__all__ = ["DiskBlocks", "flush_disk_writes", "writes_deferred"]

_writer: tuple[int, queue.SimpleQueue[Callable[[], object]]] | None = None
_writer_lock = threading.Lock()
log = logging.getLogger(__name__)

MAX_DEFER_S = 5.0
"""The longest the writer waits for opens in progress: on a server where opens never stop, blocks are still
written, at most this late."""
_opening = 0
_busy_since = 0.0
"""When the opens going on now began (the first of them, when they overlap)."""
_flushing = 0
"""Callers of ``flush_disk_writes`` waiting now: while there are any, nothing waits for opens."""
_opens_done = threading.Condition()


@contextmanager
def writes_deferred() -> Iterator[None]:
    """While inside (a file's tree being read), the cache's disk writes wait, up to ``MAX_DEFER_S``."""
    global _opening, _busy_since
    with _opens_done:
        if _opening == 0:
            _busy_since = time.monotonic()
        _opening += 1
    try:
        yield
    finally:
        with _opens_done:
            _opening -= 1
            _opens_done.notify_all()


def _wait_for_opens() -> None:
    """Until no open is going on, someone flushes, or ``MAX_DEFER_S`` after the current opens began."""
    with _opens_done:
        if _opening and not _flushing:
            deadline = _busy_since + MAX_DEFER_S
            _opens_done.wait_for(
                lambda: _opening == 0 or _flushing > 0, timeout=max(0.0, deadline - time.monotonic())
            )


def _disk_writer() -> queue.SimpleQueue[Callable[[], object]]:
    """The queue of the process's one thread that writes cache blocks (a forked child gets its own):
    written by
    dozens of fetch threads at once, file creations and renames in one folder contend on its lock.

    A plain queue and thread rather than a ``ThreadPoolExecutor``: once in CI a fetch thread hung for good
    inside ``submit`` (on the executor's idle semaphore); ``SimpleQueue.put`` takes no Python lock.
    """
    global _writer
    with _writer_lock:
        if _writer is None or _writer[0] != os.getpid():
            jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
            threading.Thread(target=_write_blocks, args=(jobs,), name="block-writer", daemon=True).start()
            _writer = (os.getpid(), jobs)
        return _writer[1]


def _write_blocks(jobs: queue.SimpleQueue[Callable[[], object]]) -> None:
    while True:
        job = jobs.get()
        _wait_for_opens()
        try:
            job()
        except Exception:  # a full or read-only disk costs the cache, never the read; the thread keeps going
            log.warning("cache block not written", exc_info=True)


class DiskBlocks:
    """remfile's disk-cache interface over one flat folder per file version.

    remfile's own ``DiskCache`` hashes every key into three nested folders, which costs a
    few mkdir calls per block; here a block is one file named by its size and index,
    written under a temporary name and renamed, so a concurrent reader never sees half a block.
    The folder is listed once, so asking for a block that is not there costs no system call.
    Blocks are written by the process's one writer thread, after they are in memory; a write
    that fails (a full disk) only leaves that block uncached.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._names = {name for name in os.listdir(folder) if not name.endswith(".partial")}

    @staticmethod
    def _name(key: str) -> str:
        _, size, index = key.rsplit("|", 2)
        return f"{size}-{index}"

    def get(self, key: str) -> bytes | None:
        return self.block(self._name(key))

    def block(self, name: str) -> bytes | None:
        """The block stored under ``name`` ("<block size>-<index>"), or None; no system call when absent."""
        if name not in self._names:
            return None
        try:
            return (self._folder / name).read_bytes()
        except FileNotFoundError:  # removed by someone clearing the cache
            self._names.discard(name)
            return None

    def set(self, key: str, value: bytes) -> None:
        """Hand the block to the writer thread; it is on disk once ``flush_disk_writes`` returns."""
        _disk_writer().put(partial(self._write, self._name(key), value))

    def _write(self, name: str, value: bytes) -> None:
        atomic_write(self._folder / name, value, durable=False)
        self._names.add(name)


def flush_disk_writes() -> None:
    """Write every cache block handed to the writer so far, opens or not, and wait until they are written (or
    failed to be): a file closed while another is being opened does not wait for that open."""
    global _flushing
    done = threading.Event()
    with _opens_done:
        _flushing += 1
        _opens_done.notify_all()
    try:
        _disk_writer().put(done.set)  # one thread, in order: done when all before it are
        done.wait()
    finally:
        with _opens_done:
            _flushing -= 1
