"""Chat sessions: saved and reloaded conversations, memory bounds, one turn at a time, running off the UI
thread."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from engines.agent import (
    AgentError,
    ChatSession,
    ConversationNotFound,
    ConversationStore,
    Exchange,
    FinalAnswer,
    InteractionMemory,
    TextDelta,
    ToolFinished,
    ToolStep,
)
from engines.agent.store import MAX_STEP_CHARS
from tests.support.openai_server import ScriptedReply, ToolCall


def test_a_conversation_is_saved_and_reloads_into_a_new_session(workspace, tools, viewer):
    first = ChatSession(tools, None, workspace, page="neuroglancer")
    list(first.send("go to 1 2 3 and top 2 cells by volume"))
    list(first.send("make coffee"))
    [info] = first.conversations()
    assert (
        info.page == "neuroglancer"
        and info.title == "go to 1 2 3 and top 2 cells by volume"
        and info.turns == 2
    )
    assert info.model == "offline command planner"

    second = ChatSession(tools, None, workspace, page="neuroglancer")
    conversation = second.load_conversation(info.id)
    assert [t.user for t in conversation.turns] == ["go to 1 2 3 and top 2 cells by volume", "make coffee"]
    assert [t.stopped for t in conversation.turns] == ["offline", "not_understood"]
    steps = conversation.turns[0].steps
    assert [s.tool for s in steps] == ["set_position", "top_cells"]
    assert steps[0].arguments == {"x": 1.0, "y": 2.0, "z": 3.0}
    assert steps[1].artifact == {
        "kind": "table",
        "title": "top 2 by volume",
        "rows": 2,
        "columns": ["cell_id", "x", "y", "z", "volume", "cell_type"],
    }
    assert [e.user for e in second.memory.exchanges] == [t.user for t in conversation.turns]
    assert len(second.trace) == 2
    list(second.send("zoom in"))
    reloaded = ConversationStore(workspace).load(info.id)
    assert [t.turn for t in reloaded.turns] == [1, 2, 3]


def test_one_chat_continued_from_two_tabs_keeps_both_turns(workspace, tools):
    """Two tabs (or two servers) that loaded one chat both send a message: neither replaces the other's
    turn."""
    first = ChatSession(tools, None, workspace, page="neuroglancer")
    list(first.send("go to 1 2 3"))
    conversation_id = first.conversation_id
    tabs = [ChatSession(tools, None, workspace, page="neuroglancer") for _ in range(2)]
    for tab in tabs:
        tab.load_conversation(conversation_id)
    list(tabs[0].send("zoom in"))
    list(tabs[1].send("zoom out"))
    list(tabs[0].send("make coffee"))
    turns = ConversationStore(workspace).load(conversation_id).turns
    assert [(t.turn, t.user) for t in turns] == [
        (1, "go to 1 2 3"),
        (2, "zoom in"),
        (3, "zoom out"),
        (4, "make coffee"),
    ]
    assert all(t.stopped for t in turns)  # each answer was saved on its own turn


def test_conversations_are_listed_per_page_newest_first(workspace, tools):
    nwb = ChatSession(tools, None, workspace, page="nwb")
    list(nwb.send("zoom in"))
    nwb.new_conversation()
    list(nwb.send("zoom out"))
    list(ChatSession(tools, None, workspace, page="neuroglancer").send("help"))
    assert [c.title for c in nwb.conversations()] == ["zoom out", "zoom in"]
    assert len(ConversationStore(workspace).list_conversations()) == 3


def test_the_store_lives_in_the_workspace_agent_folder(workspace, tools):
    list(ChatSession(tools, None, workspace).send("zoom in"))
    with sqlite3.connect(workspace / "agent" / "conversations.sqlite") as db:
        assert db.execute("SELECT user_text, answer FROM turns").fetchall() == [
            ("zoom in", "Zoomed by 2 (zoom is now 2).")
        ]


def test_loading_an_unknown_conversation_says_so(workspace, tools):
    with pytest.raises(ConversationNotFound, match="No saved conversation 'nope'"):
        ChatSession(tools, None, workspace).load_conversation("nope")


def test_a_turn_closed_early_is_still_saved_and_remembered(workspace, server, llm, tools):
    server.queue(ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 2})]))
    session = ChatSession(tools, llm, workspace)
    events = session.send("zoom in")
    for event in events:
        if isinstance(event, ToolFinished):
            break
    events.close()
    [turn] = session.store.load(session.conversation_id).turns
    assert turn.stopped == "cancelled" and [s.tool for s in turn.steps] == ["zoom"]
    assert session.memory.exchanges[-1].user == "zoom in"
    server.queue("Hello again.")
    assert list(session.send("hi"))[-1].text == "Hello again."  # the session is free again


def test_a_turn_never_started_does_not_block_the_session(tools):
    session = ChatSession(tools)
    session.send("zoom in").close()
    assert list(session.send("zoom in"))[-1].stopped == "offline"


def test_one_turn_at_a_time(tools):
    session = ChatSession(tools)
    events = session.send("zoom in")
    next(events)
    with pytest.raises(AgentError, match="still being written"):
        session.send("zoom out")
    with pytest.raises(AgentError, match="still being written"):
        session.new_conversation()
    list(events)
    assert list(session.send("zoom out"))[-1].stopped == "offline"


def test_a_run_on_a_worker_thread_hands_every_event_to_the_callback(server, llm, tools):
    server.queue(
        ScriptedReply("Moving.", tool_calls=[ToolCall("set_position", {"x": 5, "y": 6})]),
        ScriptedReply("There."),
    )
    seen: list = []
    threads: set[str] = set()
    done = threading.Event()

    def on_event(event):
        seen.append(event)
        threads.add(threading.current_thread().name)

    run = ChatSession(tools, llm).start("move", on_event, on_done=lambda final: done.set())
    final = run.join(10)
    assert done.wait(1) and run.done
    assert isinstance(final, FinalAnswer) and final.text == "Moving.\n\nThere."
    assert seen[-1] is final and threads == {"chat-turn"}


def test_a_run_can_be_cancelled_from_the_ui_thread(server, llm, tools):
    server.stream_chunk_delay_s = 0.02
    server.queue(ScriptedReply("word " * 100))
    first_text = threading.Event()
    run = ChatSession(tools, llm).start(
        "talk", lambda e: first_text.set() if isinstance(e, TextDelta) else None
    )
    assert first_text.wait(5)
    run.cancel()
    final = run.join(5)
    assert final.stopped == "cancelled" and len(final.text) < len("word " * 100)


def test_a_failing_event_handler_does_not_stop_the_turn(tools, viewer):
    def broken(event):
        raise RuntimeError("render bug")

    final = ChatSession(tools).start("zoom in and zoom in", broken).join(5)
    assert final.stopped == "offline" and viewer.zoom == 4.0


def test_memory_is_bounded_by_count():
    memory = InteractionMemory(max_exchanges=3, max_chars=10_000)
    for i in range(5):
        memory.add(Exchange(f"q{i}", f"a{i}"))
    assert [e.user for e in memory.exchanges] == ["q2", "q3", "q4"]
    assert [m["content"] for m in memory.messages()][:2] == ["q2", "a2"]


def test_memory_is_bounded_by_characters_dropping_the_oldest():
    memory = InteractionMemory(max_exchanges=100, max_chars=1000)
    for i in range(10):
        memory.add(Exchange(f"question {i}", "x" * 200, (f"zoom({i}) -> ok",)))
    assert memory.chars <= 1000
    assert memory.exchanges[-1].user == "question 9" and memory.exchanges[0].user == "question 6"


def test_one_huge_exchange_is_cut_to_fit_rather_than_lost():
    memory = InteractionMemory(max_exchanges=10, max_chars=2000)
    memory.add(Exchange("list everything", "row\n" * 5000, tuple(f"step {i}" for i in range(300))))
    [kept] = memory.exchanges
    assert kept.user == "list everything" and kept.chars <= 2000 and "characters cut" in kept.answer


def test_session_memory_limits_apply_to_what_the_model_is_sent(server, llm, tools):
    session = ChatSession(tools, llm, memory=InteractionMemory(max_exchanges=2))
    server.responder = lambda body: ScriptedReply("ok")
    for i in range(4):
        list(session.send(f"message {i}"))
    users = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]
    assert users == ["message 1", "message 2", "message 3"]


def test_the_trace_downloads_as_json_with_every_step(tools):
    session = ChatSession(tools)
    list(session.send("go to 1 2 3 and share the view"))
    list(session.send("hide the cortex"))
    steps = json.loads(session.trace_json())["steps"]
    assert [(s["turn"], s["tool"], s["status"]) for s in steps] == [
        (1, "set_position", "ok"),
        (1, "share_view", "ok"),
        (2, "set_visibility", "failed"),
    ]
    assert steps[1]["artifact"]["kind"] == "viewer_link" and steps[0]["source"] == "planner"


def test_a_huge_step_is_saved_without_its_data(workspace):
    store = ConversationStore(workspace)
    conversation = store.create("chat")
    store.begin_turn(conversation, 1, "dump")
    step = ToolStep(1, "c1", "dump", {}, "ok", "s" * (MAX_STEP_CHARS + 10), data=list(range(100_000)))
    store.finish_turn(conversation, 1, "done", "answered", [step], {})
    saved = store.load(conversation).turns[0].steps[0]
    assert saved.data.startswith("(not saved:") and len(saved.summary) == MAX_STEP_CHARS // 2


def test_the_model_context_has_the_page_summaries_and_survives_a_broken_one(server, llm, tools, viewer):
    def tables() -> str:
        raise OSError("table store offline")

    server.queue("ok")
    list(
        ChatSession(
            tools,
            llm,
            system_prompt="You drive a viewer.",
            state_summary=viewer.summary,
            table_summaries=tables,
        ).send("hi")
    )
    system = server.requests[0]["messages"][0]["content"]
    assert system.startswith("You drive a viewer.")
    assert "## Current state\nPosition x=0, y=0, z=0; zoom 1" in system
    assert "## Tables\n(unavailable: OSError: table store offline)" in system
