"""The precomputed format's ``info`` file and chunk grid: which files hold a box at a mip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Any

from engines.ngstate.errors import VolumeError

__all__ = ["Scale", "VolumeInfo", "chunk_boxes", "clip_to_scale", "to_mip"]

Vec = tuple[int, int, int]


@dataclass(frozen=True)
class Scale:
    """One resolution level: voxel size in nm, extent, chunking and encoding."""

    key: str
    size: Vec
    voxel_offset: Vec
    chunk_size: Vec
    resolution: tuple[float, float, float]
    encoding: str
    sharded: bool = False
    block_size: Vec | None = None

    @property
    def upper(self) -> Vec:
        return tuple(o + s for o, s in zip(self.voxel_offset, self.size))  # type: ignore[return-value]


@dataclass(frozen=True)
class VolumeInfo:
    """A precomputed volume's ``info``: data type, channels and its resolution levels (mips)."""

    type: str
    data_type: str
    num_channels: int
    scales: tuple[Scale, ...]

    @classmethod
    def from_json(cls, info: dict[str, Any]) -> VolumeInfo:
        scales = []
        for entry in info["scales"]:
            block = entry.get("compressed_segmentation_block_size")
            scales.append(
                Scale(
                    key=str(entry["key"]),
                    size=_vec(entry["size"]),
                    voxel_offset=_vec(entry.get("voxel_offset", [0, 0, 0])),
                    chunk_size=_vec(entry["chunk_sizes"][0]),
                    resolution=tuple(float(r) for r in entry["resolution"]),  # type: ignore[arg-type]
                    encoding=str(entry.get("encoding", "raw")),
                    sharded="sharding" in entry and entry["sharding"] is not None,
                    block_size=_vec(block) if block else None,
                )
            )
        if not scales:
            raise ValueError("it lists no scales")
        return cls(
            str(info.get("type", "image")),
            str(info["data_type"]),
            int(info.get("num_channels", 1)),
            tuple(scales),
        )

    def scale(self, mip: int) -> Scale:
        if not 0 <= mip < len(self.scales):
            raise VolumeError(f"This volume has mips 0 to {len(self.scales) - 1}; mip {mip} does not exist.")
        return self.scales[mip]

    @property
    def bounds_nm(self) -> tuple[tuple[float, float], ...]:
        """The extent of mip 0 in nanometres along x, y, z."""
        base = self.scales[0]
        return tuple((o * r, (o + s) * r) for o, s, r in zip(base.voxel_offset, base.size, base.resolution))


def _vec(values: Any) -> Vec:
    items = [int(v) for v in values]
    if len(items) != 3:
        raise ValueError(f"expected three numbers, got {values!r}")
    return items[0], items[1], items[2]


def to_mip(info: VolumeInfo, mip: int, lo: tuple[float, ...], hi: tuple[float, ...]) -> tuple[Vec, Vec]:
    """A mip-0 voxel box as the covering box of voxels at ``mip``."""
    base, scale = info.scales[0], info.scale(mip)
    factor = [s / b for s, b in zip(scale.resolution, base.resolution)]
    low = tuple(math.floor(v / f) for v, f in zip(lo, factor))
    high = tuple(math.ceil(v / f) for v, f in zip(hi, factor))
    return low, high  # type: ignore[return-value]


def clip_to_scale(scale: Scale, lo: tuple[int, ...], hi: tuple[int, ...], source: str) -> tuple[Vec, Vec]:
    """The box cut to the volume's extent; ``VolumeError`` when nothing of it is inside."""
    low = tuple(max(int(a), o) for a, o in zip(lo, scale.voxel_offset))
    high = tuple(min(int(b), u) for b, u in zip(hi, scale.upper))
    if any(b <= a for a, b in zip(low, high)):
        raise VolumeError(
            f"The box {list(lo)}-{list(hi)} lies outside {source}, whose voxels span "
            f"{list(scale.voxel_offset)}-{list(scale.upper)} at this mip."
        )
    return low, high  # type: ignore[return-value]


def chunk_boxes(scale: Scale, lo: Vec, hi: Vec) -> list[tuple[Vec, Vec]]:
    """``(start, stop)`` of every chunk file overlapping ``[lo, hi)``, z slowest (file name order)."""
    ranges = []
    for a, b, o, c, u in zip(lo, hi, scale.voxel_offset, scale.chunk_size, scale.upper):
        first, last = (a - o) // c, (b - 1 - o) // c
        ranges.append([(o + i * c, min(o + (i + 1) * c, u)) for i in range(first, last + 1)])
    boxes = []
    for (z0, z1), (y0, y1), (x0, x1) in product(ranges[2], ranges[1], ranges[0]):
        boxes.append(((x0, y0, z0), (x1, y1, z1)))
    return boxes
