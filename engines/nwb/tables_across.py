"""Tables across files: one table path (``/units``, ``/intervals/trials``, any DynamicTable) of many NWB
files as one lazily read Polars frame, with ``_nwb_path`` and ``_table_row`` columns.

``scan_table`` opens the files (concurrently, each through ``open_nwb``: the source policy, and
the index store, so a reopen costs one request) and learns every file's columns from its index,
without reading data. A file the workspace has no index of is walked only as far as the table's
branch (``index_scope``), not the whole tree: that is most of a first open's work. A file that
fails (unreachable, not NWB, no such table) becomes a ``FileFailure`` in ``TableScan.errors``, not
the end of the query. ``TableScan.lazy()`` is a ``LazyFrame`` over a Polars IO source
(``register_io_source``), so Polars hands the source the columns a query needs and its filter:
only those columns are read, and a filter's own columns are read first, so a file none of whose
rows match costs nothing more, and the others only the rows between their first and last match.
Files are read concurrently (``workers`` at a time), each reported to ``progress``; ``cancel``
stops between files with ``Cancelled``.

lazynwb (``scan_nwb``/``get_df``) does the same over fsspec/remfile; this one reads through the
server's policy, its index store and its range reader (one round trip per file for the columns),
and keeps per-file errors beside the frame for the page to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from engines._progress import Cancel, Cancelled, Progress, is_cancelled, no_progress, raise_if_cancelled
from engines.errors import NeurodeckError
from engines.nwb._across_read import PATH_COLUMN, ROW_COLUMN, Column, file_columns, read_frame, row_count
from engines.nwb._across_sources import list_sources
from engines.nwb.nwbfile import NwbFile, index_scope
from engines.tables.limits import QueryLimits, collect_isolated
from engines.tables.sql import run_sql

__all__ = [
    "FileFailure",
    "OpenFiles",
    "TableScan",
    "scan_table",
    "collect",
    "query_sql",
    "list_sources",
    "PATH_COLUMN",
    "ROW_COLUMN",
]

FileState = Callable[[str, str], None]
"""``on_file(source, state)``: a file was "opened", "read" or "failed" (for per-file progress)."""

WORKERS = 16
"""Files read at once: enough to hide a remote archive's latency, few enough to be fair to other users."""


@dataclass(frozen=True)
class FileFailure:
    """A file left out of the frame, and why, in words a person can act on."""

    path: str
    reason: str


@dataclass(frozen=True)
class _Opened:
    source: str
    file: NwbFile
    columns: dict[str, Column]
    rows: int


def _no_state(_source: str, _state: str) -> None:
    """The default ``on_file``: report nothing."""


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, NeurodeckError) else f"{type(exc).__name__}: {exc}"
    return text[:400]


def _union_schema(opened: Sequence[_Opened]) -> pl.Schema:
    """Every file's columns in first-seen order; a column typed differently by two files gets their
    common type (Polars' own rule), so the frame holds both."""
    empty = [pl.DataFrame(schema={c.name: c.dtype for c in o.columns.values()}) for o in opened]
    base = pl.DataFrame(schema={PATH_COLUMN: pl.String(), ROW_COLUMN: pl.Int64()})
    return pl.concat([base, *empty], how="diagonal_relaxed").schema


class TableScan:
    """The opened files of one table path; ``lazy()`` reads them on demand. Safe to collect many times."""

    def __init__(
        self, table: str, opened: list[_Opened], errors: list[FileFailure], workers: int = WORKERS
    ) -> None:
        self.table = table
        self.errors = errors
        self.files = [o.source for o in opened]
        self.schema = _union_schema(opened)
        self.rows = sum(o.rows for o in opened)
        self.progress: Progress = no_progress
        self.on_file: FileState = _no_state
        self.cancel: Cancel = None
        self._opened = opened
        self._workers = workers
        self._lock = threading.Lock()

    def lazy(self) -> pl.LazyFrame:
        """The frame of every file's rows (in file order), read when collected (see the module)."""
        return pl.io.plugins.register_io_source(
            self._source, schema=self.schema, explain_name="nwb-tables-across", explain_detail=self.table
        )

    def _fail(self, source: str, exc: BaseException) -> None:
        with self._lock:
            if all(e.path != source for e in self.errors):
                self.errors.append(FileFailure(source, _reason(exc)))

    def _source(
        self,
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch: int | None,
    ) -> Iterator[pl.DataFrame]:
        names = list(with_columns) if with_columns is not None else self.schema.names()
        filter_names = set(predicate.meta.root_names()) if predicate is not None else set()
        total, done, left = len(self._opened), 0, n_rows
        with ThreadPoolExecutor(
            max(1, min(self._workers, total)), thread_name_prefix="tables-across"
        ) as pool:
            pending: list[tuple[_Opened, Future]] = []
            queue = iter(self._opened)
            try:
                while True:
                    while len(pending) < self._workers and (item := next(queue, None)) is not None:
                        pending.append(
                            (item, pool.submit(self._read_one, item, names, filter_names, predicate))
                        )
                    if not pending:
                        return
                    item, future = pending.pop(0)
                    raise_if_cancelled(self.cancel, f"Reading {self.table} across files")
                    try:
                        frame = future.result()
                        self.on_file(item.source, "read")
                    except Exception as exc:  # any file's failure is listed, the others still read
                        self._fail(item.source, exc)
                        self.on_file(item.source, "failed")
                        frame = None
                    done += 1
                    self.progress(done / total, f"read {item.file.label} ({done}/{total})")
                    if frame is None or frame.height == 0:
                        continue
                    if left is not None:
                        frame, left = frame.head(left), left - min(left, frame.height)
                    yield frame.select(names)
                    if left == 0:
                        return
            finally:
                for _, future in pending:
                    future.cancel()

    def _read_one(
        self, opened: _Opened, names: list[str], filter_names: set[str], predicate: pl.Expr | None
    ) -> pl.DataFrame:
        if is_cancelled(self.cancel):
            return pl.DataFrame()
        f, table = opened.file, self.table
        chosen = [opened.columns[n] for n in names if n in opened.columns and n not in filter_names]
        lo, hi = 0, opened.rows
        if predicate is not None:
            first = read_frame(
                f, table, [opened.columns[n] for n in filter_names if n in opened.columns], lo, hi
            )
            first = self._complete(first, opened, filter_names)
            matched = first.filter(predicate)[ROW_COLUMN].to_numpy()
            if not len(matched):
                return pl.DataFrame()
            lo, hi = int(matched.min()), int(matched.max()) + 1
            rest = read_frame(f, table, chosen, lo, hi).drop(ROW_COLUMN)
            frame = pl.concat([first.slice(lo, hi - lo), rest], how="horizontal").filter(predicate)
        else:
            frame = read_frame(f, table, chosen, lo, hi)
        return self._complete(frame, opened, set(names))

    def _complete(self, frame: pl.DataFrame, opened: _Opened, names: set[str]) -> pl.DataFrame:
        """Add ``_nwb_path`` and nulls for columns this file lacks, typed as the union schema says."""
        frame = frame.with_columns(pl.lit(opened.source, pl.String()).alias(PATH_COLUMN))
        missing = [n for n in self.schema.names() if n in names and n not in frame.columns]
        frame = frame.with_columns([pl.lit(None, self.schema[n]).alias(n) for n in missing])
        return frame.with_columns([pl.col(n).cast(self.schema[n]) for n in frame.columns if n in self.schema])


class OpenFiles:
    """Files opened once for several scans (the units, then the trials of the same sessions): a scan of
    another table of a file already open costs no request when its index covers that table, else
    the walk of that table's branch alone (``NwbFile.cover``). ``close()`` releases them all."""

    def __init__(self, open_file: Callable[[str], NwbFile]) -> None:
        self._open_file = open_file
        self._files: dict[str, NwbFile] = {}
        self._lock = threading.Lock()

    def __call__(self, source: str) -> NwbFile:
        with self._lock:
            if source in self._files:
                return self._files[source]
        f = self._open_file(source)
        with self._lock:
            return self._files.setdefault(source, f)

    def close(self) -> None:
        with self._lock:
            files, self._files = list(self._files.values()), {}
        for f in files:
            f.close()


def _open_one(source: str, table: str, open_file: Callable[[str], NwbFile]) -> _Opened:
    """The file opened for ``table`` alone: a file the workspace has no index of is walked only as far as
    the table's branch (``index_scope``); one opened before for another table is walked that far too. A
    table reached through a link the scoped walk does not follow is looked up in the whole index."""
    with index_scope(table):
        f = open_file(source)
    f.cover(table)
    if table not in f.index:
        f.cover("/")
    columns = file_columns(f, table)
    return _Opened(source, f, {c.name: c for c in columns}, row_count(f, table))


def scan_table(
    table: str,
    sources: Sequence[str],
    open_file: Callable[[str], NwbFile],
    progress: Progress = no_progress,
    cancel: Cancel = None,
    workers: int = WORKERS,
    on_file: FileState = _no_state,
) -> TableScan:
    """Open ``sources`` (``workers`` at a time) and learn the table's columns in each; see the module."""
    table = "/" + table.strip().strip("/")
    opened: list[_Opened] = []
    errors: list[FileFailure] = []
    with ThreadPoolExecutor(
        max(1, min(workers, len(sources) or 1)), thread_name_prefix="tables-open"
    ) as pool:
        futures = [(s, pool.submit(_open_one, s, table, open_file)) for s in sources]
        for done, (source, future) in enumerate(futures, start=1):
            if is_cancelled(cancel):
                for _, pending in futures:
                    pending.cancel()
                raise Cancelled(f"Opening the files for {table} was cancelled.")
            try:
                opened.append(future.result())
                on_file(source, "opened")
            except Exception as exc:  # listed as this file's error; the others still open
                errors.append(FileFailure(source, _reason(exc)))
                on_file(source, "failed")
            progress(done / len(futures), f"opened {done} of {len(futures)} files")
    scan = TableScan(table, opened, errors, workers)
    scan.cancel, scan.on_file = cancel, on_file
    return scan


def collect(plan: pl.LazyFrame, cancel: Cancel = None) -> pl.DataFrame:
    """``plan.collect()``; ``Cancelled`` (not Polars' wrapped error) when the scan was cancelled."""
    try:
        return plan.collect()
    except Exception as exc:
        if is_cancelled(cancel) or "Cancelled" in str(exc):
            raise Cancelled("Reading the table across files was cancelled.") from exc
        raise


def query_sql(
    frame: pl.DataFrame,
    query: str,
    name: str = "across",
    limits: QueryLimits | None = None,
    max_rows: int = 10_000,
) -> pl.DataFrame:
    """One checked, read-only SELECT over ``frame`` (named ``name``), as the tables engine runs SQL: refused
    unless it only reads that table, run in a child process within ``limits``, at most ``max_rows`` rows."""
    plan, _ = run_sql(query, {name: frame.lazy()})
    return collect_isolated(plan.head(max_rows), limits or QueryLimits())
