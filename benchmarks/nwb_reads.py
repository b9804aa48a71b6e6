"""What a reader of remote NWB files waits for beyond the open: tables, badly chunked data, first plots.

One Range server in its own process adds 20 ms to every request (like a remote archive) and
counts requests and bytes. Each section is a module ``benchmarks/_reads_<name>.py`` with
``measure(server, data, runs) -> dict``: it runs our code and the tool a user would otherwise
pick on the same files in the same run, and returns its keys (ratios are the baseline's time
over ours, medians of ``runs``). Generated files are cached under ``bench_data/reads/``.

Prints readable figures; the last line is one JSON object with every section's keys, the floors
and which of them hold.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks._floors import Floors, described, holds  # noqa: E402
from tests.support.range_server import RangeServerProcess  # noqa: E402

SECTIONS: tuple[str, ...] = (
    "video",
    "aligned",
    "pose",
    "chunks",
    "icephys",
    "tables",
    "first_plot",
)
"""Section names, run in this order; ``_reads_<name>.py`` beside this file measures each."""

FLOORS: Floors = {
    "video_seek_requests": ("<=", 1),
    "video_seek_s": ("<=", 0.25),
    "aligned_first_s": ("<=", 3.0),
    "aligned_zoom_s": ("<=", 0.5),
    "pose_speedup": (">=", 1.0),
    "bad_chunks_ratio": (">=", 10),
    "bad_chunks_cached_s": ("<=", 0.2),
    "icephys_speedup": (">=", 1.5),
    "table_read_ratio": (">=", 1.0),
    "multi_file_ratio": (">=", 1.0),
    "first_plot_p50_s": ("<=", 0.5),
    "first_plot_p95_s": ("<=", 2.0),
}
"""key -> (">=" or "<=", bound): what the issue asks of each key."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench_data" / "reads", help="generated files")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every request")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    summary: dict[str, Any] = {}
    with RangeServerProcess(ROOT, latency_s=args.latency) as server:
        for name in args.only or SECTIONS:
            section = importlib.import_module(f"benchmarks._reads_{name}")
            section_started = time.perf_counter()
            summary.update(section.measure(server, args.data, args.runs))
            print(f"[{name}] {time.perf_counter() - section_started:.1f} s")
    summary.update(
        floors=described(FLOORS),
        holds=holds(summary, FLOORS),
        latency_s=args.latency,
        runs=args.runs,
        load_avg_1min=[round(load_before, 2), round(os.getloadavg()[0], 2)],
        total_s=round(time.perf_counter() - started, 1),
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
