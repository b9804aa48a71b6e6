"""One browser session's tables: uploads, large files opened lazily, and every result kept by a short id.

The page creates one ``TableWorkspace`` per session; two sessions never share a table (SQL
runs in a fresh context holding only this workspace's tables). Methods are plain calls with
typed arguments returning small values (``TableInfo``, Polars DataFrames, ``PlotSpec``,
``MultiViewTable``), safe to call from a worker thread (a lock guards the table registry;
Polars itself releases the GIL while it works).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import polars as pl

from engines.io.errors import SourceError
from engines.io.policy import SourcePolicy, resolve_local_path
from engines.ngstate import NgState
from engines.tables import queries
from engines.tables._csv import read_csv_bytes, scan_csv_file
from engines.tables.errors import TableError, TableNotFound, UploadTooLarge
from engines.tables.limits import QueryLimits, collect_isolated
from engines.tables.model import ColumnInfo, Filter, MultiViewTable, PlotSpec, SortKey, TableInfo
from engines.tables.multiview import build_multiview
from engines.tables.plots import build_plot_spec
from engines.tables.sql import run_sql

__all__ = ["TableWorkspace", "DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_MAX_RESULT_ROWS"]

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_RESULT_ROWS = 100_000
_NAME = re.compile(r"[^a-z0-9_]+")


@dataclass
class _Table:
    plan: pl.LazyFrame
    info: TableInfo
    frame: pl.DataFrame | None = None
    """The collected rows for eager tables; None for lazy ones (plans over a file)."""


def _info(
    name: str,
    frame: pl.DataFrame | pl.LazyFrame,
    origin: str,
    *,
    rows: int | None = None,
    lazy: bool = False,
    truncated: bool = False,
    notes: Sequence[str] = (),
) -> TableInfo:
    schema = frame.collect_schema()
    if rows is None and isinstance(frame, pl.DataFrame):
        rows = frame.height
    return TableInfo(
        name=name,
        rows=rows,
        columns=tuple(schema.names()),
        dtypes=tuple(str(t) for t in schema.dtypes()),
        origin=origin,
        lazy=lazy,
        truncated=truncated,
        notes=tuple(notes),
    )


class TableWorkspace:
    """The tables of one session. ``policy`` limits which local folders ``open_file`` may read.

    ``max_result_rows`` caps the rows a result keeps (the query stops reading there, so a cross
    join never materializes more); ``limits`` bound each SQL query's time and memory.
    """

    def __init__(
        self,
        policy: SourcePolicy | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_tables: int = 100,
        max_result_rows: int = DEFAULT_MAX_RESULT_ROWS,
        limits: QueryLimits | None = None,
    ) -> None:
        self.policy = policy
        self.max_upload_bytes = max_upload_bytes
        self.max_tables = max_tables
        self.max_result_rows = max_result_rows
        self.limits = limits if limits is not None else QueryLimits()  # None: the default limits
        self._tables: dict[str, _Table] = {}
        self._lock = threading.RLock()
        self._counter = 0

    # -- registry ----------------------------------------------------------------------------

    def _unique_name(self, wanted: str) -> str:
        base = _NAME.sub("_", wanted.lower()).strip("_") or "table"
        if base[0].isdigit():
            base = f"t_{base}"
        name, suffix = base, 2
        while name in self._tables:
            name, suffix = f"{base}_{suffix}", suffix + 1
        return name

    def _next_result_name(self) -> str:
        while True:
            self._counter += 1
            if f"r{self._counter}" not in self._tables:
                return f"r{self._counter}"

    def _add(self, name: str, table: _Table) -> TableInfo:
        with self._lock:
            if len(self._tables) >= self.max_tables and name not in self._tables:
                raise TableError(
                    f"This session holds {self.max_tables} tables, the most it may. Drop some "
                    f"({', '.join(list(self._tables)[:5])}, ...) and try again."
                )
            self._tables[name] = table
        return table.info

    def _get(self, name: str) -> _Table:
        with self._lock:
            table = self._tables.get(name) or self._tables.get(name.strip().lower())
        if table is None:
            listed = ", ".join(self._tables) or "none yet: upload a CSV first"
            raise TableNotFound(f"No table '{name}' in this session. Tables: {listed}.")
        return table

    def list_tables(self) -> list[TableInfo]:
        """Every table of the session, uploads and results, in the order they were made."""
        with self._lock:
            return [t.info for t in self._tables.values()]

    def info(self, table: str) -> TableInfo:
        return self._get(table).info

    def drop(self, table: str) -> None:
        """Forget a table (results made from it stay: they hold their own rows)."""
        name = self._get(table).info.name
        with self._lock:
            self._tables.pop(name, None)

    def frame(self, table: str, max_rows: int | None = None) -> pl.DataFrame:
        """The table's rows (a lazy file is read up to ``max_rows``, default the session's result limit)."""
        entry = self._get(table)
        if entry.frame is not None:
            return entry.frame
        return self._collect(entry.plan.head(max_rows or self.max_result_rows))

    def lazy(self, table: str) -> pl.LazyFrame:
        """The table as a lazy plan (for callers that build their own Polars query)."""
        return self._get(table).plan

    @staticmethod
    def _collect(plan: pl.LazyFrame) -> pl.DataFrame:
        try:
            return plan.collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:
            raise TableError(f"The operation failed on this data: {str(exc).splitlines()[0]}") from exc

    # -- getting tables in -------------------------------------------------------------------

    def upload(self, filename: str, data: bytes, name: str | None = None) -> TableInfo:
        """Add a dropped CSV file (bytes). Detects the encoding and delimiter; costs one parse.

        Raises ``UploadTooLarge`` over ``max_upload_bytes`` (before parsing), else ``TableError``
        saying what to fix. The table's name comes from the file
        name (``ROIs 2024.csv`` -> ``rois_2024``) unless ``name`` is given.
        """
        if len(data) > self.max_upload_bytes:
            raise UploadTooLarge(
                f"'{filename}' is {len(data) / 1e6:.1f} MB, "
                f"over the upload limit of {self.max_upload_bytes / 1e6:.0f} MB. "
                "Put it in a folder the server may read and open it from there (it is then read lazily)."
            )
        frame, fmt = read_csv_bytes(data, filename)
        with self._lock:
            table_name = self._unique_name(name or Path(filename).stem)
            origin = f"upload {filename} ({fmt.encoding}, delimiter {fmt.delimiter!r})"
            return self._add(table_name, _Table(frame.lazy(), _info(table_name, frame, origin), frame))

    def open_file(self, path: str, name: str | None = None) -> TableInfo:
        """Open a CSV from a folder this server may read (``policy.allowed_roots``).

        Files up to the upload limit are read whole; larger ones are scanned lazily (nothing is
        read until a query needs it, and queries stream the file). Costs a 64 KB read to open.
        """
        if self.policy is None:
            raise TableError("This server reads no local folders; upload the file instead.")
        try:
            real = resolve_local_path(path, self.policy)
        except SourceError as exc:
            raise TableError(str(exc)) from exc
        if real.stat().st_size <= self.max_upload_bytes:
            return self.upload(real.name, real.read_bytes(), name)
        plan, fmt = scan_csv_file(real)
        with self._lock:
            table_name = self._unique_name(name or real.stem)
            origin = f"file {real} (lazy, delimiter {fmt.delimiter!r})"
            return self._add(table_name, _Table(plan, _info(table_name, plan, origin, lazy=True)))

    def _keep(
        self,
        plan: pl.LazyFrame,
        origin: str,
        lazy_source: bool,
        save_as: str | None = None,
        notes: Sequence[str] = (),
    ) -> TableInfo:
        """Keep a result under a short id (``r1``, ``r2``...) or ``save_as``: rows for eager sources, the plan
        for lazy."""
        with self._lock:
            name = self._unique_name(save_as) if save_as else self._next_result_name()
        if lazy_source:
            try:
                info = _info(name, plan, origin, lazy=True, notes=notes)
            except pl.exceptions.PolarsError as exc:
                raise TableError(
                    f"The operation does not fit this table: {str(exc).splitlines()[0]}"
                ) from exc
            return self._add(name, _Table(plan, info))
        return self._keep_rows(self._collect(plan.head(self.max_result_rows + 1)), name, origin, notes)

    def _keep_rows(self, frame: pl.DataFrame, name: str, origin: str, notes: Sequence[str] = ()) -> TableInfo:
        """Keep up to ``max_result_rows`` of ``frame`` (one more row says it was cut) under ``name``."""
        truncated = frame.height > self.max_result_rows
        if truncated:
            frame = frame.head(self.max_result_rows)
            notes = (
                *notes,
                f"Cut at {self.max_result_rows:,} rows: a result keeps at most {self.max_result_rows:,} "
                "rows here (add WHERE, LIMIT or an aggregate to choose which).",
            )
        return self._add(
            name, _Table(frame.lazy(), _info(name, frame, origin, truncated=truncated, notes=notes), frame)
        )

    # -- looking at a table --------------------------------------------------------------------

    def preview(self, table: str, rows: int = 20, offset: int = 0) -> pl.DataFrame:
        """``rows`` rows from ``offset`` (a lazy file reads only what it needs)."""
        return self._collect(self._get(table).plan.slice(max(offset, 0), max(rows, 0)))

    def count_rows(self, table: str) -> int:
        """The row count; for a lazy file this streams it once and remembers the answer."""
        entry = self._get(table)
        if entry.info.rows is None:
            rows = int(self._collect(entry.plan.select(pl.len())).item())
            entry.info = replace(entry.info, rows=rows)
        return int(entry.info.rows)  # type: ignore[arg-type]

    def schema(self, table: str) -> list[ColumnInfo]:
        """Columns with their types; null counts and a few example values for eager tables."""
        entry = self._get(table)
        if entry.frame is None:
            return [ColumnInfo(n, str(t)) for n, t in entry.plan.collect_schema().items()]
        frame = entry.frame
        return [
            ColumnInfo(
                c, str(frame[c].dtype), frame[c].null_count(), tuple(frame[c].drop_nulls().head(3).to_list())
            )
            for c in frame.columns
        ]

    def describe(self, table: str) -> pl.DataFrame:
        """Count, nulls, mean, std, min, quartiles and max of every column (one pass; lazy files streamed)."""
        entry = self._get(table)
        try:
            return entry.frame.describe() if entry.frame is not None else entry.plan.describe()
        except pl.exceptions.PolarsError as exc:
            raise TableError(f"Describing '{table}' failed: {str(exc).splitlines()[0]}") from exc

    def value_counts(self, table: str, column: str, limit: int = 20) -> pl.DataFrame:
        """The ``limit`` most frequent values of ``column`` with count and share."""
        entry = self._get(table)
        return self._collect(queries.count_values(entry.plan, entry.info.name, column, limit))

    # -- results kept as new tables --------------------------------------------------------------

    def select(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        filters: Sequence[Filter | Mapping[str, Any]] | None = None,
        sort: Sequence[SortKey | str | Mapping[str, Any]] | None = None,
        limit: int | None = None,
        save_as: str | None = None,
    ) -> TableInfo:
        """Filter, sort and pick columns; the result is kept as a new table (``r<n>`` unless ``save_as``)."""
        entry = self._get(table)
        plan = queries.select_rows(entry.plan, entry.info.name, columns, filters, sort, limit)
        return self._keep(plan, f"select from {entry.info.name}", entry.info.lazy, save_as)

    def sample(self, table: str, n: int = 10, seed: int = 0, save_as: str | None = None) -> TableInfo:
        """``n`` random rows; the same ``seed`` gives the same rows every time."""
        entry = self._get(table)
        rows = self.count_rows(entry.info.name)
        plan = queries.sample_rows(entry.plan, rows, n, seed)
        return self._keep(
            plan,
            f"sample of {min(n, rows)} rows from {entry.info.name} (seed {seed})",
            entry.info.lazy,
            save_as,
        )

    def join(
        self,
        left: str,
        right: str,
        on: str | Sequence[str] | None = None,
        left_on: str | Sequence[str] | None = None,
        right_on: str | Sequence[str] | None = None,
        how: Literal["inner", "left", "right", "full", "semi", "anti"] = "inner",
        save_as: str | None = None,
    ) -> TableInfo:
        """Join two tables of this session on key columns; the result is kept as a new table."""
        a, b = self._get(left), self._get(right)
        plan = queries.join_frames(a.plan, b.plan, (a.info.name, b.info.name), on, left_on, right_on, how)
        return self._keep(
            plan, f"{how} join of {a.info.name} and {b.info.name}", a.info.lazy or b.info.lazy, save_as
        )

    def sql(self, query: str, save_as: str | None = None) -> TableInfo:
        """Run one read-only SELECT over this session's tables (see ``engines.tables.sql``).

        The query runs in a child process within ``limits`` (``TableError`` past one) and
        reads at most ``max_result_rows`` + 1 rows; the result keeps its rows (``r<n>`` unless ``save_as``).
        """
        with self._lock:
            frames = {name: t.plan for name, t in self._tables.items()}
        plan, _ = run_sql(query, frames)
        frame = collect_isolated(plan.head(self.max_result_rows + 1), self.limits)
        with self._lock:
            name = self._unique_name(save_as) if save_as else self._next_result_name()
        return self._keep_rows(frame, name, f"SQL: {' '.join(query.split())[:200]}")

    # -- plots and views -------------------------------------------------------------------------

    def plot(
        self,
        table: str,
        kind: Literal["scatter", "line", "bar", "histogram", "heatmap"],
        x: str,
        y: str | None = None,
        by: str | None = None,
        color: str | None = None,
        agg: str = "mean",
        bins: int = 30,
    ) -> PlotSpec:
        """A plot specification with its data (the page draws it with hvPlot; ``datashade`` when large)."""
        entry = self._get(table)
        try:
            return build_plot_spec(entry.plan, entry.info.name, kind, x, y, by, color, agg, bins)
        except pl.exceptions.PolarsError as exc:
            raise TableError(f"The plot could not be computed: {str(exc).splitlines()[0]}") from exc

    def top_views(
        self,
        table: str,
        metric: str,
        base_state: NgState,
        n: int = 20,
        id_column: str = "id",
        coordinates: Sequence[str] | Mapping[str, str] = ("x", "y", "z"),
        descending: bool = True,
        marker_layer: str | None = "selected row",
        segment_layer: str | None = None,
        lut: tuple[float, float] | None = None,
        lut_layer: str | None = None,
    ) -> MultiViewTable:
        """The ranked multi-view table: top ``n`` rows by ``metric``, one viewer state per row."""
        entry = self._get(table)
        try:
            return build_multiview(
                entry.plan,
                entry.info.name,
                metric,
                base_state,
                n,
                id_column,
                coordinates,
                descending,
                marker_layer,
                segment_layer,
                lut,
                lut_layer,
            )
        except pl.exceptions.PolarsError as exc:
            raise TableError(f"Ranking '{table}' failed: {str(exc).splitlines()[0]}") from exc
