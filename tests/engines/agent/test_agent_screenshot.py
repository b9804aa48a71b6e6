"""The viewer's ``screenshot`` tool: statistics a text model can reason about, the picture for the chat,
and the picture itself for a model that reads images (checked on a real OpenAI-compatible server)."""

from __future__ import annotations

import base64
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.agent import ChatSession, LlmConfig
from engines.agent.image_stats import measure_image, shrink_image
from engines.agent.results import ImageArtifact
from engines.agent.toolsets import ViewerTools, build_viewer_tools
from engines.io.policy import SourcePolicy
from engines.ngstate import NgState, StateStore, build_demo_state
from engines.ngstate.errors import NgStateError
from engines.ngstate.session import ViewerSession
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall

GREY, BLACK = (128, 128, 128), (0, 0, 0)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _viewer_picture(width: int = 300, height: int = 150) -> bytes:
    """A grey (empty cross-section) frame with one bright cell in the lower left ninth."""
    pixels = np.full((height, width, 3), GREY, dtype=np.uint8)
    pixels[height * 2 // 3 :, : width // 3] = (250, 200, 40)
    return _png(pixels)


def _viewer_tools(workspace: Path, camera=None) -> ViewerTools:
    policy = SourcePolicy(workspace=workspace, allowed_roots=(workspace,))
    session = ViewerSession(build_demo_state("http://app.example/ngdemo"))
    return ViewerTools(session, StateStore(workspace), policy, camera=camera)


def test_statistics_say_how_big_how_bright_and_where_something_is_drawn():
    stats = measure_image(_viewer_picture())
    assert (stats.width, stats.height) == (300, 150)
    assert stats.foreground_fraction == pytest.approx(1 / 9)
    assert stats.foreground_grid[2][0] == 1.0 and stats.foreground_grid[0][0] == 0.0
    assert stats.brightness_grid[2][0] > stats.brightness_grid[1][1] == pytest.approx(128)
    assert stats.channel_means[0] > stats.channel_means[2]  # the cell is yellow: more red than blue
    text = stats.describe()
    assert text.startswith("Screenshot 300x150 px:") and "11.1% of pixels are not background" in text
    assert "bottom: left 197 / 100%" in text  # luminance of (250, 200, 40)


def test_an_empty_frame_has_nothing_drawn_whichever_background():
    for background in (GREY, BLACK):
        empty = _png(np.full((40, 60, 3), background, dtype=np.uint8))
        assert measure_image(empty).foreground_fraction == 0.0
    white = _png(np.full((40, 60, 3), 255, dtype=np.uint8))  # a custom background colour, when the state says
    assert measure_image(white, backgrounds=[(255, 255, 255)]).foreground_fraction == 0.0


def test_a_large_picture_is_scaled_to_the_longest_side_allowed():
    big = _viewer_picture(2400, 1200)
    with Image.open(io.BytesIO(shrink_image(big, 1024))) as small:
        assert small.size == (1024, 512)
    little = _viewer_picture(200, 100)
    assert shrink_image(little, 1024) is little


def test_the_screenshot_tool_shows_the_picture_and_gives_its_statistics(workspace):
    picture = _viewer_picture()
    chat = ChatSession(
        [build_viewer_tools(_viewer_tools(workspace, camera=lambda: picture))], None, workspace
    )
    events = list(chat.send("take a screenshot"))
    finished = [e for e in events if e.kind == "tool_finished"]
    assert [e.tool for e in finished] == ["screenshot"]
    assert isinstance(finished[0].artifact, ImageArtifact) and finished[0].artifact.data == picture
    assert finished[0].summary.startswith("Screenshot 300x150 px")
    assert chat.trace.steps[-1].data["foreground_fraction"] == pytest.approx(1 / 9, abs=1e-3)


def test_without_a_viewer_on_screen_the_tool_says_why(workspace):
    chat = ChatSession([build_viewer_tools(_viewer_tools(workspace))], None, workspace)
    answer = list(chat.send("what do you see"))[-1].text
    assert "No viewer is drawn for this chat" in answer and "describe the view" in answer

    def no_tab() -> bytes:
        raise NgStateError("The viewer sent no picture within 10 s.")

    chat = ChatSession([build_viewer_tools(_viewer_tools(workspace, camera=no_tab))], None, workspace)
    assert "sent no picture within 10 s" in list(chat.send("take a screenshot"))[-1].text


def test_the_state_background_colour_is_what_counts_as_nothing_drawn(workspace):
    pixels = np.full((90, 90, 3), 255, dtype=np.uint8)
    pixels[:30, :30] = (20, 20, 20)
    tools = _viewer_tools(workspace, camera=lambda: _png(pixels))
    tools.session.set(
        NgState({**tools.session.state.to_dict(), "crossSectionBackgroundColor": "#ffffff"}), "white"
    )
    chat = ChatSession([build_viewer_tools(tools)], None, workspace)
    list(chat.send("screenshot"))
    assert chat.trace.steps[-1].data["foreground_fraction"] == pytest.approx(1 / 9, abs=1e-3)


def _picture_parts(messages: list[dict]) -> list[str]:
    return [
        part["image_url"]["url"]
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]


@pytest.mark.parametrize("reads_images", [True, False])
def test_a_model_that_reads_images_gets_the_screenshot_after_the_tool_answer(
    server: ScriptedOpenAIServer, llm: LlmConfig, workspace, reads_images: bool
):
    picture = _viewer_picture()
    server.queue(ScriptedReply(tool_calls=[ToolCall("screenshot", {})]), ScriptedReply("A cell, lower left."))
    chat = ChatSession(
        [build_viewer_tools(_viewer_tools(workspace, camera=lambda: picture))],
        dataclasses.replace(llm, chat_images=reads_images),
        workspace,
    )
    assert list(chat.send("is the cell in view?"))[-1].text == "A cell, lower left."
    after = server.requests[1]["messages"]
    tool_answer = next(i for i, m in enumerate(after) if m["role"] == "tool")
    assert after[tool_answer]["content"].startswith("Screenshot 300x150 px")  # statistics either way
    pictures = _picture_parts(after)
    if not reads_images:
        assert pictures == [] and tool_answer == len(after) - 1
        return
    assert after[tool_answer + 1]["role"] == "user"  # after the tool answers, never between call and answer
    assert pictures == [after[tool_answer + 1]["content"][1]["image_url"]["url"]]
    assert pictures[0].startswith("data:image/png;base64,")
    assert base64.b64decode(pictures[0].split(",", 1)[1]) == picture
