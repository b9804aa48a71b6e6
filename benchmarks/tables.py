"""Benchmark the tables engine: CSV upload + describe, and a large file queried lazily from disk.

Run ``python benchmarks/tables.py``. Part 1: a seeded 1,000,000-row x 10-column CSV (ints,
floats, strings; about 80 MB) handed to ``TableWorkspace.upload`` as bytes (as a drop arrives)
and described: ``upload_describe_s`` (median of 3) against pandas ``read_csv`` + ``describe()``
on the same bytes in the same run (``pandas_ratio`` = pandas time / ours; pandas describes only
the numeric columns by default, so it does less work). Part 2: a 5,000,000-row file on disk,
opened lazily with ``open_file`` and queried with SQL (filter + group-by) and with the ranked
top-N; each side runs in a fresh child process so ``lazy_peak_mb`` (peak resident memory) is
its own, next to pandas loading the whole file for the same group-by (``pandas_peak_mb``).
The last line printed is one JSON object.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROWS = 1_000_000
LARGE_ROWS = 5_000_000
REPEATS = 3
QUERY = (
    "SELECT grp, count(*) AS n, avg(value) AS mean_value FROM big WHERE value > 0 GROUP BY grp ORDER BY grp"
)


def synthetic_frame(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.uniform(0, 10_000, rows).round(2),
            "y": rng.uniform(0, 10_000, rows).round(2),
            "z": rng.uniform(0, 500, rows).round(1),
            "volume": rng.lognormal(5, 1, rows).round(3),
            "intensity": rng.normal(120, 30, rows).round(2),
            "count": rng.poisson(12, rows),
            "grp": rng.choice(["soma", "axon", "dendrite", "glia", "vessel"], rows),
            "label": [f"cell-{i % 9973}" for i in range(rows)],
            "value": rng.normal(0, 1, rows).round(4),
        }
    )


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def bench_upload(data: bytes) -> dict[str, float]:
    import pandas as pd

    from engines.tables import TableWorkspace

    def ours() -> None:
        tables = TableWorkspace(max_upload_bytes=len(data) + 1)
        tables.describe(tables.upload("cells.csv", data).name)

    def theirs() -> None:
        pd.read_csv(io.BytesIO(data)).describe()

    ours_s = statistics.median(timed(ours) for _ in range(REPEATS))
    pandas_s = statistics.median(timed(theirs) for _ in range(REPEATS))
    return {
        "upload_describe_s": round(ours_s, 3),
        "pandas_upload_describe_s": round(pandas_s, 3),
        "pandas_ratio": round(pandas_s / ours_s, 2),
    }


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lazy_child(path: str, queue) -> None:
    from engines.io.policy import SourcePolicy
    from engines.ngstate import build_demo_state
    from engines.tables import TableWorkspace

    baseline = _peak_mb()
    started = time.perf_counter()
    tables = TableWorkspace(SourcePolicy(workspace=Path(path).parent, allowed_roots=(Path(path).parent,)))
    tables.open_file(path)
    result = tables.frame(tables.sql(QUERY).name)
    sql_s = time.perf_counter() - started
    started = time.perf_counter()
    views = tables.top_views("big", "volume", build_demo_state("https://app/ngdemo"), n=20)
    top_s = time.perf_counter() - started
    queue.put(
        {
            "sql_s": sql_s,
            "top_views_s": top_s,
            "peak_mb": _peak_mb(),
            "baseline_mb": baseline,
            "groups": result.height,
            "views": sum(s is not None for s in views.states),
        }
    )


def _pandas_child(path: str, queue) -> None:
    import pandas as pd

    baseline = _peak_mb()
    started = time.perf_counter()
    frame = pd.read_csv(path)
    result = frame[frame["value"] > 0].groupby("grp")["value"].agg(["count", "mean"])
    queue.put(
        {
            "s": time.perf_counter() - started,
            "peak_mb": _peak_mb(),
            "baseline_mb": baseline,
            "groups": len(result),
        }
    )


def in_child(target, path: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(str(path), queue))
    process.start()
    result = queue.get(timeout=600)
    process.join()
    return result


def main() -> None:
    frame = synthetic_frame(ROWS, seed=1)
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    data = buffer.getvalue()
    print(f"upload: {ROWS:,} rows x {frame.width} columns, {len(data) / 1e6:.0f} MB of CSV")
    upload = bench_upload(data)
    print(
        f"  ours (upload + describe): median {upload['upload_describe_s']:.2f} s; pandas read_csv + "
        "describe: "
        f"{upload['pandas_upload_describe_s']:.2f} s -> pandas / ours = {upload['pandas_ratio']}"
    )
    del frame, data, buffer
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        synthetic_frame(LARGE_ROWS, seed=2).write_csv(path)
        size_mb = path.stat().st_size / 1e6
        print(f"lazy: {LARGE_ROWS:,} rows, {size_mb:.0f} MB on disk; query: {QUERY}")
        lazy = in_child(_lazy_child, path)
        eager = in_child(_pandas_child, path)
    print(
        f"  ours, lazy from disk: SQL {lazy['sql_s']:.2f} s, top-20 views {lazy['top_views_s']:.2f} s, "
        f"peak RSS {lazy['peak_mb']:.0f} MB (interpreter + imports before: {lazy['baseline_mb']:.0f} MB)"
    )
    print(
        f"  pandas, whole file in memory: {eager['s']:.2f} s, peak RSS {eager['peak_mb']:.0f} MB "
        f"(before: {eager['baseline_mb']:.0f} MB)"
    )
    print(
        json.dumps(
            {
                **upload,
                "rows": ROWS,
                "columns": 10,
                "lazy_rows": LARGE_ROWS,
                "lazy_file_mb": round(size_mb, 1),
                "lazy_query_s": round(lazy["sql_s"], 3),
                "lazy_top_views_s": round(lazy["top_views_s"], 3),
                "lazy_peak_mb": round(lazy["peak_mb"], 1),
                "pandas_eager_query_s": round(eager["s"], 3),
                "pandas_peak_mb": round(eager["peak_mb"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
