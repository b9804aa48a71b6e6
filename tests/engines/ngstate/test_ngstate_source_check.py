"""Layers the viewer cannot load are found, with the reason, before the user has to look for them."""

from __future__ import annotations

from engines.ngstate import NgState, build_demo_state
from engines.ngstate.source_check import layers_that_cannot_load
from tests.support.range_server import RangeServer


def _with_layer(state: NgState, name: str, source: str, layer_type: str = "image") -> NgState:
    data = state.to_dict()
    data["layers"] = [*data["layers"], {"type": layer_type, "source": source, "name": name}]
    return NgState(data)


def test_a_state_whose_volumes_all_answer_has_no_problem(demo_server, policy):
    assert layers_that_cannot_load(build_demo_state(demo_server.url_for("")), policy) == []


def test_a_missing_volume_and_a_broken_info_are_named_with_their_reason(demo_server, policy, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "info").write_text("<html>not a volume</html>")
    state = build_demo_state(demo_server.url_for(""))
    with RangeServer(tmp_path) as other:
        state = _with_layer(state, "gone", f"precomputed://{demo_server.url_for('nothing-here')}")
        state = _with_layer(state, "broken", f"precomputed://{other.url_for('broken')}", "segmentation")
        problems = layers_that_cannot_load(state, policy)
    assert [p.layer for p in problems] == ["gone", "broken"]
    assert "info file is missing" in problems[0].reason
    assert "not a precomputed volume description" in problems[1].reason
    assert problems[0].describe().startswith("The viewer cannot load layer 'gone': ")


def test_a_server_that_does_not_answer_is_a_problem(policy):
    state = _with_layer(NgState({"layers": []}), "silent", "precomputed://http://127.0.0.1:9/volume")
    (problem,) = layers_that_cannot_load(state, policy)
    assert problem.layer == "silent" and problem.reason


def test_sources_the_server_may_not_read_or_does_not_read_are_left_to_the_browser(demo_server, strict_policy):
    state = _with_layer(NgState({"layers": []}), "private", f"precomputed://{demo_server.url_for('')}image")
    state = _with_layer(state, "zarr", "zarr://https://example.org/volume.zarr")
    state = _with_layer(state, "notes", "local://annotations", "annotation")
    assert layers_that_cannot_load(state, strict_policy) == []
