"""The offline demo volume and volume sampling: histograms, box statistics, auto-contrast, bounds."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import neuroglancer
import numpy as np
import polars as pl
import pytest
import tensorstore as ts
from cloudvolume import CloudVolume

from engines._progress import Cancelled
from engines.ngstate import (
    NgState,
    VolumeError,
    VolumeTooLarge,
    add_point,
    apply_auto_contrast,
    auto_contrast_range,
    box_around,
    build_demo_state,
    compute_histogram,
    compute_roi_statistics,
    ensure_demo_volume,
    layer_bounds,
    lut_range,
    open_layer_volume,
    open_volume,
    set_view,
)
from engines.ngstate._cells import downsample_mean, downsample_mode
from engines.ngstate.demo import DEMO_SHAPE, build_demo_arrays, roi_table_from_volume

ASSET_CSV = Path(__file__).resolve().parents[3] / "assets" / "demo_rois.csv"


@pytest.fixture(scope="module")
def arrays():
    return build_demo_arrays()


@pytest.fixture
def demo_policy(policy, demo):
    return replace(policy, allowed_roots=(*policy.allowed_roots, demo.folder))


def _tensorstore(path: Path, mip: int) -> np.ndarray:
    spec = {"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}", "scale_index": mip}
    return ts.open(spec, read=True).result()[ts.d["channel"][0]].read().result()


def test_demo_is_read_the_same_by_cloud_volume_and_tensorstore(demo, arrays):
    image, labels = arrays
    assert np.array_equal(np.asarray(CloudVolume(f"file://{demo.image}")[:, :, :])[..., 0], image)
    assert np.array_equal(_tensorstore(demo.image, 0), image)
    assert np.array_equal(_tensorstore(demo.segmentation, 0), labels)
    assert np.array_equal(_tensorstore(demo.image, 1), downsample_mean(image))
    assert np.array_equal(_tensorstore(demo.segmentation, 2), downsample_mode(downsample_mode(labels)))


def test_demo_is_small_uncompressed_and_looks_like_cells(demo, arrays):
    files = [p for p in demo.folder.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".gz"]
    assert sum(p.stat().st_size for p in files) < 6 * 1024 * 1024
    image, labels = arrays
    assert image.shape == labels.shape == DEMO_SHAPE
    ids = np.unique(labels)[1:]
    assert len(ids) >= 20
    inside, outside = image[labels > 0].mean(), image[labels == 0].mean()
    assert inside > outside + 60  # bright cells on a dark background


def test_ensure_demo_volume_is_idempotent_and_atomic(tmp_path):
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_demo_volume(tmp_path))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[0] == results[1]
    info_time = (results[0].image / "info").stat().st_mtime_ns
    assert ensure_demo_volume(tmp_path) == results[0]
    assert (results[0].image / "info").stat().st_mtime_ns == info_time  # not rebuilt
    assert sorted(p.name for p in (tmp_path / "ngstate").iterdir()) == [
        "demo-v1"
    ]  # no temporary folders left


def test_demo_state_points_at_the_served_folder_and_is_valid(demo):
    state = build_demo_state("https://app.example.org/prefix/ngdemo/")
    assert state.layer_source("image") == "precomputed://https://app.example.org/prefix/ngdemo/image"
    assert (
        state.layer_source("segmentation")
        == "precomputed://https://app.example.org/prefix/ngdemo/segmentation"
    )
    assert lut_range(state, "image") == (15.0, 200.0)
    parsed = neuroglancer.ViewerState(state.to_dict())
    assert list(parsed.dimensions.names) == ["x", "y", "z"] and parsed.dimensions.scales[0] == pytest.approx(
        5e-7
    )


def test_demo_csv_matches_the_volume(demo):
    shipped = pl.read_csv(ASSET_CSV)
    measured = roi_table_from_volume(demo)
    assert shipped.columns == measured.columns
    assert shipped["id"].to_list() == measured["id"].to_list()
    for column in shipped.columns:
        if shipped[column].dtype.is_float():
            assert np.allclose(shipped[column].to_numpy(), measured[column].to_numpy(), atol=0.02), column
        else:
            assert shipped[column].to_list() == measured[column].to_list(), column


def test_demo_csv_centroids_lie_in_their_own_cell(demo):
    labels = _tensorstore(demo.segmentation, 0)
    table = pl.read_csv(ASSET_CSV)
    for row in table.iter_rows(named=True):
        voxel = tuple(int(row[axis]) for axis in "xyz")  # coordinates are voxel centres (+0.5)
        assert labels[voxel] == row["id"]
        assert int((labels == row["id"]).sum()) == row["volume_voxels"]


def test_histogram_at_mip_1_counts_every_voxel(demo, demo_policy):
    volume = open_volume(f"precomputed://file://{demo.image}", demo_policy)
    histogram = compute_histogram(volume, mip=1)
    data = _tensorstore(demo.image, 1)
    expected = np.bincount(data.ravel(), minlength=256)
    assert histogram.voxels == data.size
    assert np.array_equal(histogram.counts, expected[int(data.min()) : int(data.max()) + 1])
    assert histogram.minimum == data.min() and histogram.maximum == data.max()
    assert histogram.mean == pytest.approx(data.mean()) and histogram.std == pytest.approx(data.std())
    frame = histogram.to_frame(max_bins=32)
    assert frame.height <= 32 and frame["count"].sum() == data.size


def test_histogram_over_http_equals_the_local_one(demo, demo_server, policy, demo_policy):
    demo_server.log.clear()
    remote = compute_histogram(open_volume(f"precomputed://{demo_server.url}/image", policy), mip=0)
    local = compute_histogram(open_volume(str(demo.image), demo_policy), mip=0)
    assert np.array_equal(remote.counts, local.counts)
    assert demo_server.log.count == 1 + 12  # the info file and the 12 chunks of mip 0


def test_http_volume_on_a_private_address_is_refused(demo_server, strict_policy):
    with pytest.raises(VolumeError, match="private address"):
        open_volume(f"precomputed://{demo_server.url}/image", strict_policy)


def test_app_served_demo_is_read_from_disk_through_an_alias(demo, demo_server, strict_policy):
    served = "https://app.example.org/ngdemo"
    demo_server.log.clear()
    state = build_demo_state(served)
    volume = open_layer_volume(state, "image", strict_policy, aliases={served: demo.folder})
    assert compute_histogram(volume, mip=2).voxels == 32 * 32 * 12
    assert demo_server.log.count == 0
    with pytest.raises(VolumeError, match="no data source"):
        open_layer_volume(add_point(state, [1, 2, 3]), "annotations", strict_policy)


def test_local_folders_outside_the_allowed_roots_are_refused(demo, policy):
    with pytest.raises(VolumeError, match="outside the folders"):
        open_volume(f"precomputed://file://{demo.image}", policy)


def test_other_formats_are_explained(policy):
    with pytest.raises(VolumeError, match="only precomputed"):
        open_volume("zarr://https://example.org/a.zarr", policy)


def test_auto_contrast_uses_percentiles(demo, demo_policy):
    volume = open_volume(str(demo.image), demo_policy)
    low, high = auto_contrast_range(volume, 2, 98, mip=1)
    data = _tensorstore(demo.image, 1).ravel()
    assert (low, high) == (
        np.percentile(data, 2, method="inverted_cdf"),
        np.percentile(data, 98, method="inverted_cdf"),
    )
    state, chosen = apply_auto_contrast(build_demo_state("https://app/ngdemo"), "image", volume, 2, 98, mip=1)
    assert lut_range(state, "image") == chosen == (low, high)


def test_roi_statistics_of_a_box_around_a_cell(demo, demo_policy):
    volume = open_volume(str(demo.image), demo_policy)
    row = pl.read_csv(ASSET_CSV).row(0, named=True)
    state = set_view(
        build_demo_state("https://app/ngdemo"), center={"x": row["x"], "y": row["y"], "z": row["z"]}
    )
    lo, hi = box_around(state, volume, half_size=4)
    stats = compute_roi_statistics(volume, lo, hi, mip=0)
    data = _tensorstore(demo.image, 0)[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    assert stats["voxels"] == 512 and stats["mean"] == pytest.approx(data.mean())
    assert stats["p50"] == np.percentile(data, 50, method="inverted_cdf")
    assert stats["mean"] > row["mean_intensity"] - 30  # the box sits in the bright cell


def test_boxes_outside_the_volume_and_oversized_reads_are_refused(demo, demo_policy):
    volume = open_volume(str(demo.image), demo_policy)
    with pytest.raises(VolumeError, match="lies outside"):
        compute_roi_statistics(volume, (500, 500, 500), (510, 510, 510))
    with pytest.raises(VolumeTooLarge, match="coarser mip"):
        volume.read_region((0, 0, 0), (128, 128, 48), mip=0, max_voxels=1000)
    with pytest.raises(VolumeError, match="mips 0 to 2"):
        compute_histogram(volume, mip=5)


def test_sampling_reports_progress_and_can_be_cancelled(demo, demo_policy):
    volume = open_volume(str(demo.image), demo_policy)
    seen: list[float] = []
    compute_histogram(volume, mip=0, progress=lambda fraction, message: seen.append(fraction))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 12
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        compute_histogram(volume, mip=0, cancel=stop)


def test_missing_chunks_read_as_zeros(demo, workspace, policy):
    copy = workspace / "image"
    shutil.copytree(demo.image, copy)
    (copy / "1000.0_1000.0_1000.0" / "0-64_0-64_16-24").unlink()
    histogram = compute_histogram(open_volume(str(copy), policy), mip=1)
    assert histogram.minimum == 0 and histogram.counts[0] >= 64 * 64 * 8


def test_float_volumes_get_binned_histograms(workspace, policy):
    data = np.random.default_rng(0).normal(100.0, 15.0, size=(40, 30, 20)).astype(np.float32)
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="image",
        data_type="float32",
        encoding="raw",
        resolution=[4, 4, 40],
        voxel_offset=[0, 0, 0],
        chunk_size=[16, 16, 8],
        volume_size=list(data.shape),
    )
    CloudVolume(f"file://{workspace / 'f'}", info=info, compress=False).commit_info()
    CloudVolume(f"file://{workspace / 'f'}", compress=False, non_aligned_writes=True)[:, :, :] = data
    volume = open_volume(str(workspace / "f"), policy)
    histogram = compute_histogram(volume, mip=0)
    assert histogram.voxels == data.size and len(histogram.counts) == 1024
    span = float(data.max() - data.min())
    assert abs(histogram.percentile(50) - float(np.median(data))) < span / 1024 * 2
    with pytest.raises(VolumeTooLarge, match="exceed the limit"):
        compute_histogram(volume, mip=0, max_voxels=100)


def test_layer_bounds_fit_the_demo(demo, demo_policy):
    state = build_demo_state("https://app/ngdemo")
    bounds = layer_bounds(state, open_volume(str(demo.image), demo_policy))
    assert bounds.ranges == {"x": (0.0, 128.0), "y": (0.0, 128.0), "z": (0.0, 48.0)}
    fitted = set_view(state, zoom="fit", bounds=bounds, viewport=(1000, 600))
    assert fitted.position == {"x": 64.0, "y": 64.0, "z": 24.0}
    assert 128 / fitted.cross_section_scale <= 500


def test_bounds_follow_the_states_units(demo, demo_policy):
    state = NgState(
        {"dimensions": {"z": [1e-6, "m"], "y": [250, "nm"], "x": [0.5, "um"]}, "position": [0, 0, 0]}
    )
    bounds = layer_bounds(state, open_volume(str(demo.image), demo_policy))
    assert bounds.ranges["x"] == pytest.approx((0, 128)) and bounds.ranges["y"] == pytest.approx((0, 256))
    assert bounds.ranges["z"] == pytest.approx((0, 24))
