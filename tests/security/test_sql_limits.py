"""One SQL query must not exhaust the server's memory or hold a worker for ever.

A five-way cross join of the 24-row demo table (8 M rows, 55 columns) took 2.1 GB before the
row cap; a six-way one with a filter reads 191 M row combinations (and grew to 3.9 GB in the
server's process even after Polars was asked to cancel it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engines.tables import QueryLimits, TableError, TableWorkspace

DEMO_ROIS = Path(__file__).resolve().parents[2] / "assets" / "demo_rois.csv"
CROSS_JOIN = "SELECT * FROM rois a, rois b, rois c, rois d, rois e"

_CHILD = """
import json, resource, sys
from engines.tables import TableWorkspace
tables = TableWorkspace()
tables.upload("rois.csv", open(sys.argv[1], "rb").read())
try:
    info = tables.sql(sys.argv[2])
    outcome = {"rows": info.rows, "truncated": info.truncated, "notes": list(info.notes)}
except Exception as exc:
    outcome = {"error": type(exc).__name__, "message": str(exc)}
# VmHWM: the peak of this process since it started; ru_maxrss would also count the pytest
# process it was forked from
peak_kb = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
outcome["peak_mb"] = int(peak_kb) / 1024
outcome["query_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(outcome))
"""


def test_a_cross_join_of_the_demo_table_stays_small_and_says_it_was_cut():
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(DEMO_ROIS), CROSS_JOIN],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])

    assert outcome["peak_mb"] < 500 and outcome["query_peak_mb"] < 500, outcome
    assert outcome["truncated"] and outcome["rows"] == 100_000
    assert "Cut at 100,000 rows" in outcome["notes"][0]


def test_a_slow_query_is_stopped_at_the_time_limit_with_a_clear_message():
    tables = TableWorkspace(limits=QueryLimits(timeout_s=1.0))
    tables.upload("rois.csv", DEMO_ROIS.read_bytes())
    six_way = (
        "SELECT * FROM rois a, rois b, rois c, rois d, rois e, rois f "
        "WHERE a.x * b.y * c.z * d.x * e.y * f.z < 0"
    )  # no row matches: it reads all 191 M combinations

    started = time.monotonic()
    with pytest.raises(TableError, match=r"ran longer than 1 s and was stopped"):
        tables.sql(six_way)

    assert time.monotonic() - started < 3
    assert [t.name for t in tables.list_tables()] == ["rois"]  # nothing half-made was kept


def test_a_query_that_needs_too_much_memory_is_stopped_with_a_clear_message():
    tables = TableWorkspace(limits=QueryLimits(max_memory_bytes=300 * 2**20))
    tables.upload("rois.csv", DEMO_ROIS.read_bytes())
    distinct = (
        "SELECT DISTINCT a.x, b.y, c.z, d.x AS dx, e.volume_um3 "
        "FROM rois a, rois b, rois c, rois d, rois e"
    )  # 8 M distinct rows to hold at once

    with pytest.raises(TableError, match=r"needed more than 300 MB of memory and was stopped"):
        tables.sql(distinct)
