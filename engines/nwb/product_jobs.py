"""The NWB products as job kinds (this engine's share of the job catalogue) and the plan of which a file
needs.

Kinds are module-level functions bound to a ``SourcePolicy`` with ``functools.partial``, so
worker processes and Dask workers can pickle and import them. Each opens the file through
``open_nwb`` (same address and root checks as the server), so a job whose source vanished
fails with that reason on its record.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from engines.dandi import MAX_PAGE_SIZE, DandiArchive
from engines.io.policy import SourcePolicy
from engines.jobs import JobContext, JobEnvironment, JobKind, ResultStore, run_in_child_process
from engines.jobs.model import hash_inputs
from engines.nwb.index_store import workspace_index_store
from engines.nwb.nwbfile import NwbFile, open_nwb
from engines.nwb.products import SpikeDensityPyramid, build_spike_density_pyramid
from engines.nwb.products.ephys_summary import summarize_electrical_series
from engines.nwb.products.preview_movie import preview_movie_from_series
from engines.nwb.products.rastermap_order import rastermap_order_from_pyramid

__all__ = [
    "SPIKE_DENSITY",
    "RASTERMAP",
    "PREVIEW_MOVIE",
    "EPHYS_SUMMARY",
    "job_kinds",
    "product_inputs",
    "plan_product_jobs",
]

SPIKE_DENSITY = "spike-density"
RASTERMAP = "rastermap"
PREVIEW_MOVIE = "preview-movie"
EPHYS_SUMMARY = "ephys-summary"

CODE_VERSIONS = {SPIKE_DENSITY: "1", RASTERMAP: "1", PREVIEW_MOVIE: "1", EPHYS_SUMMARY: "1"}
"""Bump a kind's version when its output changes: results are reused per (kind, inputs, version)."""


def _open(inputs: dict[str, Any], policy: SourcePolicy) -> NwbFile:
    return open_nwb(inputs["source"], policy, workspace_index_store(policy.workspace))


def run_spike_density(inputs: dict[str, Any], ctx: JobContext, *, policy: SourcePolicy) -> dict[str, Any]:
    nwb = _open(inputs, policy)
    try:
        summary = build_spike_density_pyramid(
            nwb.dataset(f"{inputs['path']}/spike_times"),
            nwb.dataset(f"{inputs['path']}/spike_times_index"),
            ctx.output_dir,
            base_bin_s=float(inputs.get("base_bin_s", 0.02)),
            progress=ctx.report,
        )
    finally:
        nwb.close()
    return summary.to_dict()


def _order_units(pyramid_dir: str, out_dir: str) -> dict[str, Any]:
    """In the child process: Rastermap's fit reports nothing until it returns, so it runs where a cancel can
    kill it."""
    order = rastermap_order_from_pyramid(SpikeDensityPyramid.open(pyramid_dir), out_dir=out_dir)
    return {"n_units": int(len(order.order)), "params": order.params}


def run_rastermap(inputs: dict[str, Any], ctx: JobContext, *, policy: SourcePolicy) -> dict[str, Any]:
    """Orders the units over the spike-density job's pyramid when it is published; else builds one here.

    The fit runs in a child process (cancel stops it within a second); progress is the
    elapsed time against an estimate from the unit count (about 1 s for 35 units, 1-3 min
    for 1,000).
    """
    density_inputs = {"source": inputs["source"], "path": inputs["path"]}
    pyramid_dir = ResultStore(policy.workspace).path_for(
        SPIKE_DENSITY, hash_inputs(density_inputs), CODE_VERSIONS[SPIKE_DENSITY]
    )
    if pyramid_dir is None:
        nwb = _open(inputs, policy)
        try:
            build_spike_density_pyramid(
                nwb.dataset(f"{inputs['path']}/spike_times"),
                nwb.dataset(f"{inputs['path']}/spike_times_index"),
                ctx.output_dir,
                progress=lambda f, m: ctx.report(0.5 * f, m),
            )
        finally:
            nwb.close()
        pyramid_dir = ctx.output_dir
    n_units = SpikeDensityPyramid.open(pyramid_dir).n_units
    return run_in_child_process(
        _order_units,
        {"pyramid_dir": str(pyramid_dir), "out_dir": str(ctx.output_dir)},
        ctx,
        label=f"Rastermap over {n_units:,} units",
        progress_from=0.5,
        expected_s=5.0 + 0.1 * n_units,
    )


def run_preview_movie(inputs: dict[str, Any], ctx: JobContext, *, policy: SourcePolicy) -> dict[str, Any]:
    nwb = _open(inputs, policy)
    try:
        movie = preview_movie_from_series(
            nwb.h5[nwb.resolve(inputs["path"]).path], ctx.output_dir, progress=ctx.report
        )
    finally:
        nwb.close()
    return {
        key: value for key, value in vars(movie).items() if isinstance(value, (int, float)) or key == "codec"
    }


def electrode_positions(nwb: NwbFile, path: str) -> np.ndarray | None:
    """x/y of each channel of a series from its electrodes region and table (None when absent)."""
    region_path = f"{path}/electrodes"
    if region_path not in nwb.index:
        return None
    table = (nwb.resolve(region_path).attrs.get("table") or {}).get("ref")
    if not table:
        return None
    columns = [c for c in (("x", "y"), ("rel_x", "rel_y")) if all(f"{table}/{n}" in nwb.index for n in c)]
    if not columns:
        return None
    rows = np.atleast_1d(np.asarray(nwb.dataset(region_path)[()], dtype=np.int64))
    data = nwb.index.objects.get(f"{path}/data")
    n_channels = data.shape[1] if data is not None and data.shape and len(data.shape) > 1 else 1
    if len(rows) != n_channels:  # a region that does not match the data's channels says nothing reliable
        return None
    xy = [np.asarray(nwb.dataset(f"{table}/{name}")[()], dtype=np.float64) for name in columns[0]]
    positions = np.stack([xy[0][rows], xy[1][rows]], axis=1)
    return positions if np.isfinite(positions).any() else None


def run_ephys_summary(inputs: dict[str, Any], ctx: JobContext, *, policy: SourcePolicy) -> dict[str, Any]:
    nwb = _open(inputs, policy)
    try:
        path = nwb.resolve(inputs["path"]).path
        summary = summarize_electrical_series(
            nwb.h5[path],
            ctx.output_dir,
            electrode_positions=electrode_positions(nwb, path),
            progress=ctx.report,
        )
    finally:
        nwb.close()
    return {"n_channels": summary.n_channels}


_INPUTS = ("source", "path")


def job_kinds(env: JobEnvironment) -> list[JobKind]:
    """The four NWB product kinds, reading files under ``env.source_policy``; inputs ``{"source",
    "path"}``."""
    policy = env.source_policy
    return [
        JobKind(
            SPIKE_DENSITY,
            partial(run_spike_density, policy=policy),
            CODE_VERSIONS[SPIKE_DENSITY],
            "Multiscale spike-count pyramid of a Units table",
            _INPUTS,
        ),
        JobKind(
            RASTERMAP,
            partial(run_rastermap, policy=policy),
            CODE_VERSIONS[RASTERMAP],
            "Rastermap ordering of units",
            _INPUTS,
        ),
        JobKind(
            PREVIEW_MOVIE,
            partial(run_preview_movie, policy=policy),
            CODE_VERSIONS[PREVIEW_MOVIE],
            "H.264 preview of the first 60 s of an imaging series",
            _INPUTS,
        ),
        JobKind(
            EPHYS_SUMMARY,
            partial(run_ephys_summary, policy=policy),
            CODE_VERSIONS[EPHYS_SUMMARY],
            "Per-channel firing-rate estimate and power spectrum",
            _INPUTS,
        ),
    ]


def product_inputs(nwb: NwbFile, path: str) -> dict[str, Any]:
    """The inputs of a product of ``path`` in an open file: its source location and the resolved object
    path."""
    return {"source": nwb.source.location, "path": nwb.resolve(path).path}


def plan_product_jobs(nwb: NwbFile) -> list[tuple[str, dict[str, Any]]]:
    """Every (kind, inputs) this file's objects call for; decided from the index alone."""
    source = nwb.source.location
    plan: list[tuple[str, dict[str, Any]]] = []
    for info in nwb.index.find_by_type("Units"):
        if f"{info.path}/spike_times_index" in nwb.index:
            plan += [
                (SPIKE_DENSITY, {"source": source, "path": info.path}),
                (RASTERMAP, {"source": source, "path": info.path}),
            ]
    for info in nwb.index.find_by_type("ImageSeries"):
        data = nwb.index.objects.get(f"{info.path}/data")
        if data is not None and data.shape and len(data.shape) >= 3 and data.shape[0] > 0:
            plan.append((PREVIEW_MOVIE, {"source": source, "path": info.path}))
    for info in nwb.index.find_by_type("ElectricalSeries"):
        if not nwb.index.is_a(info.path, "SpikeEventSeries"):  # snippets, not a continuous signal
            plan.append((EPHYS_SUMMARY, {"source": source, "path": info.path}))
    return plan


def expand_sources(text: str, policy: SourcePolicy) -> list[str]:
    """Sources named by ``queue --source``: a URL, a folder (all .nwb below), a file of URLs, a dandiset id.

    A dandiset id costs one DANDI API request per 200 assets (``DandiArchive``: the source policy,
    a time limit and a size cap on each answer); it raises ``SourceError`` when the archive cannot answer.
    """
    text = text.strip()
    if re.fullmatch(r"\d{6}", text):
        return _dandiset_nwb_files(text, DandiArchive(policy))
    path = Path(text).expanduser()
    if "://" not in text and path.is_dir():
        return sorted(str(p) for p in path.rglob("*.nwb"))
    if "://" not in text and path.is_file() and path.suffix in (".txt", ".list", ".urls"):
        return [
            line.strip()
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return [text]


def _dandiset_nwb_files(identifier: str, archive: DandiArchive) -> list[str]:
    """``dandi://`` addresses of every .nwb asset in the draft of a dandiset, page by page."""
    found: list[str] = []
    page = 1
    while True:
        listed = archive.assets(identifier, "draft", page=page, page_size=MAX_PAGE_SIZE)
        found += [
            f"dandi://{identifier}/{asset.path}" for asset in listed.items if asset.path.endswith(".nwb")
        ]
        if not listed.has_next:
            return found
        page += 1
