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


def _first_plot(url: str, workspace: Path) -> str:
    """One open-to-first-view as the page does it; returns the view's id, or its refusal."""
    import panel as pn

    from components.background import BackgroundWork
    from components.nwb.controller import NwbFileController
    from components.nwb.views import views_for
    from engines.errors import NeurodeckError
    from engines.io.policy import SourcePolicy
    from engines.nwb.index_store import IndexStore
    from engines.nwb.nwbfile import open_nwb

    policy = SourcePolicy(workspace=workspace, allow_private_urls=True, request_timeout_s=30.0)
    nwb = open_nwb(url, policy, IndexStore(workspace))
    try:
        path = "/"
        view_cls = views_for(nwb.index, path)[0]
        try:
            view = view_cls(
                nwb, path, None, NwbFileController(object_path=path), BackgroundWork(name="bench")
            )
            try:
                pn.panel(view.__panel__()).get_root()
            finally:
                view.dispose()
        except NeurodeckError as exc:
            return f"{view_cls.id}: {exc}"
        return view_cls.id
    finally:
        nwb.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    files = sorted(TEST_DATA.rglob("*.nwb")) + generated_files(data / "first_plot")
    times: dict[str, float] = {}
    shown: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fresh = iter(range(1_000_000))
        url_of = {path: server.url_for(path.resolve().relative_to(ROOT).as_posix()) for path in files}
        _first_plot(url_of[files[0]], Path(tmp) / "warm-up")  # imports and thread start-up are not timed
        for path in files:
            label = path.resolve().relative_to(ROOT).as_posix()
            seconds = []
            for _ in range(runs):
                started = time.perf_counter()
                shown[label] = _first_plot(url_of[path], Path(tmp) / str(next(fresh)))
                seconds.append(time.perf_counter() - started)
            times[label] = round(statistics.median(seconds), 4)
        flush_disk_writes()  # the block cache writes behind: let it finish before its folder goes
    values = list(times.values())
    summary = {
        "first_plot_p50_s": round(_percentile(values, 0.5), 4),
        "first_plot_p95_s": round(_percentile(values, 0.95), 4),
        "first_plot_files": len(times),
        "first_plot_by_file_s": times,
    }
    print(
        f"first plot over {len(times)} files: p50 {summary['first_plot_p50_s']:.3f} s, "
        f"p95 {summary['first_plot_p95_s']:.3f} s; slowest:"
    )
    for label, seconds in sorted(times.items(), key=lambda item: -item[1])[:5]:
        print(f"  {seconds:7.3f} s  {label}  ({shown[label][:80]})")
    return summary
