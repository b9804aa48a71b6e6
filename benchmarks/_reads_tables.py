"""Tables across files: our lazy frame against lazynwb, over the Range server (20 ms a request).

``table_read_ratio``: the units table (ids, spike counts, three property columns) and the trials
table of one remote session, lazynwb's ``get_df`` time over ours. lazynwb opens an http URL with
remfile (its default), so both get the same URL; it has no count of a ragged column, so it reads
the spike times and counts them, where ours reads the index alone. ``multi_file_ratio``: the
trials tables of 20 remote sessions into one frame (``multi_file_table_s`` is ours). Cold runs
start from an empty workspace (ours: a new index store and block cache; lazynwb: its caches
cleared and a new catalog file); warm runs repeat on the same ones. Medians of ``runs``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.tables_across import OpenFiles, collect, scan_table
from tests.support.nwb_files.session_tables import write_session_tables_nwb
from tests.support.range_server import RangeServerProcess

SESSIONS = 20
UNIT_COLUMNS = ["id", "quality", "depth", "firing_rate"]


def _files(data: Path) -> list[Path]:
    folder = data / "tables"
    return [
        path if path.exists() else write_session_tables_nwb(path, seed=seed)
        for seed, path in ((s, folder / f"session{s:02d}.nwb") for s in range(SESSIONS))
    ]


def _url(server: RangeServerProcess, path: Path) -> str:
    return server.url_for(os.path.relpath(path, server.root))


class _Ours:
    """Our reader as a new session would use it: ``cold()`` on an empty workspace, ``warm()`` on the same
    workspace again (its index store and block cache kept, no file left open)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bench-tables-")
        self.cold()

    def cold(self) -> None:
        workspace = Path(tempfile.mkdtemp(dir=self._folder.name))
        self.policy = SourcePolicy(workspace=workspace, allow_private_urls=True, request_timeout_s=30.0)
        self.store = IndexStore(workspace)
        self.warm()

    def warm(self) -> None:
        self.files = OpenFiles(lambda source: open_nwb(source, self.policy, self.store))

    def frame(self, table: str, urls: list[str], columns: list[str] | None = None) -> pl.DataFrame:
        scan = scan_table(table, urls, self.files)
        if scan.errors:
            raise RuntimeError(f"our reader failed: {scan.errors[0]}")
        plan = scan.lazy()
        return collect(plan.select(columns) if columns else plan)


class _Lazynwb:
    """lazynwb's ``get_df``: ``cold()`` clears its process caches and points it at a new catalog file,
    ``warm()`` clears the process caches only (its catalog file kept, like our workspace)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bench-lazynwb-")
        self.cold()

    def cold(self) -> None:
        os.environ["LAZYNWB_CATALOG_CACHE_PATH"] = tempfile.mkdtemp(dir=self._folder.name) + "/catalog.sqlite"
        self.warm()

    def warm(self) -> None:
        import lazynwb

        lazynwb.clear_cache()

    def frame(self, table: str, urls: list[str], columns: list[str] | None = None) -> pl.DataFrame:
        import lazynwb

        return lazynwb.get_df(
            urls,
            table,
            include_column_names=columns,
            exclude_array_columns=False,
            disable_progress=True,
            as_polars=True,
        )


def _one_session(reader: Any, url: str, ours: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    if ours:
        units = reader.frame("/units", [url], [*UNIT_COLUMNS, "spike_times_count"])
    else:
        units = reader.frame("/units", [url], [*UNIT_COLUMNS, "spike_times"]).with_columns(
            pl.col("spike_times").list.len().alias("spike_times_count")
        )
    return units, reader.frame("/intervals/trials", [url])


def _timed(work: Callable[[], Any], before: Callable[[], None]) -> tuple[float, Any]:
    before()
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _medians(runs: int, cases: dict[str, tuple[Callable[[], Any], Callable[[], None]]]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (work, before) in cases.items():  # side by side, alternating, in the same run
            times[name].append(_timed(work, before)[0])
    return {name: statistics.median(values) for name, values in times.items()}


def _check_same(ours: pl.DataFrame, theirs: pl.DataFrame, columns: list[str]) -> None:
    a, b = ours.select(columns).sort(columns[:2]), theirs.select(columns).sort(columns[:2])
    if not a.equals(b):
        raise RuntimeError(f"lazynwb and ours disagree on {columns}")


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    urls = [_url(server, path) for path in _files(data)]
    ours, theirs = _Ours(), _Lazynwb()
    units, trials = _one_session(ours, urls[0], True)
    their_units, their_trials = _one_session(theirs, urls[0], False)
    _check_same(units, their_units, [*UNIT_COLUMNS, "spike_times_count"])
    _check_same(trials, their_trials, ["start_time", "stop_time", "reaction_time"])
    one: dict[str, tuple[Callable[[], Any], Callable[[], None]]] = {
        "ours_cold": (lambda: _one_session(ours, urls[0], True), ours.cold),
        "lazynwb_cold": (lambda: _one_session(theirs, urls[0], False), theirs.cold),
    }
    one_warm = {
        "ours_warm": (lambda: _one_session(ours, urls[0], True), ours.warm),
        "lazynwb_warm": (lambda: _one_session(theirs, urls[0], False), theirs.warm),
    }
    many = {
        "ours_cold": (lambda: ours.frame("/intervals/trials", urls), ours.cold),
        "lazynwb_cold": (lambda: theirs.frame("/intervals/trials", urls), theirs.cold),
    }
    many_warm = {
        "ours_warm": (lambda: ours.frame("/intervals/trials", urls), ours.warm),
        "lazynwb_warm": (lambda: theirs.frame("/intervals/trials", urls), theirs.warm),
    }
    single, single_warm = _medians(runs, one), _medians(runs, one_warm)
    multi, multi_warm = _medians(runs, many), _medians(runs, many_warm)
    rows = ours.frame("/intervals/trials", urls).height
    summary = {
        "table_read_ratio": round(single["lazynwb_cold"] / single["ours_cold"], 2),
        "table_read_s": round(single["ours_cold"], 3),
        "table_read_lazynwb_s": round(single["lazynwb_cold"], 3),
        "table_read_warm_ratio": round(single_warm["lazynwb_warm"] / single_warm["ours_warm"], 2),
        "table_read_warm_s": round(single_warm["ours_warm"], 3),
        "table_read_lazynwb_warm_s": round(single_warm["lazynwb_warm"], 3),
        "multi_file_table_s": round(multi["ours_cold"], 3),
        "multi_file_lazynwb_s": round(multi["lazynwb_cold"], 3),
        "multi_file_ratio": round(multi["lazynwb_cold"] / multi["ours_cold"], 2),
        "multi_file_warm_s": round(multi_warm["ours_warm"], 3),
        "multi_file_lazynwb_warm_s": round(multi_warm["lazynwb_warm"], 3),
        "multi_file_warm_ratio": round(multi_warm["lazynwb_warm"] / multi_warm["ours_warm"], 2),
        "multi_file_rows": rows,
    }
    print(
        f"tables: one session {summary['table_read_s']} s vs lazynwb {summary['table_read_lazynwb_s']} s "
        f"(x{summary['table_read_ratio']}); {SESSIONS} sessions' trials {summary['multi_file_table_s']} s vs "
        f"{summary['multi_file_lazynwb_s']} s (x{summary['multi_file_ratio']}), cold; warm x"
        f"{summary['table_read_warm_ratio']} / x{summary['multi_file_warm_ratio']}"
    )
    return summary
