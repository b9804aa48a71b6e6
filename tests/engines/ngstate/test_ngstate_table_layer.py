"""A table's rows as a local annotation layer: properties, ids, boxes, colours, bounds, and crafted data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from engines.ngstate import (
    build_demo_state,
    focus_annotation,
    parse_url,
    selected_annotation,
    table_annotation_layer,
    to_url,
)
from engines.ngstate.errors import NgStateError

ROIS = Path(__file__).resolve().parents[3] / "assets" / "demo_rois.csv"
STATE = build_demo_state("http://app.example/ngdemo")


@pytest.fixture(scope="module")
def rois() -> pl.DataFrame:
    return pl.read_csv(ROIS)


def test_each_row_is_a_point_with_its_id_and_numeric_columns_as_properties_in_order(rois):
    drawn = table_annotation_layer(STATE, rois, "rois")
    layer = drawn.state.layer("rois")
    assert layer["type"] == "annotation" and drawn.state.layer_source("rois") == "local://annotations"
    declared = [(p["id"], p["type"], p["description"]) for p in layer["annotationProperties"]]
    numeric = ["volume_voxels", "volume_um3", "mean_intensity", "max_intensity", "sphericity", "elongation"]
    assert declared == [(c, "float32", c) for c in numeric]  # id, x, y, z are the key and coordinates
    first = layer["annotations"][0]
    assert first["id"] == "row-1" and first["type"] == "point"
    assert first["point"] == [111.64, 68.59, 31.08]
    assert first["props"] == [1183, 147.875, 144.38, 212, 0.9788, 1.471]
    assert first["description"] == "id=1, brightness=bright"  # text columns go in the description
    assert drawn.shown == drawn.total == 24 and drawn.annotation_ids[12] == "row-13"
    assert "shader" not in layer  # neither colour nor size: neuroglancer's default look
    assert STATE.layer_names == ["image", "segmentation"]  # the input state is unchanged


def test_colour_and_size_become_rgb_and_float32_properties_the_shader_draws_with(rois):
    drawn = table_annotation_layer(STATE, rois, "rois", color_by="volume_um3", size_by="sphericity")
    layer = drawn.state.layer("rois")
    assert [p["id"] for p in layer["annotationProperties"][:2]] == ["color", "size"]
    assert layer["annotationProperties"][0]["type"] == "rgb"
    assert "setColor(prop_color());" in layer["shader"]
    assert "setPointMarkerSize(prop_size());" in layer["shader"]
    by_id = {a["id"]: a for a in layer["annotations"]}
    biggest = rois.sort("volume_um3").row(-1, named=True)["id"]
    smallest = rois.sort("volume_um3").row(0, named=True)["id"]
    assert by_id[f"row-{biggest}"]["props"][0] == "#fde725"  # the top of viridis
    assert by_id[f"row-{smallest}"]["props"][0] == "#440154"  # its bottom
    roundest = rois.sort("sphericity").row(-1, named=True)["id"]
    assert by_id[f"row-{roundest}"]["props"][1] == 16.0  # the largest marker
    categories = table_annotation_layer(STATE, rois, "rois", color_by="brightness").state.layer("rois")
    colors = {a["description"].split("=")[-1]: a["props"][0] for a in categories["annotations"]}
    assert len(set(colors.values())) == len(colors) == rois["brightness"].n_unique()


def test_boxes_are_cubes_around_the_row_sized_by_a_column(rois):
    drawn = table_annotation_layer(STATE, rois, "rois", shape="box", size_by="volume_um3", box_size=4)
    by_id = {a["id"]: a for a in drawn.state.layer("rois")["annotations"]}
    largest = rois.sort("volume_um3").row(-1, named=True)
    box = by_id[f"row-{largest['id']}"]
    assert box["type"] == "axis_aligned_bounding_box"
    edges = [b - a for a, b in zip(box["pointA"], box["pointB"])]
    assert edges == pytest.approx([6, 6, 6])  # 4 voxels x 1.5 for the largest value
    centre = [(a + b) / 2 for a, b in zip(box["pointA"], box["pointB"])]
    assert centre == pytest.approx([largest["x"], largest["y"], largest["z"]])
    assert "setPointMarkerSize" not in drawn.state.layer("rois").get("shader", "")


def test_a_segment_column_links_each_annotation_to_its_segment(rois):
    drawn = table_annotation_layer(STATE, rois, "rois", segment_column="id", segment_layer="segmentation")
    layer = drawn.state.layer("rois")
    assert layer["linkedSegmentationLayer"] == {"segments": "segmentation"}
    assert layer["annotations"][12]["segments"] == [["13"]]
    focused = focus_annotation(drawn.state, "rois", "row-13")
    assert focused.position == {"x": 108.48, "y": 100.56, "z": 32.91}
    assert focused.layer("segmentation")["segments"] == ["13"]
    assert selected_annotation(focused, "rois") == "row-13"
    assert selected_annotation(focused.to_dict(), "image") is None


def test_rows_past_the_bound_are_left_out_and_the_message_says_so(rois):
    drawn = table_annotation_layer(STATE, rois, "rois", max_rows=10)
    assert len(drawn.state.layer("rois")["annotations"]) == drawn.shown == 10
    assert "first 10 rows" in drawn.message and "24 rows" in drawn.message
    lazy = table_annotation_layer(STATE, rois.head(5), "rois", max_rows=5, total=1_000_000)
    assert "5 of the table's 1,000,000 rows" in lazy.message


def test_rows_without_finite_coordinates_are_skipped_and_counted():
    frame = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, None, math.inf], "y": [1.0, 2.0, 3.0], "z": [0, 0, 0]})
    drawn = table_annotation_layer(STATE, frame, "cells")
    assert drawn.annotation_ids == ("row-1", None, None)
    assert "2 rows have a missing or non-finite coordinate" in drawn.message
    json.dumps(drawn.state.to_dict(), allow_nan=False)  # nothing a JSON parser would refuse


def test_crafted_column_names_and_values_stay_data():
    crafted = 'x); discard; //"'
    frame = pl.DataFrame(
        {
            "id": ["<img src=x onerror=alert(1)>", "a/../b", "a/../b"],
            "x": [1.0, 2.0, 3.0],
            "y": [1.0, 2.0, 3.0],
            "z": [1.0, 2.0, 3.0],
            crafted: [1.0, 2.0, 3.0],
            "9 lives": [1e300, -1e300, float("nan")],
            "note": ['"; alert(1); "', None, "ok"],
        }
    )
    drawn = table_annotation_layer(STATE, frame, "cells", color_by=crafted, size_by="9 lives")
    layer = drawn.state.layer("cells")
    ids = [p["id"] for p in layer["annotationProperties"]]
    assert ids == ["color", "size", "x___discard_____", "c_9_lives"]
    assert all(p["id"].replace("_", "a").isalnum() for p in layer["annotationProperties"])
    assert crafted not in layer["shader"] and "alert" not in layer["shader"]
    assert [a["id"] for a in layer["annotations"]] == [
        "row-_img_src_x_onerror_alert_1__",
        "row-a_.._b",
        "row-a_.._b-2",  # a repeated key still names one row
    ]
    assert layer["annotations"][0]["props"][3] == pytest.approx(3.4028234e38)  # clamped to float32
    assert layer["annotations"][2]["props"][3] == 0.0  # NaN is no JSON number
    assert layer["annotations"][0]["description"].endswith('note="; alert(1); "')  # text, shown as text


def test_the_layer_travels_in_a_share_link(rois):
    drawn = table_annotation_layer(STATE, rois, "rois", color_by="volume_um3")
    reopened = parse_url(to_url(drawn.state))
    assert reopened.layer("rois") == drawn.state.layer("rois")


def test_bad_columns_and_layers_are_refused_with_what_to_do(rois):
    with pytest.raises(NgStateError, match="no column 'volume' for colour"):
        table_annotation_layer(STATE, rois, "rois", color_by="volume")
    with pytest.raises(NgStateError, match="Sizes come from a numeric column"):
        table_annotation_layer(STATE, rois, "rois", size_by="brightness")
    with pytest.raises(NgStateError, match="layer of the view already"):
        table_annotation_layer(STATE, rois, "segmentation")
    with pytest.raises(NgStateError, match="no annotation 'row-99'"):
        focus_annotation(table_annotation_layer(STATE, rois, "rois").state, "rois", "row-99")
