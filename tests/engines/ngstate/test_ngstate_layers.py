"""Layers: add (idempotent), show/hide, segments, contrast; annotations; summary; saved states; row views."""

from __future__ import annotations

import neuroglancer
import pytest

from engines.ngstate import (
    LayerNotFound,
    NgState,
    NgStateError,
    StateNotFound,
    StateParseError,
    StateStore,
    add_box,
    add_layer,
    add_line,
    add_point,
    build_row_view,
    list_annotations,
    lut_range,
    remove_layer,
    select_segments,
    set_lut_range,
    set_visibility,
    summarize_state,
)
from engines.ngstate.layers import DEFAULT_IMAGE_SHADER
from tests.engines.ngstate.states import EM_STATE, ODD_KEYS_STATE, PLANE_STATE, TIMELAPSE_STATE


def test_add_layer_is_idempotent_by_name():
    once = add_layer(NgState(EM_STATE), "extra", "image", "precomputed://https://example.org/extra")
    twice = add_layer(once, "extra", "image", "precomputed://https://example.org/extra")
    assert once == twice
    assert once.layer_names == ["emdata", "segmentation", "notes", "extra"]
    moved = add_layer(once, "extra", "image", "precomputed://https://example.org/moved")
    assert moved.layer_source("extra") == "precomputed://https://example.org/moved"
    assert moved.layer_names == once.layer_names


def test_add_layer_refuses_a_name_taken_by_another_type():
    with pytest.raises(NgStateError, match="already exists as a segmentation layer"):
        add_layer(NgState(EM_STATE), "segmentation", "image", "precomputed://x")


def test_add_layer_in_the_older_object_form():
    state = add_layer(NgState(ODD_KEYS_STATE), "notes", "annotation")
    assert state.layer_names == ["raw", "labels", "notes"]
    assert isinstance(state.get("layers"), dict)
    assert state.layer("notes")["source"]["url"] == "local://annotations"


def test_new_layers_are_valid_for_neuroglancer():
    state = add_layer(NgState(PLANE_STATE), "seg", "segmentation", "precomputed://https://example.org/seg")
    state = add_layer(state, "marks", "annotation")
    parsed = neuroglancer.ViewerState(state.to_dict())
    assert [layer.name for layer in parsed.layers] == ["slide", "seg", "marks"]
    assert parsed.layers["marks"].type == "annotation"


def test_visibility_round_trip():
    hidden = set_visibility(NgState(EM_STATE), "Segmentation", False)
    assert [(i.name, i.visible) for i in hidden.layers][1] == ("segmentation", False)
    shown = set_visibility(hidden, "segmentation", True)
    assert "visible" not in shown.layer("segmentation")
    with pytest.raises(LayerNotFound, match="The layers are: emdata, segmentation, notes"):
        set_visibility(hidden, "missing", True)


def test_remove_layer():
    assert remove_layer(NgState(EM_STATE), "notes").layer_names == ["emdata", "segmentation"]
    assert remove_layer(NgState(ODD_KEYS_STATE), "raw").layer_names == ["labels"]


def test_select_segments_replace_add_remove():
    state = select_segments(NgState(EM_STATE), "segmentation", [5, "7", 5])
    assert state.layer("segmentation")["segments"] == ["5", "7"]
    state = select_segments(state, "segmentation", [9], mode="add")
    assert state.layer("segmentation")["segments"] == ["5", "7", "9"]
    state = select_segments(state, "segmentation", ["7"], mode="remove")
    assert state.layer("segmentation")["segments"] == ["5", "9"]
    with pytest.raises(NgStateError, match="not a segment id"):
        select_segments(state, "segmentation", ["-3"])
    with pytest.raises(NgStateError, match="image layer; segments belong"):
        select_segments(state, "emdata", [1])


def test_lut_range_on_a_layer_without_shader_writes_the_default_one():
    state = set_lut_range(NgState(EM_STATE), "emdata", 20, 180)
    layer = state.layer("emdata")
    assert layer["shader"] == DEFAULT_IMAGE_SHADER
    assert layer["shaderControls"] == {"normalized": {"range": [20, 180]}}
    assert lut_range(state, "emdata") == (20.0, 180.0)
    assert list(
        neuroglancer.ViewerState(state.to_dict()).layers["emdata"].shader_controls["normalized"].range
    ) == [20, 180]


def test_lut_range_keeps_a_custom_shader_and_its_other_settings():
    state = set_lut_range(NgState(TIMELAPSE_STATE), "nuclei", 0.5, 2000.25)
    layer = state.layer("nuclei")
    assert layer["shader"] == TIMELAPSE_STATE["layers"][0]["shader"]
    assert layer["shaderControls"]["contrast"] == {"range": [0.5, 2000.25], "window": [0, 8000]}


def test_lut_range_refusals():
    custom = NgState(
        {
            **PLANE_STATE,
            "layers": [{**PLANE_STATE["layers"][0], "shader": "void main() { emitRGB(vec3(1)); }"}],
        }
    )
    with pytest.raises(NgStateError, match="no '#uicontrol invlerp' control"):
        set_lut_range(custom, "slide", 0, 1)
    with pytest.raises(NgStateError, match="contrast ranges belong to image layers"):
        set_lut_range(NgState(EM_STATE), "segmentation", 0, 1)
    with pytest.raises(NgStateError, match="two different"):
        set_lut_range(NgState(EM_STATE), "emdata", 5, 5)
    with pytest.raises(NgStateError, match="no invlerp control 'gain'"):
        set_lut_range(NgState(TIMELAPSE_STATE), "nuclei", 0, 1, control="gain")


def test_annotations_get_ids_and_fill_missing_dimensions_from_the_position():
    state = add_point(
        NgState(TIMELAPSE_STATE), {"x": 10, "y": 20, "z": 3}, layer="marks", description="cell A"
    )
    state = add_box(state, {"x": 0, "y": 0, "z": 0}, {"x": 5, "y": 5, "z": 2}, layer="marks")
    state = add_line(state, [1, 0, 1, 2, 3], [1, 0, 4, 5, 6], layer="marks", annotation_id="L1")
    point, box, line = list_annotations(state, "marks")
    assert point["point"] == [12.0, 0.0, 3.0, 20.0, 10.0]  # t and c^ taken from the position
    assert point["description"] == "cell A" and len(point["id"]) == 32
    assert box["type"] == "axis_aligned_bounding_box" and box["pointB"] == [12.0, 0.0, 2.0, 5.0, 5.0]
    assert line["id"] == "L1" and line["pointA"] == [1.0, 0.0, 1.0, 2.0, 3.0]
    assert state.layer("marks")["source"]["url"] == "local://annotations"
    parsed = neuroglancer.ViewerState(state.to_dict())
    assert [a.type for a in parsed.layers["marks"].annotations] == [
        "point",
        "axis_aligned_bounding_box",
        "line",
    ]


def test_annotations_in_a_two_dimensional_state_and_an_existing_layer():
    state = add_point(NgState(PLANE_STATE), [3, 4])
    assert list_annotations(state, "annotations")[0]["point"] == [3.0, 4.0]
    em = add_point(NgState(EM_STATE), {"x": 1, "y": 2, "z": 3}, layer="notes")
    assert len(list_annotations(em, "notes")) == 2
    with pytest.raises(NgStateError, match="not a local annotation layer"):
        add_point(NgState(EM_STATE), {"x": 1}, layer="emdata")
    with pytest.raises(NgStateError, match="has 4 coordinates"):
        add_point(NgState(EM_STATE), [1, 2, 3, 4])


def test_summary_names_what_a_model_needs():
    state = set_lut_range(set_visibility(NgState(EM_STATE), "segmentation", False), "emdata", 20, 180)
    summary = summarize_state(state)
    assert "Position: x=17213.5, y=19862.5, z=20697.5" in summary.text
    assert "- emdata: image, visible, contrast 20-180" in summary.text
    assert (
        "- segmentation: segmentation, hidden, 2 selected segments (1187448086, 5813105172)" in summary.text
    )
    assert "- notes: annotation, visible, 1 annotations" in summary.text
    assert summary.data["layers"][0]["lut"] == (20.0, 180.0)
    assert [d["name"] for d in summarize_state(NgState(TIMELAPSE_STATE)).data["dimensions"]] == [
        "t",
        "c^",
        "z",
        "y",
        "x",
    ]


def test_saved_states_survive_a_new_store_object(workspace):
    store = StateStore(workspace)
    state = set_lut_range(NgState(TIMELAPSE_STATE), "nuclei", 1, 2)
    store.save("day 1.v2", state)
    assert StateStore(workspace).load("day 1.v2") == state  # key order and all
    assert [s.name for s in store.list()] == ["day 1.v2"]
    assert not [p for p in store.folder.iterdir() if p.name.startswith(".")]  # no temporary files left
    store.save("day 1.v2", NgState(PLANE_STATE))
    assert store.load("day 1.v2") == NgState(PLANE_STATE)
    store.delete("day 1.v2")
    with pytest.raises(StateNotFound, match="No saved state named 'day 1.v2'"):
        store.load("day 1.v2")


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 65, "trailing."])
def test_saved_state_names_cannot_escape_the_folder(workspace, name):
    with pytest.raises(NgStateError, match="cannot name a saved state"):
        StateStore(workspace).save(name, NgState(PLANE_STATE))


def test_a_damaged_saved_state_says_so(workspace):
    store = StateStore(workspace)
    store.save("good", NgState(PLANE_STATE))
    (store.folder / "good.json").write_text('{"layers": [')
    with pytest.raises(StateParseError, match="'good' is damaged"):
        store.load("good")


def test_row_view_moves_marks_selects_and_sets_contrast():
    base = NgState(EM_STATE)
    view = build_row_view(
        base,
        {"x": 100, "y": 200, "z": 300},
        label="42",
        segment_layer="segmentation",
        segment_id=42,
        lut=(10, 90),
    )
    assert view.position == {"x": 100.0, "y": 200.0, "z": 300.0}
    assert list_annotations(view, "selected row") == [
        {"type": "point", "id": "row-42", "point": [100.0, 200.0, 300.0], "description": "42"}
    ]
    assert view.layer("segmentation")["segments"] == ["42"]
    assert lut_range(view, "emdata") == (10.0, 90.0)
    again = build_row_view(view, {"x": 1, "y": 2, "z": 3}, label="7")
    assert len(list_annotations(again, "selected row")) == 1  # one marker, never a trail
    assert base == NgState(EM_STATE)
