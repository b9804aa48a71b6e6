"""States survive URLs exactly (key order included) and stay compatible with Neuroglancer's own package."""

from __future__ import annotations

import json

import neuroglancer
import pytest
from neuroglancer import url_state

from engines.ngstate import NgState, StateParseError, parse_url, pointer_of, to_url
from engines.ngstate.urls import json_to_url_safe, to_fragment, url_safe_to_json
from tests.engines.ngstate.states import ALL_STATES, EM_STATE, ODD_KEYS_STATE, PLANE_STATE, TIMELAPSE_STATE

NG_UNDERSTOOD = {"em": EM_STATE, "timelapse": TIMELAPSE_STATE, "plane": PLANE_STATE}


def _key_paths(value, prefix=()):
    """Every key path in document order: equal lists mean equal key order at every level."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _key_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _key_paths(item, prefix + (i,))


@pytest.mark.parametrize("name", ALL_STATES)
@pytest.mark.parametrize("url_safe", [False, True])
def test_url_round_trip_keeps_values_and_key_order(name, url_safe):
    state = NgState(ALL_STATES[name])
    url = to_url(state, "https://ng.example.org/", url_safe=url_safe)
    back = parse_url(url)
    assert back == state
    assert back.to_dict() == ALL_STATES[name]
    assert list(_key_paths(back.to_dict())) == list(_key_paths(ALL_STATES[name]))


def test_dimension_order_is_never_sorted():
    state = parse_url(to_url(NgState(TIMELAPSE_STATE)))
    assert state.dimension_names == ["t", "c^", "z", "y", "x"]
    assert state.position == {"t": 12.0, "c^": 0.0, "z": 40.5, "y": 900.5, "x": 1200.5}


def test_unknown_keys_stay_where_they_were():
    state = parse_url(to_url(NgState(ODD_KEYS_STATE), url_safe=True))
    assert state.keys() == list(ODD_KEYS_STATE)
    assert state.get("zzzFirst") == {"nested": {"b": 1, "a": [3, 2, 1]}}
    assert state.layer("raw")["futureOption"] == {"q": True}


@pytest.mark.parametrize("name", NG_UNDERSTOOD)
def test_plain_url_is_what_neuroglancer_writes(name):
    ours = to_url(NgState(NG_UNDERSTOOD[name]), "https://ng.example.org")
    theirs = url_state.to_url(NG_UNDERSTOOD[name], prefix="https://ng.example.org")
    assert ours == theirs


@pytest.mark.parametrize("name", NG_UNDERSTOOD)
@pytest.mark.parametrize("url_safe", [False, True])
def test_neuroglancer_parses_our_urls(name, url_safe):
    url = to_url(NgState(NG_UNDERSTOOD[name]), url_safe=url_safe)
    parsed = url_state.parse_url(url)
    assert parsed.to_json() == neuroglancer.ViewerState(NG_UNDERSTOOD[name]).to_json()


@pytest.mark.parametrize("name", NG_UNDERSTOOD)
def test_we_parse_neuroglancer_urls(name):
    viewer_state = neuroglancer.ViewerState(NG_UNDERSTOOD[name])
    url = url_state.to_url(viewer_state)
    assert parse_url(url).to_dict() == json.loads(json.dumps(viewer_state.to_json()))
    safe = "https://x.org/#!" + url_state.json_to_url_safe(
        json.dumps(NG_UNDERSTOOD[name], separators=(",", ":"))
    )
    assert parse_url(safe).to_dict() == NG_UNDERSTOOD[name]


def test_url_safe_conversion_matches_neuroglancer_on_ordinary_text():
    text = json.dumps(EM_STATE, separators=(",", ":"))
    assert json_to_url_safe(text) == url_state.json_to_url_safe(text)
    safe = json_to_url_safe(text)
    assert url_safe_to_json(safe) == url_state.url_safe_to_json(safe) == text


def test_apostrophes_survive_the_url_safe_form():
    """Written as \\u0027, which both our parser and Neuroglancer's read back."""
    state = NgState({"title": 'Cell\'s "nucleus", a_b & c', "layers": []})
    url = to_url(state, url_safe=True)
    assert parse_url(url) == state
    assert url_state.parse_url(url).to_json()["title"] == 'Cell\'s "nucleus", a_b & c'


@pytest.mark.parametrize(
    "text",
    [
        "https://ng.example.org/#!" + to_fragment(NgState(EM_STATE)),
        "#!" + to_fragment(NgState(EM_STATE)),
        "!" + to_fragment(NgState(EM_STATE)),
        json.dumps(EM_STATE),
        "  " + json.dumps(EM_STATE, indent=2) + "\n",
    ],
)
def test_every_pasteable_form_parses(text):
    assert parse_url(text) == NgState(EM_STATE)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "No state given"),
        ("https://ng.example.org/", "no '#!' part"),
        ("https://ng.example.org/#!", "empty state"),
        ("https://ng.example.org/#!%7B%22layers%22:%5B", "not valid JSON"),
        ("https://ng.example.org/#![1,2]", "JSON object"),
        ("https://ng.example.org/#!gs://bucket/state.json", "fetched"),
    ],
)
def test_bad_urls_say_what_is_wrong(text, message):
    with pytest.raises(StateParseError, match=message):
        parse_url(text)


@pytest.mark.parametrize(
    "text, pointer",
    [
        (
            "https://neuroglancer-demo.appspot.com/#!gs://neuroglancer-janelia-flyem-hemibrain/v1.0/base.json",
            "gs://neuroglancer-janelia-flyem-hemibrain/v1.0/base.json",
        ),
        ("#!s3://bucket/states/a.json", "s3://bucket/states/a.json"),
        ("https://host/#!https%3A%2F%2Fstate.example.org%2Fs.json", "https://state.example.org/s.json"),
        ("https://host/#!" + to_fragment(NgState(PLANE_STATE)), None),
    ],
)
def test_pointer_urls_are_recognised(text, pointer):
    assert pointer_of(text) == pointer


def test_a_state_is_never_changed_through_its_copies():
    state = NgState(EM_STATE)
    copy = state.to_dict()
    copy["layers"].clear()
    state.layer("emdata")["name"] = "changed"
    assert state.layer_names == ["emdata", "segmentation", "notes"]


def test_we_read_neuroglancers_escaped_apostrophes():
    fragment = url_state.json_to_url_safe(
        json.dumps({"localDimensions": {"c'": [1, ""]}}, separators=(",", ":"))
    )
    assert "\\'" in fragment
    assert parse_url("#!" + fragment).to_dict() == {"localDimensions": {"c'": [1, ""]}}
