"""The object tree shows a scalar dataset's value beside its name, escaped, and views open on broken clocks
with a message instead of an empty plot."""

from __future__ import annotations

import panel as pn

from components.nwb.object_tree import ObjectTree
from components.nwb.views import views_for
from engines.errors import NeurodeckError
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.nan_clock import write_nan_clock_nwb


def _row(tree: ObjectTree, path: str) -> dict:
    rows = tree._rows
    return rows[rows["path"] == path].iloc[0].to_dict()


def test_scalars_show_their_value_beside_their_name_escaped(workspace, policy, index_store):
    nwb = open_nwb(str(write_nan_clock_nwb(workspace / "nan_clock.nwb")), policy, index_store)
    try:
        tree = ObjectTree(nwb.index)
        tree.reveal("/acquisition/fine/starting_time")
        tree.reveal("/acquisition/nan_start/starting_time")
        assert ": 2.0</span>" in _row(tree, "/acquisition/fine/starting_time")["name"]
        assert ": NaN<" in _row(tree, "/acquisition/nan_start/starting_time")["name"]
        description = _row(tree, "/session_description")["name"]
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; a session…" in description and "<b>" not in description
        assert description.endswith("…</span></span>")
        assert "nd-value" not in _row(tree, "/acquisition/fine/data")["name"]
        assert "nd-value" not in _row(tree, "/acquisition")["name"]
    finally:
        nwb.close()


def test_the_traces_of_a_series_without_a_clock_say_why(workspace, policy, index_store):
    nwb = open_nwb(str(write_nan_clock_nwb(workspace / "nan_clock.nwb")), policy, index_store)
    try:
        messages = {}
        for path in ("/acquisition/nan_start", "/acquisition/no_clock", "/acquisition/stamped"):
            view = views_for(nwb.index, path)[0]
            try:
                pn.panel(view(nwb, path).__panel__()).get_root()
                messages[path] = ""
            except NeurodeckError as exc:
                messages[path] = str(exc)
        assert "starting_time is nan" in messages["/acquisition/nan_start"]
        assert "neither timestamps nor starting_time" in messages["/acquisition/no_clock"]
        assert messages["/acquisition/stamped"] == ""
    finally:
        nwb.close()
