"""The tool loop against a real OpenAI-compatible server on 127.0.0.1 with scripted replies."""

from __future__ import annotations

import json
import threading

import pytest

from engines.agent import (
    ChatSession,
    FinalAnswer,
    LlmConfig,
    PlotArtifact,
    TableArtifact,
    TextDelta,
    ToolError,
    ToolFinished,
    Toolset,
    ToolStarted,
    TurnLimits,
)
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall


def run(session: ChatSession, text: str, cancel=None) -> list:
    return list(session.send(text, cancel))


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize("stream", [False, True])
def test_multi_round_tool_calls_reach_an_answer(
    server: ScriptedOpenAIServer, llm: LlmConfig, tools: Toolset, viewer, stream: bool
):
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("set_position", {"x": 1200, "y": 900, "z": 40})]),
        ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 2})]),
        ScriptedReply("I moved to 1200, 900, 40 and zoomed in."),
    )
    session = ChatSession(tools, llm, limits=TurnLimits(stream=stream), state_summary=viewer.summary)
    events = run(session, "go there and zoom")
    assert [e.tool for e in of(events, ToolFinished)] == ["set_position", "zoom"]
    final = events[-1]
    assert isinstance(final, FinalAnswer) and final.stopped == "answered" and final.rounds == 3
    assert final.text == "I moved to 1200, 900, 40 and zoomed in."
    assert final.usage.total_tokens == 45 and final.usage.requests == 3
    assert viewer.position == {"x": 1200.0, "y": 900.0, "z": 40.0} and viewer.zoom == 2.0
    second = server.requests[1]["messages"]
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": second[-2]["tool_calls"][0]["id"],
        "content": "Moved to (1200, 900, 40).",
    }
    assert server.requests[0]["tools"] == [t.schema for t in tools]
    assert bool(server.requests[0].get("stream")) is stream


def test_the_model_sees_the_new_state_after_a_mutating_round(server, llm, tools, viewer):
    server.queue(ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 4})]), ScriptedReply("Done."))
    run(ChatSession(tools, llm, state_summary=viewer.summary), "zoom")
    assert "zoom 1;" in server.requests[0]["messages"][0]["content"]
    assert "zoom 4;" in server.requests[1]["messages"][0]["content"]


def test_several_tool_calls_in_one_round_run_in_order(server, llm, tools, viewer):
    server.queue(
        ScriptedReply(
            "On it.",
            tool_calls=[
                ToolCall("set_contrast", {"layer": "em", "limits": [20, 180]}),
                ToolCall("set_visibility", {"layer": "segmentation", "visible": False}),
                ToolCall("top_cells", {"n": 3, "column": "volume"}),
            ],
        ),
        ScriptedReply("Done."),
    )
    events = run(ChatSession(tools, llm), "style it and rank")
    assert [type(e).__name__ for e in events if not isinstance(e, TextDelta)] == [
        "ToolStarted",
        "ToolFinished",
        "ToolStarted",
        "ToolFinished",
        "ToolStarted",
        "ToolFinished",
        "FinalAnswer",
    ]
    assert of(events, ToolStarted)[0].arguments == {"layer": "em", "limits": [20.0, 180.0]}
    assert isinstance(of(events, ToolFinished)[2].artifact, TableArtifact)
    tool_messages = [m for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 3
    assert viewer.layers["em"]["range"] == [20.0, 180.0] and not viewer.layers["segmentation"]["visible"]
    assert events[-1].text == "On it.\n\nDone."


def test_streaming_shows_text_as_it_comes_and_artifacts_still_arrive(server, llm, tools):
    server.queue(
        ScriptedReply(
            "Let me plot that for you.", tool_calls=[ToolCall("plot_columns", {"x": "x", "y": "volume"})]
        ),
        ScriptedReply("Here is volume against x, the points spread evenly across the field."),
    )
    events = run(ChatSession(tools, llm, limits=TurnLimits(stream=True)), "plot volume against x")
    deltas = of(events, TextDelta)
    assert len(deltas) > 4  # pieces, not one block
    plot = of(events, ToolFinished)[0].artifact
    assert isinstance(plot, PlotArtifact) and plot.spec == {
        "type": "scatter",
        "table": "cells",
        "x": "x",
        "y": "volume",
    }
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolFinished") < len(kinds) - 2  # the plot came before the last text
    assert events[-1].text == "".join(d.text for d in deltas)
    assert events[-1].text.startswith("Let me plot that for you.\n\nHere is volume")
    described = json.loads(json.dumps([e.to_dict() for e in events]))
    assert described[kinds.index("ToolFinished")]["artifact"]["spec"]["y"] == "volume"


def test_long_urls_are_short_links_even_when_streamed(server, llm, tools):
    url = "https://neuroglancer-demo.appspot.com/#!" + "%7B%22layers%22%3A%5B%5D" * 20
    server.queue(ScriptedReply(f"Open {url} to see it."))
    events = run(ChatSession(tools, llm, limits=TurnLimits(stream=True)), "link")
    shown = "".join(d.text for d in of(events, TextDelta))
    assert shown == f"Open [Neuroglancer view (neuroglancer-demo.appspot.com)]({url}) to see it."
    assert all(url not in d.text or d.text.count("](") for d in of(events, TextDelta))


def test_malformed_arguments_go_back_to_the_model_which_corrects_them(server, llm, tools, viewer):
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("zoom", '{"factor": 2')]),
        ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": "twice"})]),
        ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 2})]),
        ScriptedReply("Zoomed in."),
    )
    events = run(ChatSession(tools, llm), "zoom in")
    errors = of(events, ToolError)
    assert [e.error_type for e in errors] == ["InvalidToolArguments", "InvalidToolArguments"]
    assert "not valid JSON" in errors[0].message and errors[0].arguments_text == '{"factor": 2'
    assert "factor: Input should be a valid number" in errors[1].message
    second_request_tool_message = server.requests[1]["messages"][-1]
    assert (
        second_request_tool_message["role"] == "tool"
        and "not valid JSON" in second_request_tool_message["content"]
    )
    assert viewer.zoom == 2.0 and events[-1].stopped == "answered"


def test_malformed_arguments_streamed_are_reported_too(server, llm, tools):
    server.queue(ScriptedReply(tool_calls=[ToolCall("zoom", "{factor: 2}")]), ScriptedReply("Sorry."))
    events = run(ChatSession(tools, llm, limits=TurnLimits(stream=True)), "zoom")
    assert of(events, ToolError)[0].arguments_text == "{factor: 2}"


def test_an_unknown_tool_is_reported_to_model_and_chat(server, llm, tools):
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("teleport", {"where": "home"})]), ScriptedReply("I can't.")
    )
    events = run(ChatSession(tools, llm), "teleport")
    error = of(events, ToolError)[0]
    assert error.error_type == "UnknownTool" and "no tool named 'teleport'" in error.message
    assert "set_position" in server.requests[1]["messages"][-1]["content"]
    assert events[-1].stopped == "answered"


def test_a_tool_that_fails_is_reported_and_the_turn_goes_on(server, llm, tools):
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("top_cells", {"n": 3, "column": "size"})]),
        ScriptedReply(tool_calls=[ToolCall("top_cells", {"n": 3, "column": "volume"})]),
        ScriptedReply("Here are the three largest."),
    )
    events = run(ChatSession(tools, llm), "top 3 by size")
    assert "no column 'size'" in of(events, ToolError)[0].message
    assert of(events, ToolFinished)[0].artifact.frame.height == 3


def test_large_results_are_cut_for_the_model_and_whole_in_the_trace(server, llm, tools):
    server.queue(ScriptedReply(tool_calls=[ToolCall("list_cells", {})]), ScriptedReply("200 cells."))
    session = ChatSession(tools, llm, limits=TurnLimits(result_chars=1000))
    events = run(session, "list the cells")
    whole = of(events, ToolFinished)[0].summary
    sent = server.requests[1]["messages"][-1]["content"]
    assert len(whole) > 5000 and len(sent) <= 1000
    assert sent.startswith(whole[:500]) and sent.endswith(whole[-100:]) and "characters cut" in sent
    step = json.loads(session.trace_json())["steps"][0]
    assert step["summary"] == whole and step["model_chars"] == len(sent) and step["tool"] == "list_cells"


def test_the_round_limit_ends_the_turn_with_a_message(server, llm, tools):
    server.responder = lambda body: ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 1.1})])
    events = run(ChatSession(tools, llm, limits=TurnLimits(max_rounds=3)), "zoom forever")
    assert len(server.requests) == 3 and len(of(events, ToolFinished)) == 3
    assert events[-1].stopped == "max_rounds" and "stopped after 3 rounds" in events[-1].text


def test_cancelling_between_tool_calls_stops_the_turn_and_keeps_what_ran(server, llm, tools, viewer):
    cancel = threading.Event()
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 2}), ToolCall("zoom", {"factor": 2})]),
        ScriptedReply("never asked"),
    )
    session = ChatSession(tools, llm)
    events = []
    for event in session.send("zoom twice", cancel):
        events.append(event)
        if isinstance(event, ToolFinished):
            cancel.set()
    assert events[-1].stopped == "cancelled" and len(of(events, ToolFinished)) == 1
    assert viewer.zoom == 2.0 and len(server.requests) == 1
    assert session.memory.exchanges[-1].user == "zoom twice"


def test_cancelling_while_streaming_stops_reading(server, llm, tools):
    server.queue(ScriptedReply("word " * 200))
    cancel = threading.Event()
    events = []
    for event in ChatSession(tools, llm, limits=TurnLimits(stream=True)).send("talk", cancel):
        events.append(event)
        if isinstance(event, TextDelta):
            cancel.set()
    assert events[-1].stopped == "cancelled"
    assert 0 < len(events[-1].text) < len("word " * 200)


def test_memory_carries_earlier_exchanges_into_the_next_request(server, llm, tools):
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 2})]),
        ScriptedReply("Zoomed."),
        ScriptedReply("You asked me to zoom."),
    )
    session = ChatSession(tools, llm)
    run(session, "zoom in")
    run(session, "what did I ask?")
    messages = server.requests[2]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "zoom in"
    assert "zoom(" in messages[2]["content"] and messages[2]["content"].endswith("Zoomed.")


def test_with_commands_first_plain_commands_skip_the_model(server, llm, tools, viewer):
    server.queue("A free-form answer.")
    session = ChatSession(tools, llm, commands_first=True)
    assert list(session.send("zoom in and go to 1 2 3"))[-1].stopped == "offline"
    assert viewer.zoom == 2.0 and server.requests == []
    assert list(session.send("what is in this volume?"))[-1].text == "A free-form answer."
    assert len(server.requests) == 1


def test_an_empty_message_asks_for_one(tools):
    events = list(ChatSession(tools).send("   "))
    assert [e.kind for e in events] == ["text", "final"] and events[-1].text == "Type a message or a command."
