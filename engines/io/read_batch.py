"""Reads that note the bytes they miss and fetch them together: one round trip per pointer hop.

Inside ``batch_reads`` a ``RangeFile`` read of uncached bytes fails at once with
``BytesPending`` and notes the blocks it needed; ``ReadBatch.send`` requests them at once
(with what a ``follow`` function finds the cached bytes pointing to) and the caller goes on
with other reads while they travel, waiting (``ReadBatch.wait``) only when none can go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engines.io.range_file import RangeFile

__all__ = ["BytesPending", "Follow", "ReadBatch", "batch_reads", "current_batch"]

_WRITE_BEHIND_BLOCKS = 256
"""Blocks a batch fetches are handed to the disk cache at its end or every this many (8 MB), well under
the memory cache, which drops older blocks beyond 32 MB."""


class BytesPending(Exception):
    """A read inside ``batch_reads`` needs bytes that are not cached; they are noted in the batch."""


Follow = Callable[[Callable[[int, int], "bytes | None"]], list[tuple[int, int]]]
"""Given a way to peek at cached bytes, the (offset, length) ranges worth fetching next."""


class ReadBatch:
    """Blocks that reads inside ``batch_reads`` found missing, requested at once, and waited for together.

    Requests go out as soon as a read misses (``send``) and run on the shared fetch threads
    while the caller goes on with other reads; ``wait`` blocks until some of them are in.
    ``follow``, when given, is asked at every ``chase`` which further ranges the cached bytes
    point to (see ``engines.nwb._h5_pointers``); they are requested too, ahead of need.
    """

    def __init__(self, follow: Follow | None = None) -> None:
        self._follow = follow
        self._files: dict[int, RangeFile] = {}
        self._wanted: dict[int, set[int]] = {}
        self._in_flight: dict[Future[None], tuple[int, list[int]]] = {}
        self._requested: set[tuple[int, int]] = set()
        self._landed: dict[int, list[int]] = {}
        self.misses = 0
        """Reads that failed for missing bytes so far: a caller compares it before and after a step."""
        self.last_missing: list[tuple[int, int]] = []
        """(file, block) pairs the latest failed read needs: the caller retries it once they are cached."""
        self._arrived = -1

    def want(self, file: RangeFile, blocks: Iterable[int], miss: bool) -> None:
        key = id(file)
        self._files[key] = file
        blocks = list(blocks)
        if miss:
            self.misses += 1
            self.last_missing = [(key, b) for b in blocks]
        self._wanted.setdefault(key, set()).update(b for b in blocks if (key, b) not in self._requested)

    @property
    def pending(self) -> bool:
        return bool(self._in_flight) or any(self._wanted.values())

    def cached(self, blocks: Iterable[tuple[int, int]]) -> bool:
        return all(self._files[key].has_block(block) for key, block in blocks)

    def send(self) -> int:
        """Request every wanted block not cached or requested yet; returns the requests sent. Does not
        wait."""
        wanted, self._wanted = self._wanted, {}
        sent = 0
        for key, blocks in wanted.items():
            for future, span_blocks in self._files[key].request_blocks(blocks, keep_on_disk=False):
                self._in_flight[future] = (key, span_blocks)
                self._requested.update((key, b) for b in span_blocks)
                sent += 1
        return sent

    def chase(self) -> int:
        """Request what the cached metadata points to (``follow``), and what reads asked for; no waiting.

        ``follow`` runs only when blocks arrived since it last ran: nothing else can change its answer.
        """
        arrived = sum(file.blocks_stored for file in self._files.values())
        if self._follow is not None and arrived != self._arrived:
            self._arrived = arrived
            for file in self._files.values():
                self.want(
                    file,
                    {b for offset, length in self._follow(file.peek) for b in file.blocks(offset, length)},
                    miss=False,
                )
        return self.send()

    def wait(self) -> None:
        """Until at least one request in flight is in (all that are in by then are collected).

        A failed request raises its ``SourceUnreachable`` here. Returns at once when none is in flight.
        """
        if not self._in_flight:
            return
        done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
        for future in done:
            key, blocks = self._in_flight.pop(future)
            self._requested.difference_update((key, b) for b in blocks)
            self._landed.setdefault(key, []).extend(blocks)
        if sum(len(blocks) for blocks in self._landed.values()) >= _WRITE_BEHIND_BLOCKS:
            self.write_behind()
        for future in done:
            future.result()

    def write_behind(self) -> None:
        """Hand the blocks fetched so far to the disk cache.

        A batch's fetch threads only keep blocks in memory: written as they landed, a spread file's
        230 blocks cost 0.14 s of CPU, more than its 211 requests, taken from the walk. They are
        written when the batch ends, or every ``_WRITE_BEHIND_BLOCKS`` so that the memory cache
        cannot drop them first."""
        landed, self._landed = self._landed, {}
        for key, blocks in landed.items():
            self._files[key].write_to_disk_cache(blocks)


_batches = threading.local()


def current_batch() -> ReadBatch | None:
    """The batch this thread is inside (``batch_reads``), or None."""
    return getattr(_batches, "current", None)


@contextmanager
def batch_reads(follow: Follow | None = None) -> Iterator[ReadBatch]:
    """Within this block (this thread only), ``RangeFile`` reads of uncached bytes raise ``BytesPending``
    and ``RangeFile.prefetch`` only notes its blocks; ``ReadBatch.send`` requests them all at once.

    On leaving, requests still in flight are waited for (their blocks are kept), so no fetch
    thread writes into a file's cache after the block."""
    previous = getattr(_batches, "current", None)
    _batches.current = batch = ReadBatch(follow)
    try:
        yield batch
    finally:
        _batches.current = previous
        while batch._in_flight:
            try:
                batch.wait()
            except Exception:  # already failing or finished: a late failure of a read-ahead changes nothing
                pass
        batch.write_behind()
