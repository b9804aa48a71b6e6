"""The NWB page's views inline in a Jupyter notebook (Panel's notebook support), reading only what they draw.

    from neurodeck import nwb_figure nwb_figure("https://dandiarchive.s3.amazonaws.com/blobs/...",
    "/acquisition/ElectricalSeries", t0=10, t1=20)

The file is opened with the same engine as the server (ranged reads, the index cached in a
workspace folder), so a figure of a 10-s window of a remote 100 GB file reads about the bytes
of that window. In a notebook the reads run in the kernel; nothing is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import panel as pn

from components.nwb.controller import NwbFileController
from components.nwb.views import view_by_id, views_for
from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import NwbFile, open_nwb

__all__ = ["nwb_figure"]

_OPEN: dict[str, NwbFile] = {}
"""Files opened by this notebook's kernel, reused by later figures of the same file."""


def nwb_figure(
    source: str,
    path: str = "/",
    view: str | None = None,
    t0: float | None = None,
    t1: float | None = None,
    channels: Sequence[int] | None = None,
    units: Sequence[int] | None = None,
    workspace: str | Path | None = None,
    roots: Sequence[str | Path] | None = None,
    allow_private_urls: bool = True,
) -> pn.viewable.Viewable | pn.viewable.ServableMixin:
    """A live view of ``path`` in the NWB file ``source`` (path, https://, s3://, gs:// or dandi://).

    ``view`` picks one by id (traces, raster, events, intervals, psth, table, ...; default: the
    best for the object); ``t0``/``t1`` the time window, ``channels``/``units`` the picks, as in
    the app's deep links. ``workspace`` keeps the cached index (default ``~/.neurodeck``);
    local files may be read below ``roots`` (default: the current folder and the home folder).
    Private and loopback URLs are allowed by default: this is your own kernel.
    """
    pn.extension("tabulator")
    folder = Path(workspace or "~/.neurodeck").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    allowed = tuple(Path(r).expanduser() for r in roots) if roots else (Path.cwd(), Path.home())
    policy = SourcePolicy(workspace=folder, allowed_roots=allowed, allow_private_urls=allow_private_urls)
    nwb = _OPEN.get(source)
    if nwb is None:
        nwb = _OPEN[source] = open_nwb(source, policy, IndexStore(folder))
    candidates = views_for(nwb.index, path if path in nwb.index else nwb.resolve(path).path)
    chosen = view_by_id(view) if view else candidates[0]
    if chosen not in candidates:
        names = ", ".join(v.id for v in candidates)
        raise ValueError(f"The view '{view}' cannot show '{path}'; it can be shown as: {names}.")
    window = (float(t0), float(t1)) if t0 is not None and t1 is not None else None
    controller = NwbFileController(
        object_path=path,
        view=chosen.id,
        time_window=window,
        channels=list(channels or []),
        units=list(units or []),
    )
    return pn.panel(chosen(nwb, path, None, controller).__panel__())
