"""The curation benchmark's 800-unit part: paging the review grid of 2,000+ candidate groups, and its memory.

Run by ``benchmarks/curation.py`` in child processes, so the peak resident memory measured is that of a
process that only opens the analyzer and pages, as the server does (the 100-unit part and the
generation run elsewhere):

1. ``--build``: generate the 800-unit analyzer (``engines.curation.scale``), find ``CROWDED_REQUEST``'s
   candidates and judge them; cached in the workspace (about 30 s first, nothing after).
2. ``--measure``: open the review, build the grid (``components.curation.grid``, no browser), and page
   through it: each page change's time until the new cards and detail are in the Panel models, with their
   images asked for after (as the served page does: drawn on demand, then cached on disk). Then draws the
   images of the pages it visited and visits them again (the second visit draws nothing).

Against it, what spikeinterface-gui and phy do when a list opens: one card per group built at once
(``all_cards_s``) and every group's images drawn up front (``images_upfront_s``, extrapolated from the
groups drawn here: drawing 2,600 groups takes minutes).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class _DeferredWork:
    """Holds the cards' image requests until ``drain``: a page change is timed without drawing, as served."""

    inline = True

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}

    def run(self, key: str, work: Callable[[], Any], apply: Callable[[Any], None], failed=None, discard=None):
        self.waiting[key] = (work, apply)  # a newer request under a key replaces the older, as served

    def drain(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for work, apply in waiting.values():
            apply(work())


def build(workspace: Path) -> dict[str, Any]:
    from engines.curation.scale import open_large_review

    started = time.perf_counter()
    review = open_large_review(workspace)
    return {
        "ready_s": round(time.perf_counter() - started, 1),
        "units": len(review.analyzer.unit_ids),
        "groups": len(review.candidates()),
    }


def _peak_mb() -> float:
    """This process's peak resident memory. ``VmHWM``, not ``ru_maxrss``: a child started from a big parent
    reports the parent's peak in ``ru_maxrss`` (Linux keeps it across the exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"median": round(statistics.median(ordered) * 1000, 1), "p95": round(p95 * 1000, 1)}


def measure(workspace: Path, pages: int) -> dict[str, Any]:
    import panel as pn

    from components.curation.cards import GroupCard
    from components.curation.grid import CurationGrid
    from engines.curation import CurationReview
    from engines.curation.scale import ensure_large_analyzer

    shutil.rmtree(workspace / "curation" / "images", ignore_errors=True)  # first visits draw, as measured
    started = time.perf_counter()
    review = CurationReview.open(workspace, ensure_large_analyzer(workspace))
    work = _DeferredWork()
    grid = CurationGrid(review, work)  # type: ignore[arg-type]  # the grid only calls run()
    pn.panel(grid)
    open_s = time.perf_counter() - started
    work.drain()
    page_times, drawn = [], []
    for _ in range(pages):
        started = time.perf_counter()
        grid._next_page(None)
        page_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        work.drain()  # the page's images, drawn on demand
        drawn.append(time.perf_counter() - started)
    sort_times = []
    for sort_by in ("score", "least sure first", "group", "similarity"):
        started = time.perf_counter()
        grid.sort_by = sort_by
        sort_times.append(time.perf_counter() - started)
        work.waiting.clear()
    grid.page_number = 0
    work.drain()
    revisit = []
    for _ in range(pages):  # the same pages again: every image is on disk
        started = time.perf_counter()
        grid._next_page(None)
        work.drain()
        revisit.append(time.perf_counter() - started)
    peak_mb = _peak_mb()

    rows = grid._table.frame.to_dict("records")
    started = time.perf_counter()
    cards = []
    for slot, row in enumerate(rows):  # one card per group, built at once
        card = GroupCard(slot, _DeferredWork(), review.group_images, on_open=lambda _g: None)  # type: ignore[arg-type]
        card.show(row, focused=False)
        cards.append(card.view)
    pn.Column(*cards)
    all_cards_s = time.perf_counter() - started
    per_group = statistics.median(drawn) / 6 if drawn else 0.0
    page = _percentiles(page_times)
    return {
        "units_800_groups": len(rows),
        "units_800_open_s": round(open_s, 2),
        "units_800_page_ms": page,
        "units_800_sort_ms": _percentiles(sort_times),
        "units_800_page_images_s": round(statistics.median(drawn), 3),
        "units_800_revisit_page_ms": _percentiles(revisit),
        "units_800_peak_mb": round(peak_mb, 1),
        "units_800_all_cards_s": round(all_cards_s, 2),
        "units_800_all_cards_vs_page": round(all_cards_s * 1000 / max(page["median"], 1e-3), 1),
        "units_800_images_upfront_s": round(per_group * len(rows), 1),
        "units_800_images_upfront_vs_page": round(
            per_group * len(rows) * 1000 / max(page["median"], 1e-3), 1
        ),
    }


def run_scale(workspace: Path, pages: int = 30) -> dict[str, Any]:
    """Both steps, each in its own process; returns the measuring step's numbers plus the build's."""
    script = [sys.executable, str(Path(__file__).resolve()), "--workspace", str(workspace)]
    built = json.loads(
        subprocess.run([*script, "--build"], check=True, capture_output=True, text=True).stdout
    )
    measured = subprocess.run(
        [*script, "--measure", "--pages", str(pages)], check=True, capture_output=True, text=True
    )
    return {"units_800_ready_s": built["ready_s"], **json.loads(measured.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(json.dumps(build(args.workspace) if args.build else measure(args.workspace, args.pages)))


if __name__ == "__main__":
    main()
