"""Benchmark the Neuroglancer-state engine: volume histograms and state URL round trips.

Run ``python benchmarks/ngstate.py``. Part 1: a seeded 512^3 uint8 precomputed volume (raw
64^3 chunks, mips 0 and 1) written to a temporary folder; ``histogram_mip1_s`` is the median
of 5 ``compute_histogram(volume, mip=1)`` calls (256^3 = 16.8 M voxels, 64 chunks), against
reading the same mip whole with cloud-volume or tensorstore and counting with ``np.bincount``
(``cloudvolume_ratio``/``tensorstore_ratio`` = their time / ours). Part 2: a large state (three
layers, 500 selected segments, 2,000 point annotations; about 150 KB of JSON) turned into a URL
and back, ours (``to_url``/``parse_url``) against ``neuroglancer.url_state.to_url``/``parse_url``
on the same state, plain and url-safe. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.io.policy import SourcePolicy  # noqa: E402
from engines.ngstate import NgState, compute_histogram, open_volume, parse_url, to_url  # noqa: E402

SIDE = 512
CHUNK = 64


def timed(call, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def write_volume(folder: Path) -> Path:
    from cloudvolume import CloudVolume
    from scipy import ndimage

    rng = np.random.default_rng(3)
    small = ndimage.zoom(rng.uniform(0, 255, (32, 32, 32)).astype(np.float32), SIDE // 32, order=1)
    data = np.clip(small + rng.normal(0, 12, small.shape).astype(np.float32), 0, 255).astype(np.uint8)
    path = folder / "image"
    info = CloudVolume.create_new_info(
        num_channels=1,
        layer_type="image",
        data_type="uint8",
        encoding="raw",
        resolution=[8, 8, 8],
        voxel_offset=[0, 0, 0],
        chunk_size=[CHUNK] * 3,
        volume_size=[SIDE] * 3,
    )
    volume = CloudVolume(f"file://{path}", info=info, compress=False)
    volume.add_scale((2, 2, 2), chunk_size=[CHUNK] * 3)
    volume.commit_info()
    CloudVolume(f"file://{path}", mip=0, compress=False, parallel=1)[:, :, :] = data
    CloudVolume(f"file://{path}", mip=1, compress=False)[:, :, :] = data[::2, ::2, ::2]
    return path


def bench_histogram(path: Path) -> dict[str, float]:
    import tensorstore as ts
    from cloudvolume import CloudVolume

    policy = SourcePolicy(workspace=path.parent, allowed_roots=(path.parent,))
    volume = open_volume(str(path), policy)
    ours = timed(lambda: compute_histogram(volume, mip=1), 5)
    cv = CloudVolume(f"file://{path}", mip=1, progress=False)
    theirs_cv = timed(lambda: np.bincount(np.asarray(cv[:, :, :]).ravel(), minlength=256), 3)
    store = ts.open(
        {"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}", "scale_index": 1}
    ).result()
    theirs_ts = timed(lambda: np.bincount(store.read().result().ravel(), minlength=256), 3)
    histogram = compute_histogram(volume, mip=1)
    print(
        f"histogram of {SIDE}^3 uint8 at mip 1 ({histogram.voxels:,} voxels): ours {ours * 1e3:.0f} ms, "
        f"cloud-volume read + bincount {theirs_cv * 1e3:.0f} ms, tensorstore read + bincount "
        f"{theirs_ts * 1e3:.0f} ms"
    )
    return {
        "histogram_mip1_s": round(ours, 4),
        "cloudvolume_bincount_s": round(theirs_cv, 4),
        "tensorstore_bincount_s": round(theirs_ts, 4),
        "cloudvolume_ratio": round(theirs_cv / ours, 2),
        "tensorstore_ratio": round(theirs_ts / ours, 2),
    }


def large_state() -> dict:
    rng = np.random.default_rng(4)
    dims = {"x": [8e-09, "m"], "y": [8e-09, "m"], "z": [4e-08, "m"]}
    return {
        "dimensions": dims,
        "position": [24000.5, 31000.5, 2100.5],
        "crossSectionScale": 2.5,
        "projectionOrientation": [0.1, 0.2, 0.3, 0.9],
        "projectionScale": 40000.0,
        "layers": [
            {
                "type": "image",
                "source": "precomputed://gs://bucket/em",
                "shaderControls": {"normalized": {"range": [30, 210]}},
                "name": "em",
            },
            {
                "type": "segmentation",
                "source": "precomputed://gs://bucket/seg",
                "segments": [str(int(s)) for s in rng.integers(1, 2**40, 500)],
                "name": "seg",
            },
            {
                "type": "annotation",
                "source": {"url": "local://annotations", "transform": {"outputDimensions": dims}},
                "annotations": [
                    {
                        "type": "point",
                        "id": f"{i:040x}",
                        "point": [float(v) for v in rng.uniform(0, 50000, 3)],
                        "description": f"synapse {i}",
                    }
                    for i in range(2000)
                ],
                "name": "synapses",
            },
        ],
        "layout": "4panel",
    }


def bench_urls() -> dict[str, float]:
    import neuroglancer
    from neuroglancer import url_state

    data = large_state()
    state = NgState(data)
    ng_state = neuroglancer.ViewerState(data)
    url = to_url(state)
    safe_url = to_url(state, url_safe=True)
    ng_url = url_state.to_url(ng_state)
    assert parse_url(url) == state and parse_url(safe_url) == state
    result = {
        "state_kb": round(len(state.to_json()) / 1024, 1),
        "serialize_ms": timed(lambda: to_url(state), 20) * 1e3,
        "parse_ms": timed(lambda: parse_url(url), 20) * 1e3,
        "serialize_url_safe_ms": timed(lambda: to_url(state, url_safe=True), 20) * 1e3,
        "parse_url_safe_ms": timed(lambda: parse_url(safe_url), 20) * 1e3,
        "ng_serialize_ms": timed(lambda: url_state.to_url(ng_state), 5) * 1e3,
        "ng_parse_ms": timed(lambda: url_state.parse_url(ng_url), 5) * 1e3,
    }
    result = {key: round(value, 3) for key, value in result.items()}
    result["serialize_ratio"] = round(result["ng_serialize_ms"] / result["serialize_ms"], 1)
    result["parse_ratio"] = round(result["ng_parse_ms"] / result["parse_ms"], 1)
    print(
        f"state URL ({result['state_kb']} KB of JSON): ours serialize {result['serialize_ms']:.2f} ms, parse "
        f"{result['parse_ms']:.2f} ms (url-safe {result['serialize_url_safe_ms']:.2f} / "
        f"{result['parse_url_safe_ms']:.2f} ms); "
        f"neuroglancer.url_state to_url {result['ng_serialize_ms']:.1f} ms, parse_url "
        f"{result['ng_parse_ms']:.1f} ms"
    )
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = write_volume(Path(folder))
        elapsed = time.perf_counter() - started
        print(f"wrote a {SIDE}^3 uint8 precomputed volume (raw {CHUNK}^3 chunks, 2 mips) in {elapsed:.1f} s")
        histogram = bench_histogram(path)
    urls = bench_urls()
    print(json.dumps({**histogram, **urls}))


if __name__ == "__main__":
    main()
