"""A small NWB file with two cameras in movie files beside it and one ImageSeries with its frames inside.

Every frame shows its own number, so sync is checkable by eye and by pixels: the top band holds
the frame number in binary (8 blocks, most significant first, white = 1) and a white bar below
moves right by 2 pixels a frame.

- ``/acquisition/camera_side``: ``camera_side.<ext>``, 40 frames at 10 fps from t = 0 (starting_time
  and rate).
- ``/acquisition/camera_top``: ``camera_top_part1.<ext>`` (frames 0-19) and ``camera_top_part2.<ext>``
  (frames 20-39) with ``starting_frame`` [0, 20] and timestamps 0.05 + 0.1 k.
- ``/acquisition/frames_inside``: 20 frames of 32 x 48 pixels in the file, 5 fps from t = 0.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import imageio_ffmpeg
import numpy as np

__all__ = ["FPS", "N_FRAMES", "frame_picture", "write_video_nwb"]

FPS = 10
N_FRAMES = 40
WIDTH, HEIGHT = 96, 64
CODECS = {"mp4": ("libx264", "yuv420p"), "webm": ("libvpx-vp9", "yuv420p")}


def frame_picture(k: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Frame ``k`` as (height, width) uint8: its number in binary on top, a bar at x = 2k below."""
    image = np.zeros((height, width), dtype=np.uint8)
    block = width // 8
    for bit in range(8):
        if (k >> (7 - bit)) & 1:
            image[: height // 4, bit * block : (bit + 1) * block] = 255
    x = (2 * k) % width
    image[height // 4 + 2 :, x : x + 2] = 255
    return image


def _write_movie(path: Path, frames: range, movie_format: str) -> None:
    codec, pixels = CODECS[movie_format]
    temporary = path.with_name(f".{path.stem}.writing{path.suffix}")
    writer = imageio_ffmpeg.write_frames(
        str(temporary),
        (WIDTH, HEIGHT),
        fps=FPS,
        codec=codec,
        pix_fmt_in="gray",
        pix_fmt_out=pixels,
        macro_block_size=16,
        output_params=["-g", "5"],  # a key frame every half second: seeks land fast and exact
    )
    writer.send(None)
    for k in frames:
        writer.send(np.ascontiguousarray(frame_picture(k)))
    writer.close()
    os.replace(temporary, path)


def write_video_nwb(path: Path, movie_format: str = "mp4") -> Path:
    """Write the file at ``path`` and its three movies beside it (``mp4``: H.264, ``webm``: VP9)."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import ImageSeries

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    side, part1, part2 = (
        f"camera_side.{movie_format}",
        f"camera_top_part1.{movie_format}",
        f"camera_top_part2.{movie_format}",
    )
    _write_movie(path.parent / side, range(N_FRAMES), movie_format)
    _write_movie(path.parent / part1, range(0, N_FRAMES // 2), movie_format)
    _write_movie(path.parent / part2, range(N_FRAMES // 2, N_FRAMES), movie_format)
    nwb = NWBFile(
        session_description="two cameras in movie files and frames inside",
        identifier="video-test",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwb.add_acquisition(
        ImageSeries(
            name="camera_side",
            external_file=[side],
            starting_frame=[0],
            format="external",
            rate=float(FPS),
            starting_time=0.0,
            num_samples=N_FRAMES,
            unit="n.a.",
            description="side camera",
        )
    )
    nwb.add_acquisition(
        ImageSeries(
            name="camera_top",
            external_file=[part1, part2],
            starting_frame=[0, N_FRAMES // 2],
            format="external",
            timestamps=0.05 + np.arange(N_FRAMES) / FPS,
            unit="n.a.",
            description="top camera, two files",
        )
    )
    inside = np.stack([frame_picture(k, 32, 48).T for k in range(N_FRAMES // 2)])  # (frame, x, y)
    nwb.add_acquisition(
        ImageSeries(name="frames_inside", data=inside, rate=5.0, starting_time=0.0, unit="n.a.")
    )
    temporary = path.with_name(f".{path.stem}.writing.nwb")
    with NWBHDF5IO(str(temporary), "w") as io:
        io.write(nwb)
    os.replace(temporary, path)
    return path
