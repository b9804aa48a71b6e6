"""Open an NWB file from any source and hand out its index and data, lazily.

``open_nwb`` costs, for a file whose index is already in the workspace: one validation
request (remote) or one ``stat`` (local), and no HDF5 parsing at all. The h5py file is
opened only when a view first reads data; pynwb objects only when a view needs them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import h5py

from engines.io.block_cache import writes_deferred
from engines.io.errors import SourceError
from engines.io.policy import Source, SourcePolicy, parse_source, resolve_local_path
from engines.io.range_file import RangeFile
from engines.io.range_transport import HttpProbe, RequestStats, probe_http
from engines.io.remote_sources import dandi_to_https, gs_to_https, s3_to_https
from engines.nwb._h5_superblock import root_chaser
from engines.nwb._walk import Prefetcher, walk_h5py
from engines.nwb.errors import NwbOpenError, NwbReadError, ObjectNotFound
from engines.nwb.index import NwbIndex, ObjectInfo, normalize_path
from engines.nwb.index_store import IndexStore
from engines.nwb.lindi_source import open_lindi_file, open_lindi_json, refuse_remote_lindi_tar
from engines.nwb.lineage import compute_lineage

__all__ = ["NwbFile", "open_nwb", "index_scope"]

log = logging.getLogger(__name__)


class _OpenHandles:
    """The h5py file and pynwb reader of one ``NwbFile``: closed with it, or at interpreter exit.

    HDF5 closes files left open at exit by calling back into their Python file objects (the
    remote reader), which are gone by then: the process would crash after its work is done.
    """

    def __init__(self) -> None:
        self.h5: Any = None
        self.io: Any = None

    def close(self) -> None:
        if self.io is not None:
            self.io.close()
        elif self.h5 is not None and hasattr(self.h5, "close"):
            self.h5.close()
        self.h5 = self.io = None


class NwbFile:
    """One open NWB file: its index now, its bytes on demand."""

    def __init__(
        self,
        source: Source,
        label: str,
        version_key: str,
        index: NwbIndex,
        opener: Callable[[], Any],
        stats: RequestStats | None,
        h5: Any = None,
        workspace: Path | None = None,
        walk_scope: Callable[[Any, str], NwbIndex] | None = None,
    ) -> None:
        self.source = source
        self.label = label
        self.version_key = version_key
        self.index = index
        self.stats = stats
        self.workspace = workspace
        """The workspace whose results (rechunked copies of data sets) reads of this file may use."""
        self._opener = opener
        self._handles = _OpenHandles()
        self._handles.h5 = h5
        self._pynwb: Any = None
        self._lock = threading.RLock()
        self._walk_scope = walk_scope
        weakref.finalize(self, self._handles.close)

    def cover(self, path: str) -> None:
        """Make a scoped index (``index_scope``) cover ``path`` too, walking its branch with this open file
        (the ancestors' metadata is in its cache already); nothing for a whole index. The index grows, it
        never loses objects, so readers holding the old one stay right."""
        with self._lock:
            if self.index.covers(path) or self._walk_scope is None:
                return
            self.index = self.index.joined(self._walk_scope(self.h5, normalize_path(path)))

    @property
    def h5(self) -> Any:
        """The h5py(-like) file; opened on first use (for remote files: one request, the superblock is
        cached)."""
        with self._lock:
            if self._handles.h5 is None:
                self._handles.h5 = self._opener()
            return self._handles.h5

    def node(self, path: str) -> ObjectInfo:
        return self.index.get(path)

    def resolve(self, path: str) -> ObjectInfo:
        """Follow soft links to the object they name."""
        info = self.index.get(path)
        seen = {info.path}
        while info.kind == "soft_link" and info.link_target:
            info = self.index.get(info.link_target)
            if info.path in seen:
                raise NwbReadError(f"'{path}' is a link that points back to itself.")
            seen.add(info.path)
        return info

    def dataset(self, path: str) -> h5py.Dataset:
        info = self.resolve(path)
        if info.kind != "dataset":
            raise ObjectNotFound(f"'{path}' is not a dataset.")
        if info.error:
            raise NwbReadError(f"'{path}' cannot be read: {info.error}")
        try:
            return self.h5[info.path]
        except KeyError as exc:
            raise ObjectNotFound(f"This file has no dataset at '{path}'.") from exc
        except OSError as exc:
            raise NwbReadError(f"Reading '{path}' failed: {exc}") from exc

    def pynwb_object(self, path: str = "/") -> Any:
        """The pynwb container at ``path``; the whole file's container tree is built once, here only."""
        import pynwb

        with self._lock:
            if self._pynwb is None:
                try:
                    self._handles.io = pynwb.NWBHDF5IO(file=self.h5, mode="r", load_namespaces=True)
                    self._pynwb = self._handles.io.read()
                except (
                    Exception
                ) as exc:  # pynwb raises many types for broken files; the user sees one message
                    raise NwbReadError(
                        "pynwb cannot build this file's objects "
                        f"({exc.__class__.__name__}: {str(exc)[:300]}). "
                        "The object tree and raw HDF5 views still work."
                    ) from exc
        if path in ("", "/"):
            return self._pynwb
        for container in self._pynwb.objects.values():
            builder = self._handles.io.manager.get_builder(container)
            if builder is not None and "/" + builder.path.partition("/")[2] == path:
                return container
        raise ObjectNotFound(f"pynwb has no object at '{path}'.")

    def close(self) -> None:
        with self._lock:
            self._handles.close()
            self._pynwb = None


def _check_nwb(h5: Any, label: str) -> None:
    version = h5["/"].attrs.get("nwb_version")
    if version is None:
        if "nwb_version" in h5:
            raise NwbOpenError(f"{label} is an NWB 1.x file. Convert it to NWB 2 (pynwb) to browse it here.")
        raise NwbOpenError(f"{label} is an HDF5 file but not an NWB file (no nwb_version attribute).")
    if isinstance(version, bytes):
        version = version.decode()
    if not str(version).startswith("2"):
        raise NwbOpenError(f"{label} is NWB version {version}; only NWB 2.x is supported.")


def _open_h5(target: Any, label: str) -> h5py.File:
    try:
        return h5py.File(target, "r")
    except SourceError:
        raise
    except (OSError, ValueError) as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, SourceError):
            raise cause from exc
        text = (
            str(exc).replace(str(target), label) if isinstance(target, str) else str(exc)
        )  # h5py names the real path
        if "truncated" in text.lower():
            raise NwbOpenError(f"{label} is truncated (an incomplete download?).") from exc
        raise NwbOpenError(f"{label} is not a readable HDF5 file ({text[:200]}).") from exc


def _build_index(h5: Any, label: str, prefetcher: Prefetcher | None, scope: str | None = None) -> NwbIndex:
    _check_nwb(h5, label)
    index = walk_h5py(
        h5, prefetcher, scope
    )  # routes LINDI (an h5py.File subclass) to the generic walk itself
    types = {o.neurodata_type for o in index.objects.values() if o.neurodata_type}

    def extension_specs():
        known = {"core", "hdmf-common", "hdmf-experimental"}
        for info in index.objects.values():
            parts = info.path.split("/")
            if (
                info.kind == "dataset"
                and len(parts) == 5
                and parts[1] == "specifications"
                and parts[2] not in known
            ):
                value = h5[info.path][()]
                yield value.decode() if isinstance(value, bytes) else str(value)

    index.lineage = compute_lineage(types, extension_specs)
    return index


_SCOPE: ContextVar[str | None] = ContextVar("nwb_index_scope", default=None)


@contextmanager
def index_scope(path: str) -> Iterator[None]:
    """Inside it, an ``open_nwb`` of a file the store has no whole index of walks only the group ``path``
    (its branch and ancestors; ``NwbIndex.scope``) and keeps that index instead: what a read of one table
    of many files needs, at a fraction of a whole first open. A whole index already stored is used."""
    token = _SCOPE.set(normalize_path(path))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _version_key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def open_nwb(text: str, policy: SourcePolicy, store: IndexStore) -> NwbFile:
    """Open a local path or an http(s)/s3/gs/dandi URL as an ``NwbFile``.

    Raises a typed ``SourceError`` (``NwbOpenError`` when the bytes are no NWB file) whose message
    says what to do. First open of a remote file: the probe plus about one request per tree level;
    later opens: the probe only.
    """
    source = parse_source(text)
    if source.kind == "local":
        path = resolve_local_path(source.location, policy)
        stat = path.stat()
        key = _version_key("local", path, stat.st_size, stat.st_mtime_ns)
        label = Path(source.location).name or path.name  # as typed: a symlink's target is not shown
        opener = (
            (lambda: open_lindi_file(path, source.location, policy))
            if source.is_lindi
            else (lambda: _open_h5(str(path), label))
        )
        return _finish(source, label, key, opener, None, store, prefetcher=None)

    https = {"http": lambda u, p: u, "s3": s3_to_https, "gs": gs_to_https, "dandi": dandi_to_https}[
        source.kind
    ]
    url = https(source.location, policy)
    stats = RequestStats()
    probe = probe_http(url, policy, stats)
    label = Path(source.location.split("?")[0].rstrip("/")).name or source.location
    if source.is_lindi:
        is_json = source.location.split("?")[0].endswith(".lindi.json")
        opener = (
            (lambda: open_lindi_json(probe, policy, stats))
            if is_json
            else (lambda: refuse_remote_lindi_tar(label))
        )
        return _finish(source, label, probe.version_key, opener, stats, store, None)
    range_file = _LazyRangeFile(probe, policy, stats)
    with writes_deferred():  # the blocks the tree's walk fetches go to the disk cache once it is done
        return _finish(
            source,
            label,
            probe.version_key,
            lambda: _open_h5(range_file.get(), label),
            stats,
            store,
            prefetcher=range_file,
        )


TAIL_BYTES = 256 * 1024
"""A remote file's last bytes, fetched with its root group when a table read across files opens it
(``index_scope``) and the probe (the file's start) lacks the root: such a file's writer (h5py, so pynwb)
flushed most of its metadata (group headers, link tables, heaps) at its end when it closed it, so the
table's branch is mostly found there instead of a round trip per tree level (one session's units and
trials: 2 requests instead of 7). A full open (the browser) walks the whole tree, where the tail is
mostly data it never reads (the open benchmark's first-open bytes: 1.0x pynwb's with it, 0.54x without),
so it does not fetch it."""


class _LazyRangeFile:
    """Create the range reader only when bytes past the probe are needed."""

    def __init__(self, probe: HttpProbe, policy: SourcePolicy, stats: RequestStats) -> None:
        self._args = (probe, policy, stats)
        self._tail = TAIL_BYTES if _SCOPE.get() is not None else 0
        self._file: RangeFile | None = None

    def get(self) -> RangeFile:
        if self._file is None:
            probe, policy, stats = self._args
            self._file = RangeFile(probe, policy, stats, root_chaser(probe.first_chunk))
            tail = max(len(probe.first_chunk), probe.size - self._tail)
            # before h5py opens it (see ``RangeFile.warm_root``), with the file's end in the same wave
            self._file.warm_root(also=self._file.blocks(tail, probe.size - tail) if self._tail else [])
        return self._file

    def prefetch(self, offsets: list[int], length: int = 1) -> int:
        return self.get().prefetch(offsets, length)

    def peek(self, offset: int, length: int) -> bytes | None:
        return self.get().peek(offset, length)


def _finish(
    source: Source,
    label: str,
    key: str,
    opener: Callable[[], Any],
    stats: RequestStats | None,
    store: IndexStore,
    prefetcher: Any,
) -> NwbFile:
    index = store.get(key)
    scope = _SCOPE.get()
    if index is None and scope is not None:
        return _finish_scoped(source, label, key, opener, stats, store, prefetcher, scope)
    if index is None:
        with store.building(
            key
        ):  # another process or session indexing this version: wait, then read its index
            index = store.get(key)
            if index is None:
                h5 = opener()
                index = _timed_index(h5, label, prefetcher, None)
                store.put(key, source.location, index)
                return NwbFile(source, label, key, index, opener, stats, h5=h5, workspace=store.workspace)
    return NwbFile(source, label, key, index, opener, stats, workspace=store.workspace)


def _finish_scoped(
    source: Source,
    label: str,
    key: str,
    opener: Callable[[], Any],
    stats: RequestStats | None,
    store: IndexStore,
    prefetcher: Any,
    scope: str,
) -> NwbFile:
    """The file with an index of ``scope``'s branch only (see ``index_scope``), kept in the store under its
    own key: a second read of the same table opens as fast as a whole index would. Two builders of the
    same branch at once only do the (small) work twice, so no build lock is taken."""

    def build(h5: Any, scope: str) -> NwbIndex:
        index = _timed_index(h5, label, prefetcher, scope)
        store.put(f"{key}#scope={scope}", source.location, index)
        return index

    def walk_scope(h5: Any, scope: str) -> NwbIndex:
        kept = store.get(f"{key}#scope={scope}")
        return build(h5, scope) if kept is None else kept

    index = store.get(f"{key}#scope={scope}")
    h5 = None
    if index is None:  # looked up once: build without asking the store again
        h5 = opener()
        index = build(h5, scope)
    return NwbFile(source, label, key, index, opener, stats, h5, store.workspace, walk_scope)


def _timed_index(h5: Any, label: str, prefetcher: Any, scope: str | None) -> NwbIndex:
    """``_build_index``, logged; the h5py file is closed when the bytes are no NWB file."""
    started = time.perf_counter()
    try:
        index = _build_index(h5, label, prefetcher, scope)
    except SourceError:
        if hasattr(h5, "close"):
            h5.close()
        raise
    log.info("indexed %s (%d objects) in %.2f s", label, len(index.objects), time.perf_counter() - started)
    return index
