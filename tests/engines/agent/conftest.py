"""Fixtures of the agent tests: a scripted OpenAI-compatible server, an endpoint config with short waits, a
toolset."""

from __future__ import annotations

import pytest

from engines.agent import LlmConfig, Toolset
from tests.engines.agent.example_toolset import MiniViewer, build_viewer_tools, demo_cells
from tests.support.openai_server import ScriptedOpenAIServer


@pytest.fixture
def server():
    with ScriptedOpenAIServer() as running:
        yield running


@pytest.fixture
def llm(server: ScriptedOpenAIServer) -> LlmConfig:
    """The scripted server with a short timeout and near-instant backoff, so failure tests stay fast."""
    return LlmConfig(
        model="scripted-model",
        base_url=server.base_url,
        api_key="test-key",
        timeout_s=2.0,
        max_retries=2,
        backoff_s=0.01,
        max_wait_s=5.0,
    )


@pytest.fixture
def viewer() -> MiniViewer:
    return MiniViewer()


@pytest.fixture
def tools(viewer: MiniViewer) -> Toolset:
    return build_viewer_tools(viewer, demo_cells())
