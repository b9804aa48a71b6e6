"""Frames of image series, ROI masks of a PlaneSegmentation, and still images.

A frame costs one read of that frame (one plane for volumes). Masks cost the masks of the
first ``max_rois`` ROIs, read in batches so memory stays near one batch. Images are stored
as (x, y[, channel]) arrays and are returned exactly as stored, not transposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

import numpy as np

from engines.nwb.errors import NwbReadError
from engines.nwb.extract._clock import series_clock
from engines.nwb.extract._common import as_text, child, is_numeric, read
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["Frame", "RoiMasks", "count_frames", "read_frame", "read_plane_masks", "read_images"]

_MASK_BATCH_VALUES = 1 << 24
"""Dense masks are read this many values (128 MB of float64) at a time."""

_VOLUME_TYPES = ("TwoPhotonSeries", "OnePhotonSeries")
_NAMES_LISTED = 5


@dataclass
class Frame:
    """One frame: 2-D (grayscale) or (x, y, 3|4) colour; the middle plane of a volume."""

    image: np.ndarray
    index: int
    n_frames: int
    time: float | None


@dataclass
class RoiMasks:
    """All ROIs on one image: pixel value k is ROI k (1-based, ``roi_ids[k - 1]``), 0 is background."""

    label_image: np.ndarray
    roi_ids: list[int]
    reference: np.ndarray | None


def _external_files(f: NwbFile, path: str, external: ObjectInfo) -> NwbReadError:
    names = list(dict.fromkeys(as_text(n) for n in np.atleast_1d(read(f, external, slice(0, 100)))))
    more = f" and {len(names) - _NAMES_LISTED} more" if len(names) > _NAMES_LISTED else ""
    listed = ", ".join(names[:_NAMES_LISTED]) + more
    return NwbReadError(
        f"The frames of '{path}' are not in this NWB file but in external files: {listed}. "
        "Open those files (next to the NWB file) with an image or video viewer."
    )


def _frame_data(f: NwbFile, path: str) -> ObjectInfo:
    """The series' frame dataset, or a typed error saying where the frames are (index only)."""
    data = child(f, path, "data")
    external = child(f, path, "external_file")
    fmt = child(f, path, "format")
    stored_outside = fmt is not None and fmt.has_value and as_text(fmt.value) == "external"
    if external is not None and (data is None or stored_outside or not data.shape or data.shape[0] == 0):
        raise _external_files(f, path, external)
    if data is None or data.kind != "dataset":
        raise NwbReadError(f"'{path}' has no data. The file is incomplete or this is not an image series.")
    if not is_numeric(data):
        raise UnsupportedData(
            f"'{path}' holds {data.dtype} data, not pixel values. Open it in the raw data view."
        )
    if len(data.shape or []) not in (3, 4):
        raise UnsupportedData(
            f"'{path}' holds {len(data.shape or [])}-D data; frames need (frame, x, y) or "
            "(frame, x, y, z|colour). Open it in the Traces view."
        )
    return data


def count_frames(f: NwbFile, path: str) -> int:
    """Number of frames from the index (no reads): the data's length, or the timestamps' for external
    files."""
    data = child(f, path, "data")
    if data is not None and len(data.dims) >= 3 and child(f, path, "external_file") is None:
        return data.dims[0]
    timestamps = child(f, path, "timestamps")
    if timestamps is not None and timestamps.shape:
        return timestamps.shape[0]
    return data.shape[0] if data is not None and data.shape else 0


def _frame_time(f: NwbFile, path: str, index: int) -> float | None:
    try:
        clock = series_clock(f, path)
    except NwbReadError:  # a frame without a time is still a frame: the view shows its index
        return None
    timestamps = clock.timestamps
    if timestamps is None:
        return clock.starting_time + index / clock.rate
    if timestamps.shape and index < timestamps.shape[0]:
        return float(read(f, timestamps, slice(index, index + 1))[0])
    return None


def read_frame(f: NwbFile, path: str, index: int = 0) -> Frame:
    """Frame ``index`` of an ImageSeries (TwoPhoton, OnePhoton, Optical, ImageMask ...), as stored.

    One read of one frame; for 4-D volumes (frame, x, y, z) only the middle z plane is read.
    The last axis of 4-D data is colour when it has 3 or 4 entries, except for microscopy series.
    """
    data = _frame_data(f, path)
    n_frames = data.dims[0]
    if not 0 <= index < n_frames:
        raise InvalidRequest(f"'{path}' has frames 0–{n_frames - 1}; frame {index} does not exist.")
    volume = len(data.dims) == 4 and not (
        data.dims[3] in (3, 4) and not any(f.index.is_a(path, t) for t in _VOLUME_TYPES)
    )
    selection = (index, slice(None), slice(None), data.dims[3] // 2) if volume else (index,)
    image = np.asarray(read(f, data, selection))
    return Frame(image=image, index=index, n_frames=n_frames, time=_frame_time(f, path, index))


def _is_picture(info: ObjectInfo | None) -> TypeGuard[ObjectInfo]:
    return (
        info is not None
        and info.kind == "dataset"
        and is_numeric(info)
        and len(info.dims) in (2, 3)
        and (len(info.dims) == 2 or info.dims[2] in (3, 4))
    )


def read_images(f: NwbFile, path: str) -> list[tuple[str, np.ndarray]]:
    """(name, array) for each image of an Images container in its stored order, or for one Image dataset.

    One read per image.
    """
    info = f.resolve(path)
    if info.kind == "dataset":
        if not _is_picture(info):
            raise UnsupportedData(f"'{path}' is not an image (2-D, or 3-D with 3 or 4 colour channels).")
        return [(info.name, np.asarray(read(f, info)))]
    order = child(f, path, "order_of_images")
    names = list(info.children)
    if order is not None and order.kind == "dataset":
        paths = order.value if order.has_value else []
        ordered = [p.rsplit("/", 1)[-1] for p in paths if isinstance(p, str)]
        names = ordered + [n for n in names if n not in ordered]
    pictures = [(name, child(f, path, name)) for name in names]
    return [(name, np.asarray(read(f, picture))) for name, picture in pictures if _is_picture(picture)]


def _reference_image(f: NwbFile, path: str, shape: tuple[int, ...] | None) -> np.ndarray | None:
    """A mean image for the plane: a 2-D image named like 'mean' in an Images container, preferring
    the PlaneSegmentation's own processing module and the masks' shape (index search, one read)."""
    module = "/".join(path.split("/")[:3])
    best, best_score = None, 0
    for container in f.index.find_by_type("Images"):
        for name in container.children:
            info = child(f, container.path, name)
            if "mean" not in name.lower() or not _is_picture(info) or len(info.dims) != 2:
                continue
            score = (
                1
                + 2 * (shape is not None and tuple(info.dims) == shape)
                + container.path.startswith(module + "/")
            )
            if score > best_score:
                best, best_score = info, score
    return np.asarray(read(f, best)) if best is not None else None


def _label_dense(f: NwbFile, masks: ObjectInfo, n_rois: int) -> np.ndarray:
    """Labels from image_mask (roi, x, y[, z]); a volume's z is collapsed by maximum."""
    height, width = masks.dims[1], masks.dims[2]
    labels = np.zeros((height, width), dtype=np.int32)
    best = np.zeros((height, width))
    batch = max(1, _MASK_BATCH_VALUES // int(np.prod(masks.dims[1:])))
    for first in range(0, n_rois, batch):
        weights = np.asarray(read(f, masks, slice(first, min(first + batch, n_rois))), dtype=np.float64)
        if weights.ndim == 4:
            weights = weights.max(axis=3)
        top, strongest = weights.argmax(axis=0), weights.max(axis=0)
        better = strongest > best
        labels[better] = first + top[better] + 1
        best[better] = strongest[better]
    return labels


def _label_sparse(
    f: NwbFile, pixels: ObjectInfo, index: ObjectInfo, n_rois: int, shape: tuple[int, ...] | None
) -> np.ndarray:
    """Labels from pixel_mask / voxel_mask (x, y[, z], weight) rows: the page of index and one slice of
    pixels."""
    ends = np.asarray(read(f, index, slice(0, n_rois)), dtype=np.int64)
    table = read(f, pixels, slice(0, int(ends[-1]) if len(ends) else 0))
    fields = table.dtype.names or ()
    if not {"x", "y"} <= set(fields):
        raise NwbReadError(f"'{pixels.path}' has no x and y fields, so its ROIs cannot be drawn.")
    x, y = table["x"].astype(np.int64), table["y"].astype(np.int64)
    weight = table["weight"].astype(np.float64) if "weight" in fields else np.ones(len(table))
    roi = np.repeat(np.arange(n_rois), np.diff(np.concatenate([[0], ends])))
    height = max(int(x.max()) + 1 if len(x) else 1, shape[0] if shape else 0)
    width = max(int(y.max()) + 1 if len(y) else 1, shape[1] if shape else 0)
    labels = np.zeros((height, width), dtype=np.int32)
    strongest_first = np.lexsort((roi, -weight))  # ties go to the earlier ROI, as with dense masks
    _, winners = np.unique(x[strongest_first] * width + y[strongest_first], return_index=True)
    chosen = strongest_first[winners]
    labels[x[chosen], y[chosen]] = roi[chosen] + 1
    return labels


def read_plane_masks(f: NwbFile, path: str, max_rois: int = 2000) -> RoiMasks:
    """ROI labels of the first ``max_rois`` ROIs of a PlaneSegmentation, over its mean image if one is found.

    Costs the masks of those ROIs (dense: rois × x × y values; sparse: their pixel rows), the
    ids, and the reference image. Where ROIs overlap the pixel goes to the larger weight.
    """
    ids_info = child(f, path, "id")
    n_rois = min((ids_info.shape or [0])[0] if ids_info is not None else 0, max_rois)
    dense = child(f, path, "image_mask")
    sparse = next(
        (
            (m, child(f, path, f"{m.name}_index"))
            for m in (child(f, path, "pixel_mask"), child(f, path, "voxel_mask"))
            if m is not None
        ),
        None,
    )
    if dense is not None and len(dense.dims) in (3, 4) and is_numeric(dense):
        reference = _reference_image(f, path, tuple(dense.dims[1:3]))
        labels = _label_dense(f, dense, n_rois)
    elif sparse is not None and sparse[1] is not None:
        reference = _reference_image(f, path, None)
        labels = _label_sparse(
            f, sparse[0], sparse[1], n_rois, reference.shape if reference is not None else None
        )
    else:
        raise UnsupportedData(
            f"'{path}' has neither image_mask nor pixel_mask, so there are no ROI shapes to draw. "
            "Open it in the Table view."
        )
    ids = read(f, ids_info, slice(0, n_rois)) if ids_info is not None else np.arange(n_rois)
    return RoiMasks(label_image=labels, roi_ids=[int(i) for i in ids], reference=reference)
