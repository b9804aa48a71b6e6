"""The Neuroglancer page's toolsets on real states, volumes and tables: offline commands and a scripted
model."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.agent import ChatSession, LlmConfig
from engines.agent.toolsets import MultiViewArtifact, ViewerTools, build_table_tools, build_viewer_tools
from engines.io.policy import SourcePolicy
from engines.ngstate import StateStore, build_demo_state, ensure_demo_volume, lut_range
from engines.ngstate.session import ViewerSession
from engines.tables import TableWorkspace
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall

ROIS = Path(__file__).resolve().parents[3] / "assets" / "demo_rois.csv"
BASE = "http://app.example/ngdemo"  # what the browser sees; the server reads the same volume from disk


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return ensure_demo_volume(tmp_path_factory.mktemp("ngdemo"))


@pytest.fixture
def page(demo, workspace):
    policy = SourcePolicy(workspace=workspace, allowed_roots=(workspace,))
    session = ViewerSession(build_demo_state(BASE))
    tables = TableWorkspace(policy)
    tables.upload("rois.csv", ROIS.read_bytes(), name="rois")
    viewer = ViewerTools(
        session,
        StateStore(workspace),
        policy,
        aliases={BASE: demo.folder},
        share_link=lambda state: f"http://app.example/?page=neuroglancer&n={len(state.layer_names)}",
    )
    toolsets = [build_viewer_tools(viewer), build_table_tools(tables, lambda: session.state)]
    return session, tables, toolsets, workspace


def _run(chat: ChatSession, text: str) -> list:
    return list(chat.send(text))


def _finished(events) -> list:
    return [e for e in events if e.kind == "tool_finished"]


def test_offline_commands_drive_the_viewer(page):
    session, _tables, toolsets, workspace = page
    chat = ChatSession(toolsets, None, workspace, page="neuroglancer")
    events = _run(chat, "go to 60 40 20 and zoom in")
    assert [e.tool for e in _finished(events)] == ["go_to", "zoom"]
    assert session.state.position == {"x": 60, "y": 40, "z": 20}
    assert session.state.cross_section_scale == pytest.approx(build_demo_state(BASE).cross_section_scale / 2)
    _run(chat, "set the contrast of image to 20-180; hide the segmentation")
    assert lut_range(session.state, "image") == (20, 180)
    assert session.state.layer("segmentation")["visible"] is False
    _run(chat, "add a point at 10 20 30; layout 4panel")
    assert session.state.layout == "4panel"
    assert session.state.layer("annotations")["annotations"][0]["point"] == [10, 20, 30]


def test_fit_and_auto_contrast_read_the_demo_volume_from_disk(page):
    session, _tables, toolsets, workspace = page
    chat = ChatSession(toolsets, None, workspace)
    _run(chat, "zoom to fit")
    assert session.state.position == {"x": 64, "y": 64, "z": 24}  # the centre of the 128x128x48 volume
    events = _run(chat, "auto contrast")
    low, high = lut_range(session.state, "image")
    assert 0 <= low < high <= 255, _finished(events)
    assert (
        session.state.cross_section_scale != build_demo_state(BASE).cross_section_scale
    )  # fit changed the scale


def test_top_n_makes_one_view_per_row_centred_on_each_cell(page):
    session, tables, toolsets, workspace = page
    chat = ChatSession(toolsets, None, workspace)
    [finished] = _finished(_run(chat, "top 5 cells by volume_um3"))
    views = finished.artifact.views
    assert isinstance(finished.artifact, MultiViewArtifact) and views.table.height == 5
    volumes = views.table["volume_um3"].to_list()
    assert volumes == sorted(volumes, reverse=True)
    biggest = tables.frame("rois").sort("volume_um3", descending=True).row(0, named=True)
    first = views.states[0]
    assert first.position["x"] == pytest.approx(biggest["x"]) and first.position["z"] == pytest.approx(
        biggest["z"]
    )
    assert first.layer("segmentation")["segments"] == [str(biggest["id"])]


def test_sql_refuses_writes_and_file_reads_in_the_chat(page):
    _session, _tables, toolsets, workspace = page
    chat = ChatSession(toolsets, None, workspace)
    errors = [e for e in _run(chat, "sql drop table rois") if e.kind == "tool_error"]
    assert errors and "SELECT" in errors[0].message
    errors = [e for e in _run(chat, "sql select * from read_csv('/etc/passwd')") if e.kind == "tool_error"]
    assert errors
    [ok] = _finished(_run(chat, "sql select id, volume_um3 from rois where volume_um3 > 300"))
    assert ok.artifact.frame.height >= 1


def test_a_model_plans_the_same_tools_over_an_openai_compatible_endpoint(page):
    session, _tables, toolsets, workspace = page
    with ScriptedOpenAIServer() as server:
        server.queue(
            ScriptedReply(
                tool_calls=[
                    ToolCall("go_to", {"position": {"x": 12, "z": 7}}),
                    ToolCall("set_contrast", {"limits": [5, 99], "layer": "image"}),
                ]
            ),
            ScriptedReply("Moved and set the contrast."),
        )
        chat = ChatSession(
            toolsets,
            LlmConfig(model="m", base_url=server.base_url, api_key="k", timeout_s=5),
            workspace,
            page="neuroglancer",
            state_summary=lambda: f"position {session.state.position}",
        )
        events = _run(chat, "center on x 12 and z 7, contrast 5 to 99")
    assert events[-1].text == "Moved and set the contrast."
    assert session.state.position == {"x": 12, "y": 64, "z": 7}  # named dimensions: y stays
    assert lut_range(session.state, "image") == (5, 99)
    first = server.requests[0]
    tool_names = {tool["function"]["name"] for tool in first["tools"]}
    assert {"go_to", "zoom", "top_views", "run_sql", "plot_table"} <= tool_names
    assert any("position {'x': 64.0" in str(m.get("content")) for m in first["messages"])  # the state summary


def test_share_and_saved_views(page):
    session, _tables, toolsets, workspace = page
    chat = ChatSession(toolsets, None, workspace)
    _run(chat, "go to 1 2 3; save the view as corner")
    _run(chat, "go to 100 100 40")
    _run(chat, "load the view corner")
    assert session.state.position == {"x": 1, "y": 2, "z": 3}
    [shared] = _finished(_run(chat, "share the view"))
    assert shared.artifact.url.startswith("http://app.example/?page=neuroglancer")
