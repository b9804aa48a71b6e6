"""Each session's export is its own: many people pressing "Export notebook" at once each get their own chat.

Every assistant used to write its export to one shared ``<workspace>/agent/notebooks/.export.ipynb``
and read it back, so with concurrent downloads a third of the files were another session's chat.
Here many assistants of one server (one workspace), each with a different chat, export at the same
moment, several times each, as Panel's download button does (its callback, from its own thread).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import nbformat

from components.nwb.assistant import CodePolicy, NwbAssistant

SESSIONS = 20
EXPORTS_EACH = 6
WAVE = 30
"""Downloads started together; the SESSIONS * EXPORTS_EACH downloads come in whole waves."""


def _assistant(workspace, question: str) -> NwbAssistant:
    """An offline assistant with no file open that has been asked ``question``."""
    assistant = NwbAssistant(
        lambda: None,
        lambda: "",
        lambda _selection: None,
        None,
        workspace,
        CodePolicy(False, "off in this test"),
    )
    assistant.chat.send(question)
    return assistant


def _export(assistant: NwbAssistant) -> str:
    """What the Export notebook button downloads: the notebook's text."""
    return assistant._download.callback().read().decode()


def _wait_for(check, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


def test_concurrent_exports_each_get_their_own_chat(workspace):
    questions = [f"How many trials are in session number {i:03d}?" for i in range(SESSIONS)]
    assistants = [_assistant(workspace, question) for question in questions]
    assert _wait_for(lambda: all(q in _export(a) for a, q in zip(assistants, questions))), (
        "a chat was not exported"
    )
    start = threading.Barrier(WAVE, timeout=30)  # each wave of downloads starts at the same moment

    def export(i: int) -> tuple[int, str]:
        start.wait()
        return i, _export(assistants[i])

    with ThreadPoolExecutor(max_workers=WAVE) as pool:
        results = list(pool.map(export, [i for i in range(SESSIONS) for _ in range(EXPORTS_EACH)]))
    wrong = []
    for i, text in results:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        asked = [q for q in questions if q in text]
        if asked != [questions[i]]:
            wrong.append((i, asked))
    assert not wrong, f"{len(wrong)} of {len(results)} exports held another chat, or none: {wrong[:5]}"
    left = sorted(p.name for p in workspace.rglob("*") if p.is_file() and "export" in p.name)
    assert not left, f"export files left in the workspace: {left}"
