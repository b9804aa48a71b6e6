"""Benchmark the agent engine: per-tool-call overhead, the offline planner, chat round trips.

Run ``python benchmarks/agent.py``. Figures (medians over repeats):

- ``tool_overhead_ms``: one call of a trivial tool through the registry, excluding any model:
  argument JSON parsing and validation, dispatch, result summarising and truncation, the
  trace record and the ``ToolStarted``/``ToolFinished`` events. ``naive_dispatch_ms`` is the
  competing approach (``json.loads`` and a direct call, no validation, events or trace);
  ``tool_overhead_ratio`` = ours / naive.
- ``offline_planner_ms``: parse and plan a typical multi-command input (four commands);
  ``offline_turn_ms``: the whole offline turn (plan, run the four tools, events, memory).
- ``chat_round_trip_ms`` / ``chat_round_trip_stream_ms``: one chat turn answered with text by
  the scripted OpenAI-compatible server on 127.0.0.1 (no model latency), non-streaming and
  streaming; ``raw_client_round_trip_ms``: the same request body (messages and tool schemas)
  sent with the bare ``openai`` client, the competing approach;
  ``tool_turn_round_trip_ms``: a turn with one tool call (two requests).

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from engines.agent import ChatSession, LlmConfig, ToolRegistry, Toolset, TurnLimits  # noqa: E402
from engines.agent.loop import execute_tool_call  # noqa: E402
from engines.agent.trace import ToolTrace  # noqa: E402
from tests.engines.agent.example_toolset import MiniViewer, build_viewer_tools, demo_cells  # noqa: E402
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall  # noqa: E402

COMMANDS = "go to 1200 900 40 and zoom in, then set the contrast of em to 20-180 and hide the segmentation"


def median_ms(action: Callable[[], object], repeats: int, batch: int = 1) -> float:
    """Median over ``repeats`` of the mean time of ``batch`` runs, in milliseconds (after one warm-up)."""
    action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batch):
            action()
        times.append((time.perf_counter() - start) * 1000 / batch)
    return statistics.median(times)


def interleaved_medians_ms(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each action once per round, ``repeats`` rounds, so load from other processes hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():
        action()
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def trivial_toolset() -> Toolset:
    toolset = Toolset("bench")

    @toolset.tool(mutates=True)
    def move(x: float, y: float, z: float) -> str:
        """Move to a point."""
        return "ok"

    return toolset


def bench_tool_overhead() -> dict[str, float]:
    registry = ToolRegistry([trivial_toolset()])
    trace = ToolTrace()
    arguments = '{"x": 1200, "y": 900, "z": 40}'

    def ours() -> None:
        for _ in execute_tool_call(
            registry, trace, "c", "move", arguments, turn=1, round_=1, source="model", result_chars=4000
        ):
            pass

    function = registry.tools["move"].function

    def naive() -> None:
        function(**json.loads(arguments))

    overhead = median_ms(ours, repeats=50, batch=200)
    baseline = median_ms(naive, repeats=50, batch=200)
    return {
        "tool_overhead_ms": overhead,
        "naive_dispatch_ms": baseline,
        "tool_overhead_ratio": overhead / baseline,
    }


def bench_planner() -> dict[str, float]:
    viewer = MiniViewer()
    session = ChatSession(build_viewer_tools(viewer, demo_cells()))
    planner = session.registry.planner
    plan = planner.plan(COMMANDS)
    assert [c.tool for c in plan.calls] == ["set_position", "zoom", "set_contrast", "set_visibility"], plan
    return {
        "offline_planner_ms": median_ms(lambda: planner.plan(COMMANDS), repeats=50, batch=20),
        "offline_turn_ms": median_ms(lambda: list(session.send(COMMANDS)), repeats=50, batch=20),
    }


def bench_round_trips(repeats: int = 100) -> dict[str, float]:
    with ScriptedOpenAIServer(responder=lambda body: _reply(body)) as server:
        config = LlmConfig(model="scripted-model", base_url=server.base_url, api_key="bench", timeout_s=10)
        tools = build_viewer_tools(MiniViewer(), demo_cells())
        plain = ChatSession(tools, config, limits=TurnLimits(stream=False))
        streaming = ChatSession(tools, config, limits=TurnLimits(stream=True))
        client = openai.OpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
        same_request = {
            "model": "scripted-model",
            "tools": plain.registry.schemas,
            "messages": plain.context.messages(plain.memory, "hello"),
        }
        figures = interleaved_medians_ms(
            {
                "chat_round_trip_ms": lambda: _answered(plain, "hello"),
                "chat_round_trip_stream_ms": lambda: _answered(streaming, "hello"),
                "raw_client_round_trip_ms": lambda: client.chat.completions.create(**same_request),
                "tool_turn_round_trip_ms": lambda: _answered(plain, "zoom please"),
            },
            repeats,
        )
        client.close()
        plain.close()
        streaming.close()
    figures["round_trip_overhead_ratio"] = figures["chat_round_trip_ms"] / figures["raw_client_round_trip_ms"]
    return figures


def _reply(body: dict) -> ScriptedReply:
    """Text for plain messages; for "zoom please", a tool call first and then the answer."""
    messages = body["messages"]
    if messages[-1]["role"] == "user" and messages[-1]["content"] == "zoom please":
        return ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 1.0})])
    return ScriptedReply("Hello! The view is at the origin, zoomed out; ask me to move or style it.")


def _answered(session: ChatSession, text: str) -> None:
    final = list(session.send(text))[-1]
    assert final.stopped == "answered", final
    session.new_conversation()  # keep the context the same size in every repeat


def main() -> None:
    figures: dict[str, float] = {}
    figures.update(bench_tool_overhead())
    print(
        f"tool call: ours {figures['tool_overhead_ms'] * 1000:.1f} µs, naive dispatch "
        f"{figures['naive_dispatch_ms'] * 1000:.2f} µs (x{figures['tool_overhead_ratio']:.0f}; floor < 5 ms)"
    )
    figures.update(bench_planner())
    print(
        f"offline planner: {figures['offline_planner_ms']:.3f} ms to plan 4 commands; "
        f"whole offline turn {figures['offline_turn_ms']:.2f} ms"
    )
    figures.update(bench_round_trips())
    print(
        f"chat round trip on 127.0.0.1: {figures['chat_round_trip_ms']:.2f} ms, streaming "
        f"{figures['chat_round_trip_stream_ms']:.2f} ms, bare openai client "
        f"{figures['raw_client_round_trip_ms']:.2f} ms (x{figures['round_trip_overhead_ratio']:.2f}); "
        f"with one tool call {figures['tool_turn_round_trip_ms']:.2f} ms"
    )
    print(json.dumps({key: round(value, 4) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
