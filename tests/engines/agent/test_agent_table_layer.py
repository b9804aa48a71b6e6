"""``show_table_in_viewer`` through the offline planner: a table's rows become a layer of the view."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from engines.agent import ChatSession
from engines.agent.toolsets import TableLayerArtifact, ViewerTools, build_table_tools, build_viewer_tools
from engines.io.policy import SourcePolicy
from engines.ngstate import StateStore, build_demo_state, parse_url, to_url
from engines.ngstate.session import ViewerSession
from engines.ngstate.urls import MAX_LINK_CHARS, to_fragment
from engines.tables import TableWorkspace

ROIS = Path(__file__).resolve().parents[3] / "assets" / "demo_rois.csv"
BASE = "http://app.example/ngdemo"


def _link(state) -> str:
    """The page's share link (the state in the address)."""
    return "http://app.example/?page=neuroglancer&state=" + quote("#!" + to_fragment(state, True), safe="")


@pytest.fixture
def chat(workspace):
    policy = SourcePolicy(workspace=workspace, allowed_roots=(workspace,))
    session = ViewerSession(build_demo_state(BASE))
    tables = TableWorkspace(policy)
    tables.upload("rois.csv", ROIS.read_bytes(), name="rois")
    viewer = ViewerTools(session, StateStore(workspace), policy, tables=tables, share_link=_link)
    toolsets = [build_viewer_tools(viewer), build_table_tools(tables, lambda: session.state)]
    return ChatSession(toolsets, None, workspace, page="neuroglancer"), session, tables


def _steps(chat: ChatSession, text: str) -> list:
    return [e for e in chat.send(text) if e.kind in ("tool_finished", "tool_error")]


def test_show_the_table_in_the_viewer_coloured_and_sized_by_columns(chat):
    chat, session, _tables = chat
    [step] = _steps(chat, "show the table rois in the viewer coloured by volume_um3 sized by sphericity")
    assert step.tool == "show_table_in_viewer", step
    layer = session.state.layer("rois")
    assert [p["id"] for p in layer["annotationProperties"][:2]] == ["color", "size"]
    assert len(layer["annotations"]) == 24
    assert layer["linkedSegmentationLayer"] == {"segments": "segmentation"}  # integer ids: linked
    assert "shows 24 of the table's 24 rows" in step.summary
    assert isinstance(step.artifact, TableLayerArtifact)
    assert step.artifact.drawn.annotation_ids[0] == "row-1"
    reopened = parse_url(to_url(session.state))  # a share link carries the layer
    assert reopened.layer("rois")["annotations"] == layer["annotations"]


def test_mark_the_rows_as_boxes_and_undo(chat):
    chat, session, tables = chat
    tables.sql("select * from rois where sphericity > 0.95", save_as="round")
    [step] = _steps(chat, "mark the rows of round as boxes colored by brightness")
    assert step.tool == "show_table_in_viewer"
    shapes = {a["type"] for a in session.state.layer("round")["annotations"]}
    assert shapes == {"axis_aligned_bounding_box"}
    assert len(session.state.layer("round")["annotations"]) == tables.info("round").rows
    _steps(chat, "undo")
    assert "round" not in session.state.layer_names


def test_show_the_table_alone_still_previews_it(chat):
    chat, session, _tables = chat
    [step] = _steps(chat, "show the table rois")
    assert step.tool == "preview_table"
    assert session.state.layer_names == ["image", "segmentation"]


def test_an_unknown_column_is_reported_and_the_view_is_unchanged(chat):
    chat, session, _tables = chat
    [step] = _steps(chat, "show the table rois in the viewer coloured by volume")
    assert step.kind == "tool_error" and "no column 'volume'" in step.message
    assert session.state.layer_names == ["image", "segmentation"]


def test_a_view_too_large_for_a_link_says_so_and_share_asks_for_a_saved_view(chat):
    chat, session, tables = chat
    rng = np.random.default_rng(0)
    rows = "\n".join(
        f"{i},{x:.3f},{y:.3f},5,{v:.4f}" for i, (x, y, v) in enumerate(rng.random((1000, 3)) * 100)
    )
    tables.upload("many.csv", ("id,x,y,z,score\n" + rows).encode(), name="many")
    [small] = _steps(chat, "share the view")
    assert small.kind == "tool_finished" and len(small.artifact.url) <= MAX_LINK_CHARS
    [drawn] = _steps(chat, "show the table many in the viewer")
    assert "too large for a share link" in drawn.summary
    [share] = _steps(chat, "share the view")
    assert share.kind == "tool_error" and "Save the view and share it by name" in share.message
    [saved] = _steps(chat, "save the view as many_cells")
    assert saved.kind == "tool_finished"
