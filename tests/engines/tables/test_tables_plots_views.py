"""Plot specifications and the ranked multi-view table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engines.ngstate import NgState, build_demo_state, list_annotations, lut_range
from engines.tables import ColumnNotFound, TableError, TableWorkspace, plots

DEMO_CSV = Path(__file__).resolve().parents[3] / "assets" / "demo_rois.csv"


@pytest.fixture
def ws() -> TableWorkspace:
    workspace = TableWorkspace()
    workspace.upload("rois.csv", DEMO_CSV.read_bytes())
    return workspace


@pytest.fixture
def demo_state() -> NgState:
    return build_demo_state("https://app.example.org/ngdemo")


def test_scatter_keeps_every_point_and_maps_to_hvplot(ws):
    spec = ws.plot("rois", "scatter", x="volume_um3", y="mean_intensity", by="brightness")
    assert spec.rows == 24 and spec.data.columns == ["volume_um3", "mean_intensity", "brightness"]
    assert not spec.datashade
    assert spec.hvplot_kwargs() == {
        "kind": "scatter",
        "title": spec.title,
        "x": "volume_um3",
        "y": "mean_intensity",
        "by": "brightness",
    }
    assert list(spec.pandas().columns) == ["volume_um3", "mean_intensity", "brightness"]


def test_large_scatter_asks_for_datashading():
    ws = TableWorkspace()
    n = plots.DATASHADE_THRESHOLD + 1
    rng = np.random.default_rng(0)
    text = "a,b\n" + "\n".join(f"{a:.4f},{b:.4f}" for a, b in rng.normal(size=(n, 2)))
    ws.upload("many.csv", text.encode())
    spec = ws.plot("many", "scatter", x="a", y="b")
    assert spec.datashade and spec.hvplot_kwargs()["datashade"] is True and spec.rows == n
    assert "rasterize" in spec.notes[0]


def test_line_is_sorted_by_x(ws):
    spec = ws.plot("rois", "line", x="volume_um3", y="sphericity")
    assert spec.data["volume_um3"].is_sorted()


def test_histogram_gets_the_column_and_bins(ws, monkeypatch):
    spec = ws.plot("rois", "histogram", x="sphericity", bins=12)
    assert spec.data.columns == ["sphericity"] and spec.rows == 24
    assert spec.hvplot_kwargs() == {"kind": "hist", "title": spec.title, "y": "sphericity", "bins": 12}
    monkeypatch.setattr(plots, "HISTOGRAM_MAX_VALUES", 10)
    sampled = ws.plot("rois", "histogram", x="sphericity")
    assert sampled.rows == 10 and "sample of 10 of 24" in sampled.notes[0]
    with pytest.raises(TableError, match="needs a numeric column; 'brightness'"):
        ws.plot("rois", "histogram", x="brightness")


def test_bar_aggregates_per_group(ws):
    spec = ws.plot("rois", "bar", x="brightness", y="volume_um3", agg="sum")
    frame = pl.read_csv(DEMO_CSV)
    expected = frame.group_by("brightness").agg(pl.col("volume_um3").sum())
    assert dict(spec.data.rows()) == pytest.approx(dict(expected.rows()))
    assert spec.y == "sum_volume_um3"
    counts = ws.plot("rois", "bar", x="brightness")
    assert dict(counts.data.rows()) == {"bright": 12, "dim": 12}


def test_bar_keeps_the_largest_groups(ws, monkeypatch):
    monkeypatch.setattr(plots, "MAX_BARS", 5)
    spec = ws.plot("rois", "bar", x="id", y="volume_um3")
    assert spec.data.height == 5 and "5 largest of 24" in spec.notes[0]
    assert (
        spec.data["mean_volume_um3"].to_list()
        == sorted(pl.read_csv(DEMO_CSV)["volume_um3"].to_list())[::-1][:5]
    )


def test_heatmap_bins_numeric_axes(ws):
    spec = ws.plot("rois", "heatmap", x="x", y="y", color="volume_um3", agg="max", bins=4)
    assert spec.data["x"].n_unique() <= 4 and spec.data["y"].n_unique() <= 4
    assert spec.color == "max_volume_um3" and spec.hvplot_kwargs()["C"] == "max_volume_um3"
    assert spec.data["max_volume_um3"].max() == pl.read_csv(DEMO_CSV)["volume_um3"].max()
    counts = ws.plot("rois", "heatmap", x="brightness", y="z", bins=3)
    assert counts.data["count"].sum() == 24 and counts.data.height <= 6
    with pytest.raises(TableError, match="two different columns"):
        ws.plot("rois", "heatmap", x="brightness", y="brightness")


def test_plot_errors(ws):
    with pytest.raises(TableError, match="needs a y column"):
        ws.plot("rois", "scatter", x="x")
    with pytest.raises(TableError, match="Unknown plot kind 'pie'"):
        ws.plot("rois", "pie", x="x")
    with pytest.raises(ColumnNotFound, match="no column 'size'"):
        ws.plot("rois", "scatter", x="size", y="x")
    with pytest.raises(TableError, match="Unknown aggregate 'mode'"):
        ws.plot("rois", "bar", x="brightness", y="x", agg="mode")


def test_top_views_rank_rows_and_build_one_state_each(ws, demo_state):
    views = ws.top_views("rois", "volume_um3", demo_state, n=5, segment_layer="segmentation", lut=(20, 150))
    table = pl.read_csv(DEMO_CSV).sort("volume_um3", descending=True).head(5)
    assert views.table["rank"].to_list() == [1, 2, 3, 4, 5]
    assert views.table["id"].to_list() == table["id"].to_list()
    assert views.warnings == [] and views.first_viewable == 0
    for row, state in zip(table.iter_rows(named=True), views.states):
        assert state.position == {"x": row["x"], "y": row["y"], "z": row["z"]}
        assert state.layer("segmentation")["segments"] == [str(row["id"])]
        assert list_annotations(state, "selected row")[0]["point"] == [row["x"], row["y"], row["z"]]
        assert lut_range(state, "image") == (20.0, 150.0)
    assert demo_state == build_demo_state("https://app.example.org/ngdemo")  # the base is untouched


def test_rows_that_fail_carry_a_warning_and_the_rest_still_work(demo_state):
    ws = TableWorkspace()
    ws.upload(
        "mixed.csv",
        b"id,x,y,z,score\n1,10,10,5,0.9\n2,,10,5,0.8\n3,20,abc,5,0.7\n4,30,30,5,0.6\n5,40,40,5,\n",
    )
    views = ws.top_views("mixed", "score", demo_state, n=10)
    warnings = dict(zip(views.table["id"].to_list(), views.table["warning"].to_list()))
    assert warnings[1] is None and warnings[4] is None
    assert "'x' is None, not a number" in warnings[2]
    assert "'y' is 'abc', not a number" in warnings[3]
    assert "'score' is missing" in warnings[5]
    assert [s is not None for s in views.states] == [True, False, False, True, True]


def test_a_missing_segment_layer_is_a_warning_not_a_lost_view(ws, demo_state):
    views = ws.top_views("rois", "volume_um3", demo_state, n=2, segment_layer="cells")
    assert all(state is not None for state in views.states)
    assert all("Segment not selected" in w for w in views.warnings) and len(views.warnings) == 2


def test_coordinates_map_onto_named_dimensions_in_any_order():
    state = NgState(
        {
            "dimensions": {"t": [1, "s"], "z": [1e-6, "m"], "y": [1e-6, "m"], "x": [1e-6, "m"]},
            "position": [3, 0, 0, 0],
            "layers": [],
        }
    )
    ws = TableWorkspace()
    ws.upload("tracks.csv", b"track,cx,cy,cz,frame,speed\n7,1,2,3,12,0.5\n8,4,5,6,13,0.9\n")
    views = ws.top_views(
        "tracks",
        "speed",
        state,
        n=2,
        id_column="track",
        coordinates={"x": "cx", "y": "cy", "z": "cz", "t": "frame"},
    )
    assert views.states[0].get("position") == [13.0, 6.0, 5.0, 4.0]
    assert views.states[1].position == {"t": 12.0, "z": 3.0, "y": 2.0, "x": 1.0}
    with pytest.raises(TableError, match="Coordinate 'w' does not fit the viewer state"):
        ws.top_views("tracks", "speed", state, id_column="track", coordinates={"w": "cx"})


def test_top_views_ascending_and_limits(ws, demo_state):
    views = ws.top_views("rois", "sphericity", demo_state, n=3, descending=False, marker_layer=None)
    assert views.table["sphericity"].to_list() == sorted(pl.read_csv(DEMO_CSV)["sphericity"].to_list())[:3]
    assert "selected row" not in views.states[0].layer_names
    with pytest.raises(TableError, match="n must be between 1 and 500"):
        ws.top_views("rois", "sphericity", demo_state, n=0)
    with pytest.raises(ColumnNotFound, match="no column 'size'"):
        ws.top_views("rois", "size", demo_state)
