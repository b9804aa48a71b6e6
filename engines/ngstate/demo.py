"""The offline demo: a small precomputed image + segmentation of synthetic cells, and its ROI table.

``ensure_demo_volume(workspace)`` writes it once into ``<workspace>/ngstate/demo-v1/``
(``image/`` and ``segmentation/``, raw uncompressed chunks that Neuroglancer, cloud-volume
and tensorstore all read, a three-level mip pyramid, about 4.5 MB). The app serves that folder
over HTTP from its own origin; ``build_demo_state(base_url)`` is the viewer state that shows it.
The volume is written here rather than with cloud-volume (which reads it back in the tests):
importing cloud-volume imports jsonschema, whose format checkers compile 38 grammars (7 s of CPU),
and the volume is written at every start of a server on a fresh workspace. Raw chunks are a
small part of the precomputed format: an ``info`` file and one file per chunk, x fastest.
``build_demo_roi_table()`` recomputes ``assets/demo_rois.csv`` (centroids in voxel coordinates,
ids matching the segmentation, and metrics) from the same deterministic volume.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from engines._filesystem import atomic_writer, build_lock
from engines.ngstate._cells import cell_metrics, downsample_mean, downsample_mode, synthesize_cells
from engines.ngstate.layers import DEFAULT_IMAGE_SHADER
from engines.ngstate.state import NgState

__all__ = [
    "DEMO_SHAPE",
    "DEMO_RESOLUTION_NM",
    "DEMO_CELLS",
    "DemoVolume",
    "ensure_demo_volume",
    "build_demo_state",
    "build_demo_arrays",
    "build_demo_roi_table",
    "write_demo_rois_csv",
    "roi_table_from_volume",
]

DEMO_SHAPE = (128, 128, 48)
"""Voxels along x, y, z at mip 0."""
DEMO_RESOLUTION_NM = (500.0, 500.0, 500.0)
DEMO_CELLS = 24
DEMO_SEED = 20240607
DEMO_MIPS = 3
_CHUNK = (64, 64, 16)
_FOLDER = "demo-v1"
BUILD_WAIT_S = 120.0
"""How long a second process waits for the volume another one is writing (1-2 s) before writing its own."""


@dataclass(frozen=True)
class DemoVolume:
    """Where the demo lives: ``folder`` is what the app serves; its ``image`` and ``segmentation`` sub-folders
    are the layers."""

    folder: Path

    @property
    def image(self) -> Path:
        return self.folder / "image"

    @property
    def segmentation(self) -> Path:
        return self.folder / "segmentation"


def build_demo_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The demo's mip-0 ``(image uint8, labels uint32)`` as ``(x, y, z)`` arrays; deterministic, about 0.5
    s."""
    return synthesize_cells(DEMO_SHAPE, DEMO_CELLS, DEMO_SEED)


def _write_layer(
    path: Path, pyramid: list[np.ndarray], layer_type: str, extra_info: dict | None = None
) -> None:
    """One precomputed layer: ``info`` (a scale per mip, each halving mip 0) and its raw chunks."""
    scales = []
    for mip, data in enumerate(pyramid):
        resolution = [r * 2**mip for r in DEMO_RESOLUTION_NM]
        key = "_".join(str(float(r)) for r in resolution)
        scales.append(
            {
                "chunk_sizes": [list(_CHUNK)],
                "encoding": "raw",
                "key": key,
                "resolution": resolution,
                "size": list(data.shape),
                "voxel_offset": [0, 0, 0],
            }
        )
        _write_raw_chunks(path / key, data)
    info = {
        "data_type": str(pyramid[0].dtype),
        "num_channels": 1,
        "scales": scales,
        "type": layer_type,
        **(extra_info or {}),
    }
    (path / "info").write_text(json.dumps(info, indent=2, sort_keys=True))


def _write_raw_chunks(folder: Path, data: np.ndarray) -> None:
    """Each chunk of the ``(x, y, z)`` array as ``x0-x1_y0-y1_z0-z1``: its voxels with x varying fastest
    (the format's order), edge chunks cut to the volume."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = [range(0, size, chunk) for size, chunk in zip(data.shape, _CHUNK)]
    for x in steps[0]:
        for y in steps[1]:
            for z in steps[2]:
                block = data[x : x + _CHUNK[0], y : y + _CHUNK[1], z : z + _CHUNK[2]]
                name = "_".join(f"{a}-{a + n}" for a, n in zip((x, y, z), block.shape))
                (folder / name).write_bytes(np.ascontiguousarray(block.transpose()).tobytes())


def _write_segment_properties(path: Path, labels: np.ndarray) -> None:
    ids = [str(i) for i in np.unique(labels) if i]
    folder = path / "segment_properties"
    folder.mkdir(parents=True, exist_ok=True)

    (folder / "info").write_text(
        json.dumps(
            {
                "@type": "neuroglancer_segment_properties",
                "inline": {
                    "ids": ids,
                    "properties": [{"id": "label", "type": "label", "values": [f"cell {i}" for i in ids]}],
                },
            }
        )
    )


def _pyramid(array: np.ndarray, reduce) -> list[np.ndarray]:
    levels = [array]
    for _ in range(DEMO_MIPS - 1):
        levels.append(reduce(levels[-1]))
    return levels


def ensure_demo_volume(workspace: Path) -> DemoVolume:
    """Create the demo volume once (about 1-2 s and 4.5 MB); later calls only check that it exists.

    Built once for every process sharing the workspace: the builder holds a workspace lock
    (``build_lock``) and the others wait for it. Built in a temporary folder and renamed into
    place, so a crash leaves no half volume and nobody serves one being written.
    """
    root = Path(workspace) / "ngstate"
    final = root / _FOLDER
    if (final / "segmentation" / "info").is_file():
        return DemoVolume(final)
    with build_lock(workspace, "ngstate-demo", BUILD_WAIT_S):
        if (final / "segmentation" / "info").is_file():
            return DemoVolume(final)
        root.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=root, prefix=".demo-building-"))
        try:
            image, labels = build_demo_arrays()
            _write_layer(temporary / "image", _pyramid(image, downsample_mean), "image")
            _write_layer(
                temporary / "segmentation",
                _pyramid(labels, downsample_mode),
                "segmentation",
                {"segment_properties": "segment_properties"},
            )
            _write_segment_properties(temporary / "segmentation", labels)
            try:  # a folder (tensorstore wrote many files): it appears whole or not at all
                os.rename(temporary, final)
            except OSError:
                if not (final / "segmentation" / "info").is_file():
                    raise
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return DemoVolume(final)


def build_demo_state(base_url: str, lut: tuple[float, float] = (15, 200)) -> NgState:
    """The viewer state that shows the demo served at ``base_url`` (the URL of the demo folder).

    Dimensions are in voxels of 500 nm, so positions equal the voxel coordinates of
    ``assets/demo_rois.csv``. Layers: ``image`` (with a contrast range) and ``segmentation``.
    """
    base = base_url.rstrip("/")
    metres = [r / 1e9 for r in DEMO_RESOLUTION_NM]
    extent = max(DEMO_SHAPE[:2])
    return NgState._wrap(
        {
            "dimensions": {name: [m, "m"] for name, m in zip("xyz", metres)},
            "position": [s / 2 for s in DEMO_SHAPE],
            "crossSectionScale": round(extent / 380, 4),
            "projectionScale": float(extent * 1.6),
            "layers": [
                {
                    "type": "image",
                    "source": f"precomputed://{base}/image",
                    "tab": "rendering",
                    "shader": DEFAULT_IMAGE_SHADER,
                    "shaderControls": {"normalized": {"range": list(lut)}},
                    "name": "image",
                },
                {
                    "type": "segmentation",
                    "source": f"precomputed://{base}/segmentation",
                    "tab": "segments",
                    "selectedAlpha": 0.4,
                    "segments": [],
                    "name": "segmentation",
                },
            ],
            "selectedLayer": {"layer": "image"},
            "layout": "xy-3d",
        }
    )


def _roi_frame(image: np.ndarray, labels: np.ndarray) -> pl.DataFrame:
    table = pl.DataFrame(cell_metrics(image, labels, DEMO_RESOLUTION_NM))
    median = table["mean_intensity"].median()
    return table.with_columns(
        pl.when(pl.col("mean_intensity") >= median)
        .then(pl.lit("bright"))
        .otherwise(pl.lit("dim"))
        .alias("brightness")
    )


def build_demo_roi_table() -> pl.DataFrame:
    """One row per demo cell: id (= segment id), x, y, z (voxel coordinates), volume, intensity and shape."""
    return _roi_frame(*build_demo_arrays())


def roi_table_from_volume(demo: DemoVolume) -> pl.DataFrame:
    """The same table, measured on the written volume (read back with cloud-volume)."""
    from cloudvolume import CloudVolume

    image = np.asarray(CloudVolume(f"file://{demo.image}", progress=False)[:, :, :])[..., 0]
    labels = np.asarray(CloudVolume(f"file://{demo.segmentation}", progress=False)[:, :, :])[..., 0]
    return _roi_frame(image, labels)


def write_demo_rois_csv(path: Path) -> Path:
    """Write the demo ROI table as CSV (how ``assets/demo_rois.csv`` is made), atomically."""
    path = Path(path)
    with atomic_writer(path) as handle:
        build_demo_roi_table().write_csv(handle)
    return path
