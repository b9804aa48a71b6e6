"""Open a layer's precomputed volume and read boxes of it chunk by chunk, under the server's URL policy.

Chunks are fetched by this module (local files, or HTTP through the same checked GET as JSON
pointers: each redirect hop's address checked, a time limit, a size cap) and decoded by
cloud-volume's own chunk codecs (raw, gzip, jpeg, png, compressed_segmentation, ...). So a
volume on a private address is refused like any other URL, and a dead server fails in seconds
instead of hanging (cloud-volume's HTTP reader has no timeout). ``gs://`` and ``s3://`` sources
are read as public objects over HTTPS. Sharded volumes are read locally only.
"""

from __future__ import annotations

import gzip
import json
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np

from engines._progress import Cancel, Cancelled, Progress, is_cancelled
from engines.io.errors import DomainErrors, SourceError, SourceNotAllowed, raised_as
from engines.io.fetch import fetch_bytes
from engines.io.policy import SourcePolicy, resolve_local_path
from engines.io.remote_sources import public_prefix_url
from engines.ngstate._precomputed import Scale, VolumeInfo, chunk_boxes, clip_to_scale
from engines.ngstate.errors import VolumeError, VolumeTooLarge

__all__ = ["Volume", "VolumeInfo", "Scale", "open_volume"]

_ERRORS = DomainErrors(failed=VolumeError)
_INFO_MAX_BYTES = 4 * 1024 * 1024
_HTTP_THREADS = 8


class _ChunkStore(Protocol):
    description: str

    def read(self, key: str, max_bytes: int) -> bytes | None: ...


class _LocalStore:
    """A precomputed folder on this machine (``.gz`` chunk files are decompressed)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.description = str(self.folder)

    def read(self, key: str, max_bytes: int) -> bytes | None:
        path = (self.folder / key).resolve()
        if self.folder not in path.parents:
            raise VolumeError(f"The volume's info names '{key}', which lies outside its folder.")
        if path.is_file():
            return path.read_bytes()
        gz = path.with_name(path.name + ".gz")
        if gz.is_file():
            return gzip.decompress(gz.read_bytes())
        return None


class _HttpStore:
    """A precomputed volume served over HTTP(S): one checked, time-limited GET per chunk."""

    def __init__(self, base_url: str, policy: SourcePolicy) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.description = self.base_url

    def read(self, key: str, max_bytes: int) -> bytes | None:
        with raised_as(_ERRORS):
            return fetch_bytes(f"{self.base_url}/{key}", self.policy, max_bytes, missing_ok=True)


class Volume:
    """One precomputed volume: its ``info`` and chunked reads of boxes at any mip."""

    def __init__(self, store: _ChunkStore, info: VolumeInfo, source: str) -> None:
        self._store = store
        self.info = info
        self.source = source
        self._threads = _HTTP_THREADS if isinstance(store, _HttpStore) else 4

    def iter_blocks(
        self,
        lo: tuple[int, int, int],
        hi: tuple[int, int, int],
        mip: int = 0,
        progress: Progress | None = None,
        cancel: Cancel = None,
    ) -> Iterator[tuple[tuple[int, int, int], np.ndarray]]:
        """Yield ``(origin, block)`` for each chunk overlapping the box, cropped to it.

        ``lo``/``hi`` are voxel coordinates at this mip (``hi`` exclusive); blocks are
        ``(x, y, z, channels)`` arrays. Costs one read per chunk (missing chunks read as zeros,
        as Neuroglancer shows them); at most a thread pool's worth of chunks is held at once.
        """
        scale = self.info.scale(mip)
        if scale.sharded and not isinstance(self._store, _LocalStore):
            raise VolumeError(
                f"{self.source} is stored sharded at mip {mip}; "
                "sampling reads sharded volumes only from local folders."
            )
        lo, hi = clip_to_scale(scale, lo, hi, self.source)
        boxes = chunk_boxes(scale, lo, hi)
        chunk_bytes = (
            int(np.prod(scale.chunk_size)) * self.info.num_channels * np.dtype(self.info.data_type).itemsize
        )
        max_bytes = chunk_bytes * 4 + 1024 * 1024
        window = self._threads * 2  # chunks in flight: bounded memory, however large the box
        with ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="ngstate-chunk") as pool:
            pending: deque = deque()
            try:
                for done, box in enumerate(boxes, 1):
                    while len(pending) < window and done - 1 + len(pending) < len(boxes):
                        ahead = boxes[done - 1 + len(pending)]
                        pending.append(pool.submit(self._read_chunk, scale, ahead, max_bytes))
                    if is_cancelled(cancel):
                        raise Cancelled("Sampling was cancelled; run it again to continue.")
                    chunk = pending.popleft().result()
                    start, stop = box
                    crop_lo = [max(a, b) for a, b in zip(start, lo)]
                    crop_hi = [min(a, b) for a, b in zip(stop, hi)]
                    block = chunk[tuple(slice(a - s, b - s) for a, b, s in zip(crop_lo, crop_hi, start))]
                    if progress is not None:
                        progress(done / len(boxes), f"read chunk {done} of {len(boxes)}")
                    yield (crop_lo[0], crop_lo[1], crop_lo[2]), block
            finally:
                for future in pending:
                    future.cancel()

    def _read_chunk(
        self, scale: Scale, box: tuple[tuple[int, ...], tuple[int, ...]], max_bytes: int
    ) -> np.ndarray:
        from cloudvolume import chunks

        start, stop = box
        shape = (*(b - a for a, b in zip(start, stop)), self.info.num_channels)
        key = f"{scale.key}/" + "_".join(f"{a}-{b}" for a, b in zip(start, stop))
        data = self._store.read(key, max_bytes)
        try:
            return chunks.decode(
                data or b"",
                scale.encoding,
                shape=shape,
                dtype=self.info.data_type,
                block_size=scale.block_size,
            )
        except Exception as exc:  # codecs raise many kinds; the user needs to know which chunk is bad
            raise VolumeError(f"Chunk {key} of {self.source} could not be decoded ({exc}).") from exc

    def read_region(
        self,
        lo: tuple[int, int, int],
        hi: tuple[int, int, int],
        mip: int = 0,
        max_voxels: int = 64 * 1024**2,
        progress: Progress | None = None,
        cancel: Cancel = None,
    ) -> np.ndarray:
        """The box ``[lo, hi)`` (voxels at ``mip``, clipped to the volume) as one ``(x, y, z, c)`` array.

        Refuses (``VolumeTooLarge``) boxes over ``max_voxels`` before reading anything.
        """
        scale = self.info.scale(mip)
        lo, hi = clip_to_scale(scale, lo, hi, self.source)
        shape = tuple(b - a for a, b in zip(lo, hi))
        voxels = int(np.prod(shape))
        if voxels > max_voxels:
            raise VolumeTooLarge(
                f"The box holds {voxels:,} voxels at mip {mip}, over the limit of {max_voxels:,}. "
                "Choose a coarser mip or a smaller box."
            )
        out = np.zeros((*shape, self.info.num_channels), dtype=self.info.data_type, order="F")
        for origin, block in self.iter_blocks(lo, hi, mip, progress, cancel):
            at = tuple(slice(o - low, o - low + n) for o, low, n in zip(origin, lo, block.shape[:3]))
            out[at] = block
        return out


def _strip_format(source: str) -> str:
    if "://" in source:
        head, rest = source.split("://", 1)
        if head == "precomputed":
            return rest
        if head not in ("http", "https", "gs", "s3", "file"):
            raise VolumeError(
                f"'{head}://' sources are not supported for sampling; only precomputed volumes are."
            )
    return source


def _open_store(url: str, policy: SourcePolicy, aliases: Mapping[str, Path]) -> _ChunkStore:
    for prefix, folder in aliases.items():
        if url.rstrip("/") == prefix.rstrip("/") or url.startswith(prefix.rstrip("/") + "/"):
            return _LocalStore(Path(folder) / url[len(prefix.rstrip("/")) :].strip("/"))
    scheme = urlparse(url).scheme
    if scheme in ("gs", "s3"):
        return _HttpStore(public_prefix_url(url, policy), policy)
    if scheme in ("http", "https"):
        return _HttpStore(url, policy)
    path = urlparse(url).path if scheme == "file" else url
    try:
        info_path = resolve_local_path(str(Path(path) / "info"), policy)
    except SourceNotAllowed as exc:
        raise VolumeError(str(exc)) from exc
    except SourceError as exc:
        raise VolumeError(f"No precomputed volume at '{path}' (no info file).") from exc
    return _LocalStore(info_path.parent)


def open_volume(source: str, policy: SourcePolicy, aliases: Mapping[str, Path] | None = None) -> Volume:
    """Open a layer source (``precomputed://https://...``, ``gs://...``, a local folder) for sampling.

    ``aliases`` maps URL prefixes the app serves itself (the demo volume) to their local
    folders, so the server reads its own files instead of calling itself over HTTP.
    Costs one request (the ``info`` file).
    """
    url = _strip_format((source or "").strip())
    if not url:
        raise VolumeError("This layer has no data source to sample.")
    store = _open_store(url, policy, aliases or {})
    body = store.read("info", _INFO_MAX_BYTES)
    if body is None:
        raise VolumeError(f"No precomputed volume at {store.description} (its info file is missing).")
    try:
        info = VolumeInfo.from_json(json.loads(body))
    except (ValueError, KeyError, TypeError) as exc:
        raise VolumeError(
            f"The info file of {store.description} is not a precomputed volume description ({exc})."
        ) from exc
    return Volume(store, info, source)
