"""A remote file for h5py: remfile with block caches, exact data reads, and batched metadata reads.

remfile reads HDF5 over HTTP in growing chunks with an optional disk cache. Added here
(requests themselves go through ``range_transport``: timed, counted, checked):

* metadata is cached in 32 KB blocks (memory, then a flat per-version disk cache written by
  one thread, a batch's blocks after the batch), so scattered object headers cost a block
  each, not remfile's 100 KB;
* reads of at least ``DIRECT_READ_BYTES`` (chunks of data) fetch exactly their bytes, in
  parallel parts, past the block caches, so a data view reads what it shows; the last
  64 MB of them are kept in memory for repeats. ``fetch_spans`` fetches the ranges a read
  is about to ask for (a window's chunks) with concurrent requests into that memory, so
  HDF5's chunk-after-chunk reads cost one round trip together;
* inside ``batch_reads`` (``engines.io.read_batch``) reads that miss are fetched together:
  about one round trip per pointer hop of an HDF5 tree, not one per object;
* the first read that misses fetches what the caller's ``root`` follower points to (for HDF5,
  the root group's metadata) with concurrent requests, so opening a file does not walk it
  one structure at a time;
* fetch threads and their keep-alive connections are shared by every open file.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol

from remfile.RemFile import RemFile as _RemFile

from engines.io.block_cache import DiskBlocks, flush_disk_writes
from engines.io.policy import SourcePolicy
from engines.io.range_transport import HttpProbe, RangeSession, RequestStats, get_range, pool_map, pool_submit
from engines.io.read_batch import BytesPending, ReadBatch, current_batch

__all__ = [
    "BLOCK_SIZE",
    "DIRECT_READ_BYTES",
    "RangeFile",
    "RootFollower",
    "merge_spans",
    "reader_of",
    "request_parts",
]

BLOCK_SIZE = 32 * 1024
"""Grid of the metadata cache. An object header, its neighbours and small heaps usually share a block;
smaller blocks cost more round trips (less locality), bigger ones more bytes."""

DIRECT_READ_BYTES = 1 << 20
"""Reads at least this big go to the server for exactly their bytes, past the block caches."""

_PART_BYTES = 8 << 20
_MEMORY_CACHE_BYTES = 32 << 20
"""Blocks kept in memory per open file (remfile drops the older half beyond this); the disk cache
keeps them all."""
_RECENT_BYTES = 64 << 20
"""Direct reads kept for a repeat: HDF5 caches no chunk over 1 MB, so a search that touches one
chunk many times would otherwise download it each time."""
_SPAN_GAP_BYTES = 64 * 1024
"""Ranges fetched ahead of a read at most this far apart share a request (small chunks of one dataset)."""
_READ_AHEAD_BYTES = 1 << 20
_MERGE_GAP_BLOCKS = 2
"""Wanted blocks at most this many blocks apart are fetched in one request (up to 64 KB more, a request
less)."""


def merge_spans(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Byte ranges as ``fetch_spans`` requests them: clipped to the file, sorted, and those at most 64 KB
    apart joined (a request saved costs at most 64 KB more). Also how a window's cost is estimated."""
    merged: list[list[int]] = []
    for start, stop in sorted((max(a, 0), min(b, length)) for a, b in spans):
        if stop <= start:
            continue
        if merged and start - merged[-1][1] <= _SPAN_GAP_BYTES:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [(a, b) for a, b in merged]


def request_parts(merged: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The requests ``fetch_spans`` makes for merged ranges: long ones split into 8 MB parts."""
    return [
        (a, min(a + _PART_BYTES, stop)) for start, stop in merged for a in range(start, stop, _PART_BYTES)
    ]


class RootFollower(Protocol):
    """What the first read that misses fetches: the ranges the cached bytes point to, hop by hop."""

    def follow(self, peek: Callable[[int, int], bytes | None]) -> list[tuple[int, int]]: ...


_readers: weakref.WeakValueDictionary[str, RangeFile] = weakref.WeakValueDictionary()
"""Open range readers by their ``repr``, which h5py uses as the name of a file opened from a file object."""


def reader_of(h5: Any) -> RangeFile | None:
    """The ``RangeFile`` an h5py file reads through, or None (a local or LINDI file). No I/O."""
    name = getattr(h5, "filename", None)
    return _readers.get(name) if isinstance(name, str) else None


class RangeFile(_RemFile):  # type: ignore[misc]  # remfile has no type hints
    """remfile over a probed URL: counted, time-limited, disk-cached per file version, batchable.

    Small reads go through a block cache (memory, then the per-version disk cache, then the
    server with remfile's read-ahead for sequential reads); reads of ``DIRECT_READ_BYTES``
    or more fetch exactly their bytes.
    """

    _position: int
    """remfile's read position (remfile declares nothing: typed here)."""

    def __init__(
        self,
        probe: HttpProbe,
        policy: SourcePolicy,
        stats: RequestStats,
        root: RootFollower | None = None,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        """``root``, when given, says what the first read that misses fetches with concurrent requests
        (for HDF5: ``engines.nwb._h5_superblock.root_chaser`` over the probe's bytes)."""
        super().__init__(
            probe.final_url,
            _size=probe.size,
            disk_cache=DiskBlocks(policy.cache_dir / "http" / probe.version_key[:32]),
            _min_chunk_size=block_size,
            _max_cache_size=_MEMORY_CACHE_BYTES,
            _max_chunk_size=max(_READ_AHEAD_BYTES, block_size),
        )
        self.session = RangeSession(policy, stats)
        self._block = block_size
        self._policy = policy
        self._stats = stats
        self._recent: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.blocks_stored = 0
        """Blocks cached so far (a batch re-parses cached metadata only when this grew)."""
        self._root = root
        _readers[repr(self)] = self
        for index in range(len(probe.first_chunk) // block_size + 1):
            piece = probe.first_chunk[index * block_size : (index + 1) * block_size]
            if len(piece) == block_size or (piece and index * block_size + len(piece) == probe.size):
                self._chunks[index] = piece
                self._chunk_indices.append(index)

    def read(self, size: int | None = None) -> bytes:
        if size is None:
            raise ValueError("RangeFile.read needs a size.")
        start: int = self._position
        stop: int = min(start + size, self.length)
        if stop <= start:
            return b""
        first = start // self._block
        if (stop - 1) // self._block == first:  # HDF5 reads metadata in small pieces, mostly of cached blocks
            data: bytes | None = self._chunks.get(first)
            if data is not None:
                self._position = stop
                return data[start - first * self._block : stop - first * self._block]
        blocks = range(first, (stop - 1) // self._block + 1)
        batch: ReadBatch | None = current_batch()
        if batch is None and self._recent:
            kept = self._kept(start, stop)
            if kept is not None:
                self._position = stop
                return kept
        if batch is None and stop - start >= DIRECT_READ_BYTES:
            if all(b in self._chunks for b in blocks):
                return self._remfile_read(stop - start)
            self._position = stop
            return self._direct(start, stop)
        missing = [b for b in blocks if not self._have(b)]
        if missing and batch is not None:
            batch.want(self, missing, miss=True)
            raise BytesPending(f"bytes {start}-{stop - 1} are not cached yet")
        if missing and self._root is not None:
            self.warm_root()
        return self._remfile_read(stop - start)

    def _remfile_read(self, size: int) -> bytes:
        """remfile's own read: through the block caches, then the server with read-ahead."""
        data: bytes = super().read(size)
        return data

    def warm_root(self, also: Iterable[int] = ()) -> None:
        """Fetch what opening the file reads of the root group, a round trip per pointer hop (usually one
        or two) instead of one per structure; at the latest at the first read the cache misses. Called
        before h5py opens the file, its requests wait outside h5py's global lock, which a read from
        inside the open holds: files opened at once would otherwise wait for each other's round trips.
        ``also``: more blocks to fetch with the first wave, when there is one (the root lies beyond what
        is cached): what the caller expects to read next, at no extra round trip."""
        chaser, self._root = self._root, None
        extra = set(also)
        while chaser is not None:
            found = chaser.follow(self.peek)
            missing = {
                b for offset, length in found for b in self.blocks(offset, length) if not self._have(b)
            }
            if not missing:
                return
            self.fetch_blocks(missing | extra)
            extra = set()

    def prefetch(self, offsets: Iterable[int], length: int = 1) -> int:
        """Get the blocks holding ``length`` bytes from each offset: now, concurrently, or inside
        ``batch_reads`` with the batch's next fetch. Returns the number of requests made now."""
        blocks = {b for o in offsets for b in self.blocks(o, length)}
        batch: ReadBatch | None = current_batch()
        if batch is not None:
            batch.want(self, blocks, miss=False)
            return 0
        return self.fetch_blocks(blocks)

    def blocks(self, offset: int, length: int) -> range:
        """Indexes of the cache blocks holding bytes [offset, offset + length) (clipped to the file)."""
        stop = min(offset + max(length, 1), self.length)
        return range(offset // self._block, (stop - 1) // self._block + 1) if 0 <= offset < stop else range(0)

    def peek(self, offset: int, length: int) -> bytes | None:
        """Cached bytes [offset, offset + length), clipped to the file; None if any are not cached. No
        requests."""
        blocks = self.blocks(offset, length)
        if len(blocks) == 1:  # most structures lie in one block: no join, no copy of the block
            if not self._have(blocks.start):
                return None
            skip = offset - blocks.start * self._block
            piece: bytes = self._chunks[blocks.start]
            return piece[skip : skip + length]
        if not all(self._have(b) for b in blocks):
            return None
        data = b"".join(self._chunks[b] for b in blocks)
        skip = offset - blocks.start * self._block if blocks else 0
        return data[skip : skip + length]

    def fetch_blocks(self, blocks: Iterable[int]) -> int:
        """Fetch the blocks not cached yet, concurrently, and wait for them. Returns the requests made."""
        futures = self.request_blocks(blocks)
        for future, _ in futures:
            future.result()
        return len(futures)

    def request_blocks(
        self, blocks: Iterable[int], keep_on_disk: bool = True
    ) -> list[tuple[Future[None], list[int]]]:
        """Start fetching the blocks not cached yet on the shared fetch threads; runs of nearby blocks share a
        request. Each request keeps its blocks in memory, and unless told otherwise hands them to the disk
        cache. Returns (future, blocks) per request; a future's result is None or raises
        ``SourceUnreachable``."""
        wanted = sorted(b for b in set(blocks) if not self._have(b) and b * self._block < self.length)
        runs: list[list[int]] = []
        for block in wanted:
            if runs and block - runs[-1][1] <= _MERGE_GAP_BLOCKS + 1:
                runs[-1][1] = block
            else:
                runs.append([block, block])
        keep = partial(self._fetch_and_keep, keep_on_disk=keep_on_disk)
        return [
            (
                pool_submit(keep, (first * self._block, min((last + 1) * self._block, self.length))),
                list(range(first, last + 1)),
            )
            for first, last in runs
        ]

    def _fetch_and_keep(self, span: tuple[int, int], keep_on_disk: bool) -> None:
        data = self._fetch(span)
        for offset in range(0, len(data), self._block):
            self._store((span[0] + offset) // self._block, data[offset : offset + self._block], keep_on_disk)

    def write_to_disk_cache(self, blocks: Iterable[int]) -> None:
        """Hand these blocks to the disk cache if they are still in memory (see
        ``ReadBatch.write_behind``)."""
        if self._disk_cache:
            for block in blocks:
                piece = self._chunks.get(block)
                if piece is not None:
                    self._disk_cache.set(self._cache_key(block), piece)

    def has_block(self, block: int) -> bool:
        """Whether the block is cached (memory or disk); no requests."""
        return self._have(block)

    def _have(self, block: int) -> bool:
        """Whether the block is in memory, loading it from the disk cache when it is there."""
        if block in self._chunks:
            return True
        value = self._disk_cache.block(f"{self._block}-{block}") if self._disk_cache else None
        if value:
            self._chunks[block] = value
            self._chunk_indices.append(block)
            self.blocks_stored += 1
        return bool(value)

    def _store(self, block: int, piece: bytes, keep_on_disk: bool = True) -> None:
        if block not in self._chunks:
            self._chunks[block] = piece
            self._chunk_indices.append(block)
            self.blocks_stored += 1
            if self._disk_cache and keep_on_disk:
                self._disk_cache.set(self._cache_key(block), piece)

    def _cache_key(self, block: int) -> str:
        return f"{self._url}|{self._block}|{block}"

    def fetch_spans(self, spans: Iterable[tuple[int, int]]) -> int:
        """Fetch byte ranges that reads are about to ask for (the chunks of a data window) with concurrent
        requests, and keep them for those reads. Returns the requests made.

        HDF5 reads a selection's chunks one after another, each a round trip; fetched here first,
        a window costs one round trip. Ranges at most 64 KB apart share a request, long ones are
        split into 8 MB parts; ranges already kept cost nothing. The kept bytes are bounded (the
        last 64 MB), so callers fetch a window in groups well under that.
        """
        wanted = [(a, b) for a, b in spans if self._kept(max(a, 0), min(b, self.length)) is None]
        merged = merge_spans(wanted, self.length)
        parts = request_parts(merged)
        data = iter(pool_map(self._fetch, parts))
        for start, stop in merged:
            self._keep(start, stop, b"".join(next(data) for _ in range(start, stop, _PART_BYTES)))
        return len(parts)

    def read_span(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop) without moving the read position (safe beside h5py's reads): kept ones
        from ``fetch_spans``, else fetched now. For callers that decode bytes themselves."""
        return self._direct(max(start, 0), min(stop, self.length))

    def _kept(self, start: int, stop: int) -> bytes | None:
        """Bytes [start, stop) from a recent direct read holding them, else None."""
        with self._recent_lock:
            for span, data in reversed(self._recent.items()):
                if span[0] <= start and stop <= span[1]:
                    self._recent.move_to_end(span)
                    return data[start - span[0] : stop - span[0]]
        return None

    def _keep(self, start: int, stop: int, data: bytes) -> None:
        if len(data) > _RECENT_BYTES:
            return
        with self._recent_lock:
            self._recent[(start, stop)] = data
            while sum(len(kept) for kept in self._recent.values()) > _RECENT_BYTES:
                self._recent.popitem(last=False)

    def _direct(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop) from a recent direct read holding them, else from the server (then kept)."""
        kept = self._kept(start, stop)
        if kept is not None:
            return kept
        data = self._get(start, stop)
        self._keep(start, stop, data)
        return data

    def _get(self, start: int, stop: int) -> bytes:
        """Exactly bytes [start, stop), in parallel parts of up to 8 MB; not cached."""
        spans = [(a, min(a + _PART_BYTES, stop)) for a in range(start, stop, _PART_BYTES)]
        parts = pool_map(self._fetch, spans) if len(spans) > 1 else [self._fetch(spans[0])]
        return b"".join(parts)

    def _fetch(self, span: tuple[int, int]) -> bytes:
        return get_range(self._url, self._policy, self._stats, *span)

    def close(self) -> None:
        self.session.close()
        flush_disk_writes()
