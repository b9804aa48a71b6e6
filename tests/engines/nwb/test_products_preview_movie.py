"""Preview movie: the MP4 decodes to the right frame count and size; external and untimed series are
refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import h5py
import imageio_ffmpeg
import numpy as np
import pytest

from engines.errors import NeurodeckError
from engines.nwb.errors import NwbReadError
from engines.nwb.nwbfile import open_nwb
from engines.nwb.products import ProductInputError, ProductNotFound
from engines.nwb.products import preview_movie as movie_module
from engines.nwb.products.preview_movie import PreviewMovie, build_preview_movie, preview_movie_from_series


def decode(path: str) -> tuple[dict, np.ndarray]:
    """Every frame of an MP4 as (frames, height, width) gray uint8."""
    reader = imageio_ffmpeg.read_frames(path, pix_fmt="gray", bits_per_pixel=8)
    meta = reader.__next__()
    width, height = meta["size"]
    frames = [np.frombuffer(frame, dtype=np.uint8).reshape(height, width) for frame in reader]
    return meta, np.stack(frames)


def test_two_photon_series_from_the_test_file(tmp_path, nwb_data_dir, policy, index_store):
    nwb = open_nwb(str(nwb_data_dir / "pynwb-types" / "test_TwoPhotonSeries.nwb"), policy, index_store)
    try:
        movie = preview_movie_from_series(nwb.h5["/acquisition/test_2ps"], tmp_path)
    finally:
        nwb.close()
    assert (movie.n_frames, movie.width, movie.height) == (1, 4, 2)
    assert movie.fps == pytest.approx(10.0)
    meta, frames = decode(movie.path)
    assert meta["size"] == (4, 2) and frames.shape == (1, 2, 4)
    assert PreviewMovie.open(tmp_path) == movie


def test_first_minute_odd_sizes_and_fast_series_subsampled(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(1000, 50, (2000, 31, 45)).astype(np.uint16)
    movie = build_preview_movie(data, tmp_path / "slow", rate=30.0)
    assert (movie.n_frames, movie.frame_step, movie.fps, movie.speed) == (1800, 1, 30.0, 1.0)
    assert movie.t_last == pytest.approx(1799 / 30)
    meta, frames = decode(movie.path)
    assert meta["size"] == (46, 32) and len(frames) == 1800
    assert meta["fps"] == pytest.approx(30.0)

    fast = build_preview_movie(data, tmp_path / "fast", rate=250.0, starting_time=5.0)
    assert (fast.n_frames, fast.frame_step, fast.fps) == (400, 5, 50.0)
    assert (fast.t_first, fast.t_last) == pytest.approx((5.0, 5.0 + 1995 / 250))
    assert len(decode(fast.path)[1]) == 400


def test_timestamps_slow_rates_colour_and_volumes(tmp_path):
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 255, (40, 20, 30, 3)).astype(np.uint8)
    slow = build_preview_movie(colour, tmp_path / "rgb", timestamps=100.0 + np.arange(40) * 2.0)
    assert (slow.n_frames, slow.fps, slow.speed) == (30, 1.0, 2.0)
    assert decode(slow.path)[0]["size"] == (30, 20)

    volume = np.zeros((12, 16, 16, 5), dtype=np.float32)
    volume[:, :, :, 2] = np.linspace(0.0, 1.0, 16)  # only the middle plane has a left-to-right gradient
    movie = build_preview_movie(volume, tmp_path / "volume", rate=10.0)
    frames = decode(movie.path)[1]
    assert len(frames) == 12 and frames[:, :, -3:].mean() > 200 and frames[:, :, :3].mean() < 50

    flat = build_preview_movie(np.full((4, 8, 8), 7.0), tmp_path / "flat", rate=4.0)
    assert flat.value_range == (6.5, 7.5) and 100 < decode(flat.path)[1].mean() < 155


def test_percentiles_ignore_a_hot_pixel_and_blocks_bound_memory(tmp_path, monkeypatch):
    data = np.tile(np.linspace(0, 100, 64, dtype=np.float32), (50, 64, 1))
    data[:, 10, 10] = 1e6
    monkeypatch.setattr(movie_module, "BLOCK_BYTES", 64 * 64 * 4 * 7)
    reports: list[float] = []
    movie = build_preview_movie(data, tmp_path, rate=20.0, progress=lambda f, m: reports.append(f))
    assert movie.value_range[1] < 101
    assert len(reports) == 8 and reports[-1] == 1.0
    frames = decode(movie.path)[1]
    assert frames[:, :, -4:].mean() > 230 and frames[:, :, :4].mean() < 25


def test_external_file_series_is_a_clear_read_error(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import ImageSeries

    path = tmp_path / "external.nwb"
    nwbfile = NWBFile(
        session_description="external video",
        identifier="ext-1",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwbfile.add_acquisition(
        ImageSeries(
            name="behavior_video",
            external_file=["behavior_cam.avi"],
            format="external",
            starting_frame=[0],
            num_samples=900,
            rate=30.0,
            unit="n.a.",
        )
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    with h5py.File(path, "r") as f, pytest.raises(NwbReadError, match="behavior_cam.avi") as caught:
        preview_movie_from_series(f["acquisition/behavior_video"], tmp_path / "out")
    assert isinstance(caught.value, NeurodeckError)


def test_untimed_or_non_image_data_is_refused(tmp_path):
    with pytest.raises(ProductInputError, match="frame rate"):
        build_preview_movie(np.zeros((5, 4, 4)), tmp_path)
    with pytest.raises(ProductInputError, match="frames"):
        build_preview_movie(np.zeros((5, 4)), tmp_path, rate=10.0)
    with h5py.File(tmp_path / "bare.h5", "w") as f:
        f["series/data"] = np.zeros((3, 4, 4))
        with pytest.raises(ProductInputError, match="neither timestamps"):
            preview_movie_from_series(f["series"], tmp_path)
    with pytest.raises(ProductNotFound):
        PreviewMovie.open(tmp_path / "nothing")


def test_movie_path_is_inside_the_output_folder(tmp_path):
    movie = build_preview_movie(np.zeros((3, 4, 4), dtype=np.uint8), tmp_path, rate=3.0)
    assert Path(movie.path).parent == tmp_path and Path(movie.path).stat().st_size > 0
