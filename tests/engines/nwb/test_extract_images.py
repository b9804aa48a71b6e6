"""Frames, ROI masks and still images: exactly the stored pixels, one frame or mask batch at a time."""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO, NWBFile
from pynwb.base import ImageReferences, Images
from pynwb.image import GrayscaleImage, ImageSeries, RGBImage
from pynwb.ophys import ImageSegmentation, OpticalChannel, TwoPhotonSeries

from engines.nwb.errors import NwbReadError
from engines.nwb.extract import (
    InvalidRequest,
    UnsupportedData,
    count_frames,
    read_frame,
    read_images,
    read_plane_masks,
)
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR

GRAY = np.arange(5 * 6 * 4, dtype=np.uint8).reshape(5, 6, 4)
COLOR = np.arange(3 * 6 * 4 * 3, dtype=np.uint8).reshape(3, 6, 4, 3)
VOLUME = np.random.default_rng(4).random((3, 6, 4, 5)).astype(np.float32)
MEAN = np.random.default_rng(5).random((6, 4))
DENSE = np.zeros((3, 6, 4))
DENSE[0, :3, :2], DENSE[1, 2:5, 1:3], DENSE[2, 0, 0] = 0.5, 0.8, 0.9
PIXELS = [[(1, 1, 0.5), (1, 2, 0.5)], [(1, 1, 0.9), (3, 3, 1.0)], [(5, 0, 0.2)]]


@pytest.fixture(scope="module")
def imaging_file(tmp_path_factory) -> Path:
    """An NWB file written by pynwb with every kind of image data the views show."""
    nwb = NWBFile(
        session_description="images",
        identifier="images-1",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwb.add_acquisition(ImageSeries(name="gray", data=GRAY, unit="n.a.", rate=2.0, starting_time=1.0))
    nwb.add_acquisition(ImageSeries(name="color", data=COLOR, unit="n.a.", timestamps=[0.5, 1.5, 2.5]))
    channel = OpticalChannel(name="green", description="green", emission_lambda=525.0)
    plane = nwb.create_imaging_plane(
        name="plane0",
        optical_channel=channel,
        description="plane",
        device=nwb.create_device(name="scope"),
        excitation_lambda=920.0,
        imaging_rate=30.0,
        indicator="GCaMP",
        location="V1",
    )
    nwb.add_acquisition(
        TwoPhotonSeries(name="volume", data=VOLUME, unit="n.a.", imaging_plane=plane, rate=30.0)
    )
    ophys = nwb.create_processing_module(name="ophys", description="ophys")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    sparse = segmentation.create_plane_segmentation(
        description="sparse", imaging_plane=plane, name="sparse_rois"
    )
    for pixels in PIXELS:
        sparse.add_roi(pixel_mask=pixels)
    dense = segmentation.create_plane_segmentation(
        description="dense", imaging_plane=plane, name="dense_rois"
    )
    for mask in DENSE:
        dense.add_roi(image_mask=mask)
    mean, other = GrayscaleImage(name="meanImg", data=MEAN), GrayscaleImage(name="correlation", data=MEAN * 2)
    ophys.add(Images(name="Backgrounds_0", images=[other, mean]))
    still = [GrayscaleImage(name="a_gray", data=GRAY[0]), RGBImage(name="b_color", data=COLOR[0])]
    order = ImageReferences(name="order_of_images", data=[still[1], still[0]])
    nwb.add_stimulus(Images(name="stills", images=still, order_of_images=order))
    path = tmp_path_factory.mktemp("imaging") / "imaging.nwb"
    with warnings.catch_warnings(), NWBHDF5IO(str(path), "w") as io:
        warnings.simplefilter("ignore")
        io.write(nwb)
    return path


@pytest.fixture
def imaging(imaging_file, workspace, policy, index_store):
    return open_nwb(str(shutil.copy(imaging_file, workspace / "imaging.nwb")), policy, index_store)


def test_two_photon_frame_over_http_equals_the_raw_slice(range_server, policy, index_store):
    f = open_nwb(range_server.url_for("pynwb-types/test_TwoPhotonSeries.nwb"), policy, index_store)
    frame = read_frame(f, "/acquisition/test_2ps", 0)
    with h5py.File(DATA_DIR / "pynwb-types/test_TwoPhotonSeries.nwb") as h5:
        np.testing.assert_array_equal(frame.image, h5["/acquisition/test_2ps/data"][0])
    assert (frame.index, frame.n_frames, frame.time) == (0, 1, 0.0)


def test_frames_carry_their_time_from_rate_or_timestamps(imaging):
    gray = read_frame(imaging, "/acquisition/gray", 3)
    np.testing.assert_array_equal(gray.image, GRAY[3])
    assert (gray.n_frames, gray.time) == (5, 2.5)
    color = read_frame(imaging, "/acquisition/color", 2)
    np.testing.assert_array_equal(color.image, COLOR[2])
    assert color.image.shape == (6, 4, 3) and color.time == 2.5


def test_volume_frames_show_the_middle_plane(imaging):
    frame = read_frame(imaging, "/acquisition/volume", 1)
    np.testing.assert_array_equal(frame.image, VOLUME[1, :, :, 2])
    assert frame.time == pytest.approx(1 / 30)


def test_count_frames_comes_from_the_index(imaging, policy, index_store):
    assert count_frames(imaging, "/acquisition/gray") == 5
    f = open_nwb(str(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    assert count_frames(f, "/stimulus/presentation/StimulusPresentation_encoding") == 90


def test_external_frames_raise_a_read_error_naming_the_files(policy, index_store):
    f = open_nwb(str(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    with pytest.raises(NwbReadError, match=r"external files: NB_24\.mp4, SB_23\.mp4, .* and 85 more"):
        read_frame(f, "/stimulus/presentation/StimulusPresentation_encoding", 0)
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_PlaneSegmentation.nwb"), policy, index_store)
    with pytest.raises(NwbReadError, match="external files: images.tiff"):
        read_frame(
            f,
            "/processing/plane_seg_test_module/ImageSegmentation/test_plane_seg_name/"
            "reference_images/test_iS",
        )


def test_bad_frame_requests_are_typed(imaging, policy, index_store):
    with pytest.raises(InvalidRequest, match="frames 0–4; frame 5 does not exist"):
        read_frame(imaging, "/acquisition/gray", 5)
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_TimeSeries.nwb"), policy, index_store)
    with pytest.raises(UnsupportedData, match="Traces view"):
        read_frame(f, "/acquisition/test_timeseries")


def test_dense_masks_label_each_pixel_with_its_strongest_roi(imaging):
    masks = read_plane_masks(imaging, "/processing/ophys/ImageSegmentation/dense_rois")
    expected = np.where(DENSE.max(axis=0) > 0, DENSE.argmax(axis=0) + 1, 0)
    np.testing.assert_array_equal(masks.label_image, expected)
    assert masks.roi_ids == [0, 1, 2]
    np.testing.assert_array_equal(masks.reference, MEAN)


def test_pixel_masks_resolve_overlaps_by_weight_over_the_mean_image(imaging):
    masks = read_plane_masks(imaging, "/processing/ophys/ImageSegmentation/sparse_rois")
    assert masks.label_image.shape == MEAN.shape
    expected = np.zeros(MEAN.shape, dtype=np.int32)
    expected[1, 1], expected[1, 2], expected[3, 3], expected[5, 0] = 2, 1, 2, 3
    np.testing.assert_array_equal(masks.label_image, expected)
    np.testing.assert_array_equal(masks.reference, MEAN)


def test_max_rois_limits_the_masks_read(imaging):
    masks = read_plane_masks(imaging, "/processing/ophys/ImageSegmentation/dense_rois", max_rois=1)
    assert masks.roi_ids == [0] and set(np.unique(masks.label_image)) == {0, 1}


def test_pynwb_test_file_masks_match_h5py(policy, index_store):
    path = "/processing/plane_seg_test_module/ImageSegmentation/test_plane_seg_name"
    masks = read_plane_masks(
        open_nwb(str(DATA_DIR / "pynwb-types/test_PlaneSegmentation.nwb"), policy, index_store), path
    )
    with h5py.File(DATA_DIR / "pynwb-types/test_PlaneSegmentation.nwb") as h5:
        np.testing.assert_array_equal(masks.label_image, h5[f"{path}/image_mask"][()].argmax(axis=0) + 1)
    assert masks.reference is None


def test_images_container_follows_its_stored_order(imaging):
    images = read_images(imaging, "/stimulus/presentation/stills")
    assert [name for name, _ in images] == ["b_color", "a_gray"]
    np.testing.assert_array_equal(images[0][1], COLOR[0])
    np.testing.assert_array_equal(images[1][1], GRAY[0])
    [(name, single)] = read_images(imaging, "/processing/ophys/Backgrounds_0/meanImg")
    assert name == "meanImg"
    np.testing.assert_array_equal(single, MEAN)
