"""A question asked while the page is still opening its file waits for the file, then answers."""

from __future__ import annotations

import threading

from engines.agent import ChatSession
from engines.agent.toolsets.nwb import NwbAssistantTools, build_nwb_tools
from engines.nwb.nwbfile import open_nwb

HUMAN = "sub-4_ses-4_ecephys+image.nwb"


def _ask(tools: NwbAssistantTools, text: str) -> list:
    session = ChatSession([build_nwb_tools(tools)], None)
    return [e for e in session.send(text) if e.kind in ("tool_finished", "tool_error")]


def test_a_question_asked_while_the_file_opens_is_answered_once_it_is_open(nwb_data_dir, policy, index_store):
    opened: list = []
    timer = threading.Timer(
        0.5, lambda: opened.append(open_nwb(str(nwb_data_dir / HUMAN), policy, index_store))
    )
    timer.start()
    tools = NwbAssistantTools(
        current_file=lambda: opened[0] if opened else None,
        navigate=lambda _s: None,
        opening=lambda: not opened,
    )
    steps = _ask(tools, "how many trials")
    timer.join()
    assert [s.kind for s in steps] == ["tool_finished"], steps
    assert "90 intervals from" in steps[0].summary


def test_a_file_that_takes_too_long_says_it_is_still_opening():
    tools = NwbAssistantTools(
        current_file=lambda: None, navigate=lambda _s: None, opening=lambda: True, wait_for_open_s=0.3
    )
    steps = _ask(tools, "how many trials")
    assert [s.kind for s in steps] == ["tool_error"]
    assert "still opening" in steps[0].message


def test_with_no_file_and_none_opening_it_says_so_at_once():
    tools = NwbAssistantTools(current_file=lambda: None, navigate=lambda _s: None)
    steps = _ask(tools, "how many trials")
    assert [s.kind for s in steps] == ["tool_error"]
    assert "No file is open yet" in steps[0].message
