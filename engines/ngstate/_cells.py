"""Kernels for the offline demo: synthetic cells (image + labels), mip pyramids, per-cell metrics."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["synthesize_cells", "downsample_mean", "downsample_mode", "cell_metrics"]


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _place_centers(
    rng: np.random.Generator, shape: tuple[int, int, int], n_cells: int, radii: list[float]
) -> list[np.ndarray]:
    centers: list[np.ndarray] = []
    for radius in radii:
        margin = np.array([radius + 2] * 3)
        for _attempt in range(400):
            center = rng.uniform(margin, np.array(shape) - margin)
            if all(np.linalg.norm(center - c) > 0.9 * (radius + r) for c, r in zip(centers, radii)):
                break
        centers.append(center)
    return centers[:n_cells]


def synthesize_cells(shape: tuple[int, int, int], n_cells: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoidal bright cells in noise: ``(image uint8, labels uint32)``, both ``(x, y, z)``.

    Deterministic for a given seed. Labels are 1..n in placement order; each voxel belongs to
    the cell whose ellipsoid it lies deepest inside. Cell brightness falls off towards the rim.
    """
    rng = np.random.default_rng(seed)
    limit = min(shape) / 2 - 3
    sizes = [min(float(rng.uniform(5.0, 9.0)), limit) for _ in range(n_cells)]
    centers = _place_centers(rng, shape, n_cells, sizes)
    labels = np.zeros(shape, dtype=np.uint32)
    depth = np.full(shape, np.inf, dtype=np.float32)
    signal = np.zeros(shape, dtype=np.float32)
    for label, (center, size) in enumerate(zip(centers, sizes), start=1):
        semi_axes = size * rng.uniform(0.6, 1.45, 3)
        rotation = _random_rotation(rng)
        brightness = float(rng.uniform(90, 220))
        reach = int(math.ceil(semi_axes.max())) + 1
        lo = np.maximum(np.floor(center).astype(int) - reach, 0)
        hi = np.minimum(np.floor(center).astype(int) + reach + 1, shape)
        grid = np.stack(np.meshgrid(*[np.arange(a, b) + 0.5 for a, b in zip(lo, hi)], indexing="ij"), axis=-1)
        local = (grid - center) @ rotation
        q = np.sum((local / semi_axes) ** 2, axis=-1).astype(np.float32)
        window = tuple(slice(a, b) for a, b in zip(lo, hi))
        inside = (q <= 1.0) & (q < depth[window])
        labels[window][inside] = label
        depth[window][inside] = q[inside]
        signal[window][inside] = brightness * (1.0 - 0.35 * q[inside])
    image = 22.0 + ndimage.gaussian_filter(signal, sigma=1.0) + rng.normal(0.0, 6.0, shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), labels


def _blocks(array: np.ndarray) -> np.ndarray:
    """The 8 voxels of each 2x2x2 block, stacked on a last axis (odd edges dropped)."""
    x, y, z = (s // 2 * 2 for s in array.shape[:3])
    a = array[:x, :y, :z]
    return np.stack([a[i::2, j::2, k::2] for i in (0, 1) for j in (0, 1) for k in (0, 1)], axis=-1)


def downsample_mean(image: np.ndarray) -> np.ndarray:
    """Average 2x2x2 blocks (image pyramids)."""
    return np.rint(_blocks(image).astype(np.float32).mean(axis=-1)).astype(image.dtype)


def downsample_mode(labels: np.ndarray) -> np.ndarray:
    """The most frequent label of each 2x2x2 block (segmentation pyramids keep labels, never blend them)."""
    blocks = _blocks(labels)
    votes = np.stack(
        [(blocks == blocks[..., i : i + 1]).sum(axis=-1) for i in range(blocks.shape[-1])], axis=-1
    )
    return np.take_along_axis(blocks, votes.argmax(axis=-1)[..., None], axis=-1)[..., 0]


def _ellipsoid_shape(covariance: np.ndarray) -> tuple[float, float]:
    """Sphericity and elongation of the solid ellipsoid with the same second moments."""
    eigen = np.clip(np.linalg.eigvalsh(covariance), 1e-12, None)
    a, b, c = np.sqrt(5.0 * eigen)  # a solid ellipsoid's variance along a semi-axis s is s^2 / 5
    p = 1.6075  # Knud Thomsen's approximation of an ellipsoid's surface area
    area = 4 * math.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)
    volume = 4 / 3 * math.pi * a * b * c
    sphericity = math.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area
    return sphericity, float(max(a, b, c) / min(a, b, c))


def cell_metrics(
    image: np.ndarray, labels: np.ndarray, resolution_nm: tuple[float, float, float]
) -> dict[str, list]:
    """Per label (> 0): centroid (voxel coordinates, voxel centres at +0.5), size, intensity and shape."""
    flat = labels.ravel().astype(np.int64)
    n = int(flat.max()) + 1
    grid = np.indices(labels.shape, dtype=np.float64)
    coords = [grid[axis].ravel() + 0.5 for axis in range(3)]
    count = np.bincount(flat, minlength=n).astype(np.float64)
    sums = [np.bincount(flat, weights=c, minlength=n) for c in coords]
    pairs = {
        (i, j): np.bincount(flat, weights=coords[i] * coords[j], minlength=n)
        for i in range(3)
        for j in range(i, 3)
    }
    intensity = image.ravel().astype(np.float64)
    mean_intensity = np.bincount(flat, weights=intensity, minlength=n) / np.maximum(count, 1)
    max_intensity = ndimage.maximum(intensity.reshape(labels.shape), labels, index=np.arange(n))
    voxel_um3 = float(np.prod(resolution_nm)) / 1e9
    um = np.array(resolution_nm) / 1000.0
    table: dict[str, list] = {
        k: []
        for k in (
            "id",
            "x",
            "y",
            "z",
            "volume_voxels",
            "volume_um3",
            "mean_intensity",
            "max_intensity",
            "sphericity",
            "elongation",
        )
    }
    for label in (int(v) for v in np.flatnonzero(count) if v != 0):
        k = count[label]
        mean = [sums[i][label] / k for i in range(3)]
        cov = np.array(
            [
                [pairs[(min(i, j), max(i, j))][label] / k - mean[i] * mean[j] for j in range(3)]
                for i in range(3)
            ]
        )
        sphericity, elongation = _ellipsoid_shape(cov * np.outer(um, um))
        for key, value in (
            ("id", int(label)),
            ("x", round(mean[0], 2)),
            ("y", round(mean[1], 2)),
            ("z", round(mean[2], 2)),
            ("volume_voxels", int(k)),
            ("volume_um3", round(k * voxel_um3, 3)),
            ("mean_intensity", round(float(mean_intensity[label]), 2)),
            ("max_intensity", int(max_intensity[label])),
            ("sphericity", round(sphericity, 4)),
            ("elongation", round(elongation, 3)),
        ):
            table[key].append(value)
    return table
