"""The chat says a turn is done (Stop greys out) only once Enter sends again.

Panel's feed blocks Enter while its callback runs and lifts the block in its clean-up, which can
come after a fast turn's last event. Stop greyed out first told the user, and the browser tests,
that the chat was ready while the next Enter was still ignored (a CI run lost a question so).
"""

from __future__ import annotations

import asyncio
import time

from components.agent_chat import AgentChat
from engines.agent import ChatSession
from engines.agent.toolsets import build_table_tools
from engines.io.policy import SourcePolicy
from engines.tables import TableWorkspace


def _chat(workspace) -> AgentChat:
    tables = TableWorkspace(SourcePolicy(workspace=workspace, allowed_roots=(workspace,)))
    return AgentChat(ChatSession([build_table_tools(tables, lambda: None)], None, workspace, page="test"))


def test_stop_greys_out_only_after_the_input_takes_enter_again(workspace):
    chat = _chat(workspace)
    feed = chat._feed
    seen: list[tuple[bool, bool]] = []  # (Stop disabled, Enter blocked) at each change of Stop
    chat._stop.param.watch(lambda e: seen.append((e.new, feed.disabled)), "disabled")

    feed.send("help", user="You", respond=False)
    asyncio.run(feed._prepare_response())  # Panel's own callback path: block, run the callback, lift
    deadline = time.monotonic() + 20
    while chat._run is not None and time.monotonic() < deadline:  # the turn runs on a thread of its own
        time.sleep(0.02)

    assert seen, "the turn never touched Stop"
    assert seen[-1][0] is True, "Stop still enabled after the turn"
    assert all(not blocked for disabled, blocked in seen if disabled), seen
    assert not feed.disabled
    assert [m.user for m in feed.objects] == ["You", "Assistant"]  # the question and its answer
