"""First plot: from a link to a file (empty workspace) to the first view's data on screen, per file.

For every NWB file in ``tests/data`` and every file the test generators write
(``tests/support/nwb_files/<name>.py`` exposing ``write_<name>_nwb(path)``, found by module, so
a new generator joins without an edit here), served over HTTP with the server's latency, one
run is what the NWB page does when a link names only the file: ``open_nwb`` on an empty
workspace (the index is built over the network), the default object (``/``) and its best
view (``views_for(...)[0]``), and that view built as the browser builds it (its constructor
and ``__panel__``, whose reads run inline outside a served session, as ``BackgroundWork``
does there) down to Bokeh models (``get_root``). A view that refuses with a message counts
too: the message is what the user waits for. Keys: the median and 95th percentile over the
files of each file's median time, and every file's time (the slowest five are printed).

The default view is the file's overview, drawn from the index, so ``first_plot_*`` is mostly
the open. ``first_click_plot_*`` (no floor yet) adds what a user meets next: on the open file,
the first object in tree order whose best view draws a plot (not the overview, the HDF5 view or
a table), from the click to its first data; it is not part of ``first_plot_*``.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from engines.io.block_cache import flush_disk_writes
from tests.support.range_server import RangeServerProcess

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
_NOT_PLOTS = {"overview", "hdf5", "table"}
"""Views that draw no plot; the first object whose best view is another is the first a user would plot."""


def generated_files(folder: Path) -> list[Path]:
    """Every generator's file in ``folder``, written the first time (each is small: seconds)."""
    import tests.support.nwb_files as generators

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for module in pkgutil.iter_modules(generators.__path__):
        write = getattr(
            importlib.import_module(f"{generators.__name__}.{module.name}"), f"write_{module.name}_nwb", None
        )
        if write is None:
            continue
        path = folder / f"{module.name}.nwb"
        files.append(path if path.exists() else write(path))
    return files


def _build_view(nwb: Any, path: str) -> str:
    """The best view of ``path`` built as the browser builds it; its id, or its refusal."""
    import panel as pn

    from components.background import BackgroundWork
    from components.nwb.controller import NwbFileController
    from components.nwb.views import views_for
    from engines.errors import NeurodeckError

    view_cls = views_for(nwb.index, path)[0]
    try:
        view = view_cls(nwb, path, None, NwbFileController(object_path=path), BackgroundWork(name="bench"))
        try:
            pn.panel(view.__panel__()).get_root()
        finally:
            view.dispose()
    except NeurodeckError as exc:
        return f"{view_cls.id}: {exc}"
    return view_cls.id


def _first_plot(url: str, workspace: Path) -> tuple[str, float, str]:
    """One open-to-first-view as the page does it: the view's id (or its refusal); then, on the open file,
    the seconds from a click on the first object a plot shows to that plot, and what it showed."""
    from components.nwb.views import views_for
    from engines.io.policy import SourcePolicy
    from engines.nwb.index_store import IndexStore
    from engines.nwb.nwbfile import open_nwb

    policy = SourcePolicy(workspace=workspace, allow_private_urls=True, request_timeout_s=30.0)
    nwb = open_nwb(url, policy, IndexStore(workspace))
    try:
        shown = _build_view(nwb, "/")
        plotted = next(
            (o.path for o in nwb.index.walk() if views_for(nwb.index, o.path)[0].id not in _NOT_PLOTS), None
        )
        if plotted is None:
            return shown, 0.0, "no object to plot"
        started = time.perf_counter()
        drawn = _build_view(nwb, plotted)
        return shown, time.perf_counter() - started, f"{plotted} {drawn}"
    finally:
        nwb.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    files = sorted(TEST_DATA.rglob("*.nwb")) + generated_files(data / "first_plot")
    times: dict[str, float] = {}
    click_times: dict[str, float] = {}
    shown: dict[str, str] = {}
    plotted: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fresh = iter(range(1_000_000))
        url_of = {path: server.url_for(path.resolve().relative_to(ROOT).as_posix()) for path in files}
        _first_plot(url_of[files[0]], Path(tmp) / "warm-up")  # imports and thread start-up are not timed
        for path in files:
            label = path.resolve().relative_to(ROOT).as_posix()
            seconds, clicks = [], []
            for _ in range(runs):
                started = time.perf_counter()
                shown[label], click_s, plotted[label] = _first_plot(
                    url_of[path], Path(tmp) / str(next(fresh))
                )
                seconds.append(time.perf_counter() - started - click_s)
                clicks.append(click_s)
            times[label] = round(statistics.median(seconds), 4)
            click_times[label] = round(statistics.median(clicks), 4)
        flush_disk_writes()  # the block cache writes behind: let it finish before its folder goes
    summary = {
        "first_plot_p50_s": round(_percentile(list(times.values()), 0.5), 4),
        "first_plot_p95_s": round(_percentile(list(times.values()), 0.95), 4),
        "first_plot_files": len(times),
        "first_plot_by_file_s": times,
        "first_click_plot_p50_s": round(_percentile(list(click_times.values()), 0.5), 4),
        "first_click_plot_p95_s": round(_percentile(list(click_times.values()), 0.95), 4),
        "first_click_plot_by_file_s": click_times,
    }
    _print_slowest("first plot (open to the default view)", summary, "first_plot", times, shown)
    _print_slowest("first click to a plot (file open)", summary, "first_click_plot", click_times, plotted)
    return summary


def _print_slowest(
    title: str, summary: dict[str, Any], key: str, times: dict[str, float], what: dict[str, str]
) -> None:
    print(
        f"{title} over {len(times)} files: p50 {summary[key + '_p50_s']:.3f} s, "
        f"p95 {summary[key + '_p95_s']:.3f} s; slowest:"
    )
    for label, seconds in sorted(times.items(), key=lambda item: -item[1])[:5]:
        print(f"  {seconds:7.3f} s  {label}  ({what[label][:90]})")
